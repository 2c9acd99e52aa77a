/* SPDX-License-Identifier: MIT */
#include "render.h"

#include "png_write.h"

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


int render_png(const char *npy_path, const char *png_path, int frame, const char *cmap, struct dashi_error *err)
{
    return render_png_marked(npy_path, png_path, frame, cmap, NULL, 0, err);
}

int render_png_marked(const char *npy_path, const char *png_path, int frame, const char *cmap,
                      const struct atom_mark *marks, size_t nmarks, struct dashi_error *err)
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
    if (nmarks > 0) {
        struct draw_canvas canvas = {rgb, (int)w, (int)h, true};
        overlay_atoms(&canvas, marks, nmarks, 2 * M_PI);
    }
    rc = png_write_rgb(png_path, rgb, w, h, "output", err);
out:
    free(rgb);
    free(data);
    return rc;
}
