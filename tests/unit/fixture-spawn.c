/* SPDX-License-Identifier: MIT */
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>

#include "fixture-spawn.h"

/* Arguments may hold hostile text (CR, LF, ESC): one TAP comment line. */
static void
log_argv (const char *what,
          const char * const *argv)
{
  g_autofree char *cmdline = g_strjoinv (" ", (char **) argv);
  g_autofree char *shown = g_strescape (cmdline, NULL);

  g_test_message ("%s: %s", what, shown);
}

/* Run argv and wait; FALSE (error set) only when it could not start. */
static gboolean
run_and_wait (const char * const *argv,
              char **envp,
              char **out,
              int *status,
              GError **error)
{
  g_autofree char *stdout_text = NULL, *stderr_text = NULL;

  log_argv ("run", argv);
  if (!g_spawn_sync (NULL, (char **) argv, envp, G_SPAWN_SEARCH_PATH | G_SPAWN_STDIN_FROM_DEV_NULL,
                     NULL, NULL, &stdout_text, &stderr_text, status, error))
    return FALSE;
  if (!g_spawn_check_wait_status (*status, NULL))
    g_test_message ("%s output:\n%s%s", argv[0], stdout_text, stderr_text);
  if (out)
    *out = g_steal_pointer (&stdout_text);
  return TRUE;
}

gboolean
fixture_spawn_sync (const char * const *argv,
                    char **envp,
                    char **out,
                    GError **error)
{
  int status;

  return run_and_wait (argv, envp, out, &status, error) &&
         g_spawn_check_wait_status (status, error);
}

char *
fixture_run_status (const char *cmdline,
                    gboolean *ok)
{
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) argv = NULL;
  char *out = NULL;
  int status;

  if (!g_shell_parse_argv (cmdline, NULL, &argv, &error) ||
      !run_and_wait ((const char * const *) argv, NULL, &out, &status, &error))
    g_error ("%s: %s", cmdline, error->message);
  *ok = g_spawn_check_wait_status (status, NULL);
  return out;
}

char *
fixture_run (const char *cmdline)
{
  gboolean ok;
  char *out = fixture_run_status (cmdline, &ok);

  if (!ok)
    g_error ("%s failed", cmdline);
  return out;
}

void
fixture_rm_rf (const char *path)
{
  const char *argv[] = { "rm", "-rf", "--", path, NULL };
  g_autoptr(GError) error = NULL;

  if (!fixture_spawn_sync (argv, NULL, NULL, &error))
    g_error ("rm -rf %s: %s", path, error->message);
}

char *
fixture_line_value (const char *line,
                    const char *key,
                    const char *who)
{
  size_t klen = strlen (key);

  if (!line)
    g_error ("%s ended its output; expected a %s line", who, key);
  if (strncmp (line, key, klen) != 0 || line[klen] != ' ')
    g_error ("expected a %s line from %s, got \"%s\"", key, who, line);
  return g_strdup (line + klen + 1);
}

/* In the child before exec. */
static void
die_with_the_test (gpointer unused)
{
  prctl (PR_SET_PDEATHSIG, SIGKILL);
}

GSubprocess *
fixture_child_new (GSubprocessFlags flags,
                   const char * const *argv,
                   GError **error)
{
  g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new (flags);

  log_argv ("spawn", argv);
  g_subprocess_launcher_set_child_setup (launcher, die_with_the_test, NULL, NULL);
  return g_subprocess_launcher_spawnv (launcher, argv, error);
}

void
fixture_child_stop (GSubprocess *child)
{
  g_subprocess_force_exit (child);
  g_subprocess_wait (child, NULL, NULL);
}
