/* SPDX-License-Identifier: MIT */
#include <stdio.h>
int main(void) { fprintf(stderr, "hyphaed: not yet\n"); return 1; }
