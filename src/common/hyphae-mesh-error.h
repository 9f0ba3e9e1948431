/* SPDX-License-Identifier: MIT */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/*
 * The typed errors of io.github.hyphae.Mesh1 (data/io.github.hyphae.Mesh1.xml),
 * registered as a GDBus error domain: a client that has called
 * hyphae_mesh_error_quark() (the macro does) gets HYPHAE_MESH_ERROR GErrors
 * from the generated proxy instead of G_IO_ERROR_DBUS_ERROR.
 */
#define HYPHAE_MESH_ERROR (hyphae_mesh_error_quark ())
GQuark hyphae_mesh_error_quark (void);

typedef enum {
  HYPHAE_MESH_ERROR_NOT_AUTHORIZED,    /* io.github.hyphae.Mesh1.Error.NotAuthorized */
  HYPHAE_MESH_ERROR_NEEDS_LOGIN,       /* ….NeedsLogin */
  HYPHAE_MESH_ERROR_UNREACHABLE,       /* ….Unreachable */
  HYPHAE_MESH_ERROR_BAD_AUTH_KEY,      /* ….BadAuthKey */
  HYPHAE_MESH_ERROR_INVALID_ARGUMENT,  /* ….InvalidArgument */
  HYPHAE_MESH_ERROR_FAILED,            /* ….Failed */
  HYPHAE_MESH_ERROR_ENGINE_FAILED,     /* ….EngineFailed: engine or network setup failed */
  HYPHAE_MESH_ERROR_TOO_MANY_REQUESTS, /* ….TooManyRequests: too many polkit checks pending */
  HYPHAE_MESH_ERROR_NOT_FOUND,         /* ….NotFound: no such peer (Ping) */
  HYPHAE_MESH_ERROR_TIMED_OUT,         /* ….TimedOut: no answer in time (Ping) */
} HyphaeMeshError;

#define HYPHAE_MESH_BUS_NAME    "io.github.hyphae.Mesh1"
#define HYPHAE_MESH_OBJECT_PATH "/io/github/hyphae/Mesh1"

G_END_DECLS
