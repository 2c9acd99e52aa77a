/* SPDX-License-Identifier: MIT */
/* Writing an 8-bit RGB image as PNG with libpng (used by render and plot). */
#ifndef DASHI_PNG_WRITE_H
#define DASHI_PNG_WRITE_H

#include <stddef.h>
#include <stdint.h>

#include "errors.h"

/* rgb holds h rows of w pixels, 3 bytes each. `field` names the output argument in errors. */
int png_write_rgb(const char *path, const uint8_t *rgb, size_t w, size_t h, const char *field,
                  struct dashi_error *err);

#endif
