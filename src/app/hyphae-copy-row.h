/* SPDX-License-Identifier: MIT */
#pragma once

#include <adwaita.h>

G_BEGIN_DECLS

/*
 * A row showing one value (a name, an address) with a flat copy button that
 * activates app.copy with it. Properties: value (the subtitle; the row hides
 * itself while it is empty) and copy-label (the button's accessible label and
 * tooltip, "Copy MagicDNS name": icon-only buttons need one).
 */
#define HYPHAE_TYPE_COPY_ROW (hyphae_copy_row_get_type ())
G_DECLARE_FINAL_TYPE (HyphaeCopyRow, hyphae_copy_row, HYPHAE, COPY_ROW, AdwActionRow)

void hyphae_copy_row_set_value (HyphaeCopyRow *self,
                                const char *value);
void hyphae_copy_row_set_copy_label (HyphaeCopyRow *self,
                                     const char *label);

G_END_DECLS
