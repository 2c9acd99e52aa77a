/* SPDX-License-Identifier: MIT */
#include "render.h"

#include <math.h>
#include <stdlib.h>

#include "npy.h"

int render_load(const char *npy_path, struct render_field *f, struct dashi_error *err)
{
    struct npy_info info;
    void *data = NULL;
    f->data = NULL;
    if (npy_load(npy_path, &info, &data, err) != 0)
        return -1;
    if (info.dtype != NPY_F8 || (info.ndim != 2 && info.ndim != 3)) {
        free(data);
        return dashi_fail(err, DASHI_E_BAD_VALUE, "npy", "expected an N×M or F×N×M float64 array");
    }
    f->ny = info.shape[info.ndim - 2];
    f->nx = info.shape[info.ndim - 1];
    f->frames = info.ndim == 3 ? info.shape[0] : 1;
    if (f->nx == 0 || f->ny == 0 || f->frames == 0 || f->nx > (1u << 15) || f->ny > (1u << 15)) {
        free(data);
        return dashi_fail(err, DASHI_E_BAD_VALUE, "npy", "field size %zux%zu (%zu frames) out of range", f->nx, f->ny,
                          f->frames);
    }
    f->data = data;
    return 0;
}

void render_field_free(struct render_field *f)
{
    free(f->data);
    f->data = NULL;
}

void render_range(const double *field, size_t n, enum cmap_kind cmap, double vmax, double *lo, double *hi)
{
    double mn = INFINITY, mx = -INFINITY, m = 0;
    for (size_t i = 0; i < n; i++)
        if (isfinite(field[i])) {
            mn = fmin(mn, field[i]);
            mx = fmax(mx, field[i]);
            m = fmax(m, fabs(field[i]));
        }
    if (cmap == CMAP_DIVERGING) {
        double v = vmax > 0 ? vmax : m;
        *lo = -v;
        *hi = v;
    } else {
        *lo = isfinite(mn) ? mn : 0;
        *hi = vmax > 0 ? vmax : isfinite(mx) ? mx : 0;
    }
}

uint8_t *render_colours(const double *field, size_t n, enum cmap_kind cmap, double lo, double hi)
{
    uint8_t *rgb = malloc(n * 3);
    if (rgb)
        for (size_t i = 0; i < n; i++)
            cmap_colour(cmap, field[i], lo, hi, rgb + 3 * i);
    return rgb;
}

int render_figure(const struct render_field *f, size_t frame, const struct render_style *style,
                  const struct atom_mark *marks, size_t nmarks, const char *out, struct render_result *res,
                  struct dashi_error *err)
{
    size_t n = f->nx * f->ny;
    const double *field = f->data + frame * n;
    render_range(field, n, style->cmap, style->vmax, &res->lo, &res->hi);
    uint8_t *rgb = render_colours(field, n, style->cmap, res->lo, res->hi);
    if (!rgb)
        return dashi_fail(err, DASHI_E_TOO_LARGE, "npy", "out of memory for a %zux%zu image", f->nx, f->ny);
    if (nmarks > 0) {
        struct draw_canvas canvas = {rgb, (int)f->nx, (int)f->ny, true};
        overlay_atoms(&canvas, marks, nmarks, 2 * M_PI);
    }
    res->panel = (struct fig_panel){FIG_PANEL_LEFT, FIG_PANEL_TOP, style->size, 2 * M_PI, style->cmap, res->lo,
                                    res->hi, style->title, 1};
    struct fig fig;
    int rc = fig_open(&fig, out, "o", FIG_PANEL_LEFT + style->size + FIG_PANEL_RIGHT,
                      FIG_PANEL_TOP + style->size + FIG_PANEL_BOTTOM, err);
    if (rc == 0) {
        struct fig_image img = {rgb, (int)f->nx, (int)f->ny};
        rc = fig_field_panel(&fig, &img, &res->panel, err);
        if (fig_close(&fig, rc == 0 ? err : NULL) != 0)
            rc = -1;
    }
    free(rgb);
    return rc;
}
