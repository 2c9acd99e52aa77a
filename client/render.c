#include "render.h"

#include <errno.h>
#include <math.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "npy.h"

/* Blue-white-red, symmetric: t in [-1, 1]. */
static void diverging(double t, png_byte rgb[3])
{
    if (!(t == t))
        t = 0; /* NaN: white */
    t = t < -1 ? -1 : t > 1 ? 1 : t;
    double r = t < 0 ? 1 + t : 1, g = 1 - fabs(t), b = t > 0 ? 1 - t : 1;
    rgb[0] = (png_byte)lround(255 * r);
    rgb[1] = (png_byte)lround(255 * g);
    rgb[2] = (png_byte)lround(255 * b);
}

static int write_png(const char *path, const png_byte *rgb, size_t w, size_t h, struct dashi_error *err)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return dashi_fail(err, DASHI_E_IO, "output", "cannot create %s: %s", path, strerror(errno));
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!png || !info) {
        png_destroy_write_struct(&png, &info);
        fclose(f);
        return dashi_fail(err, DASHI_E_INTERNAL, "", "libpng: out of memory");
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        fclose(f);
        return dashi_fail(err, DASHI_E_IO, "output", "libpng failed writing %s", path);
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
        return dashi_fail(err, DASHI_E_IO, "output", "closing %s: %s", path, strerror(errno));
    return 0;
}

int render_png(const char *npy_path, const char *png_path, int frame, const char *cmap, struct dashi_error *err)
{
    if (cmap && strcmp(cmap, "diverging") != 0)
        return dashi_fail(err, DASHI_E_BAD_VALUE, "cmap", "unknown colour map '%s' (known: diverging)", cmap);
    struct npy_info info;
    void *data = NULL;
    if (npy_load(npy_path, &info, &data, err) != 0)
        return -1;
    int rc = -1;
    png_byte *rgb = NULL;
    if (info.dtype != NPY_F8 || (info.ndim != 2 && info.ndim != 3)) {
        dashi_fail(err, DASHI_E_BAD_VALUE, "npy", "expected an N×M or F×N×M float64 array");
        goto out;
    }
    size_t h = info.shape[info.ndim - 2], w = info.shape[info.ndim - 1];
    if (w == 0 || h == 0 || w > (1u << 16) || h > (1u << 16)) {
        dashi_fail(err, DASHI_E_BAD_VALUE, "npy", "image size %zux%zu out of range", w, h);
        goto out;
    }
    const double *field = data;
    if (info.ndim == 3) {
        if (frame < 0 || (uint64_t)frame >= info.shape[0]) {
            dashi_fail(err, DASHI_E_BAD_VALUE, "frame", "frame %d out of range: the trajectory has %llu frames",
                       frame, (unsigned long long)info.shape[0]);
            goto out;
        }
        field += (size_t)frame * w * h;
    }
    double m = 0;
    for (size_t i = 0; i < w * h; i++)
        if (isfinite(field[i]) && fabs(field[i]) > m)
            m = fabs(field[i]);
    rgb = malloc(w * h * 3);
    if (!rgb) {
        dashi_fail(err, DASHI_E_TOO_LARGE, "npy", "out of memory for a %zux%zu image", w, h);
        goto out;
    }
    for (size_t i = 0; i < w * h; i++)
        diverging(m > 0 ? field[i] / m : 0, rgb + 3 * i);
    rc = write_png(png_path, rgb, w, h, err);
out:
    free(rgb);
    free(data);
    return rc;
}
