/* SPDX-License-Identifier: MIT */
/*
 * Running commands and child processes from a test: iproute2 and wg(8) to
 * read the kernel's state back, go build, the Go peers and servers. Every
 * command line goes to the test log; a child dies with the test, so an
 * aborted test leaves none behind.
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* Run argv (PATH searched, stdin from /dev/null, envp NULL: ours) and wait.
 * FALSE, with error, when it could not start, was killed or exited non-zero
 * (G_SPAWN_EXIT_ERROR, the code); then its stdout and stderr go to the test
 * log. *out (if out is not NULL): its stdout, whenever it ran. */
gboolean fixture_spawn_sync (const char * const *argv,
                             char **envp,
                             char **out,
                             GError **error);

/* A command line, split as a shell would ("ip -o addr show dev hyn0",
 * "sh -c '…'"): its stdout; *ok whether it exited 0. It must start. */
char *fixture_run_status (const char *cmdline,
                          gboolean *ok);
/* The same, and it must succeed. */
char *fixture_run (const char *cmdline);

/* rm -rf -- path: a temporary directory the test made; it must succeed. */
void fixture_rm_rf (const char *path);

/* The value of a child's output line that must be "<key> <value>"; line is
 * NULL at the end of its output. who names the child in the failure. */
char *fixture_line_value (const char *line,
                          const char *key,
                          const char *who);

/* Start argv as a child that gets SIGKILL when the test dies; the command
 * line goes to the test log. */
GSubprocess *fixture_child_new (GSubprocessFlags flags,
                                const char * const *argv,
                                GError **error);
/* Kill the child (if it still runs) and reap it. */
void fixture_child_stop (GSubprocess *child);

G_END_DECLS
