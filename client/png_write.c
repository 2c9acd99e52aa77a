/* SPDX-License-Identifier: MIT */
#include "png_write.h"

#include <errno.h>
#include <png.h>
#include <stdio.h>
#include <string.h>

int png_write_rgb(const char *path, const uint8_t *rgb, size_t w, size_t h, const char *field,
                  struct dashi_error *err)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return dashi_fail(err, DASHI_E_IO, field, "cannot create %s: %s", path, strerror(errno));
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!png || !info) {
        png_destroy_write_struct(&png, &info);
        fclose(f);
        return dashi_fail(err, DASHI_E_INTERNAL, "", "libpng: out of memory");
    }
    /* libpng reports errors by longjmp; nothing below allocates outside png/info. */
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        fclose(f);
        return dashi_fail(err, DASHI_E_IO, field, "libpng failed writing %s", path);
    }
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (size_t y = 0; y < h; y++)
        png_write_row(png, (png_const_bytep)(rgb + y * w * 3));
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    if (fclose(f) != 0)
        return dashi_fail(err, DASHI_E_IO, field, "closing %s: %s", path, strerror(errno));
    return 0;
}
