/* SPDX-License-Identifier: MIT */
#include "hyphae-mesh-error.h"

static const GDBusErrorEntry mesh_error_entries[] = {
  { HYPHAE_MESH_ERROR_NOT_AUTHORIZED, "io.github.hyphae.Mesh1.Error.NotAuthorized" },
  { HYPHAE_MESH_ERROR_NEEDS_LOGIN, "io.github.hyphae.Mesh1.Error.NeedsLogin" },
  { HYPHAE_MESH_ERROR_UNREACHABLE, "io.github.hyphae.Mesh1.Error.Unreachable" },
  { HYPHAE_MESH_ERROR_BAD_AUTH_KEY, "io.github.hyphae.Mesh1.Error.BadAuthKey" },
  { HYPHAE_MESH_ERROR_INVALID_ARGUMENT, "io.github.hyphae.Mesh1.Error.InvalidArgument" },
  { HYPHAE_MESH_ERROR_FAILED, "io.github.hyphae.Mesh1.Error.Failed" },
  { HYPHAE_MESH_ERROR_ENGINE_FAILED, "io.github.hyphae.Mesh1.Error.EngineFailed" },
  { HYPHAE_MESH_ERROR_TOO_MANY_REQUESTS, "io.github.hyphae.Mesh1.Error.TooManyRequests" },
  { HYPHAE_MESH_ERROR_NOT_FOUND, "io.github.hyphae.Mesh1.Error.NotFound" },
  { HYPHAE_MESH_ERROR_TIMED_OUT, "io.github.hyphae.Mesh1.Error.TimedOut" },
};

G_STATIC_ASSERT (G_N_ELEMENTS (mesh_error_entries) == HYPHAE_MESH_ERROR_TIMED_OUT + 1);

GQuark
hyphae_mesh_error_quark (void)
{
  static gsize quark;

  g_dbus_error_register_error_domain ("hyphae-mesh-error-quark", &quark,
                                      mesh_error_entries,
                                      G_N_ELEMENTS (mesh_error_entries));
  return (GQuark) quark;
}
