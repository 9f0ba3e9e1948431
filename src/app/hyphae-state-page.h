/* SPDX-License-Identifier: MIT */
#pragma once

#include <adwaita.h>

G_BEGIN_DECLS

/* A status page for a state that blocks the main view (no daemon, signed
 * out in the browser, waiting for approval, stopped, an error, the keyring):
 * icon, title, a description (Pango markup), an optional spinner and up to
 * three buttons, each activating an action (app.* or win.*). */
#define HYPHAE_TYPE_STATE_PAGE (hyphae_state_page_get_type ())
G_DECLARE_FINAL_TYPE (HyphaeStatePage, hyphae_state_page, HYPHAE, STATE_PAGE, AdwBin)

#define HYPHAE_STATE_PAGE_N_BUTTONS 3

typedef struct {
  const char *label;  /* NULL: no button */
  const char *action; /* "app.connect" */
  const char *target; /* a string parameter (app.copy), or NULL */
} HyphaeStatePageButton;

typedef struct {
  const char *icon_name;
  const char *title;
  const char *description; /* markup; NULL for none */
  gboolean spinner;
  /* The first is the suggested action. */
  HyphaeStatePageButton buttons[HYPHAE_STATE_PAGE_N_BUTTONS];
} HyphaeStatePageContent;

GtkWidget *hyphae_state_page_new (void);
void hyphae_state_page_show (HyphaeStatePage *self,
                             const HyphaeStatePageContent *content);

G_END_DECLS
