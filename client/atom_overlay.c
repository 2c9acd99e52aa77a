/* SPDX-License-Identifier: MIT */
#include "atom_overlay.h"

#include <math.h>

int overlay_pixel(double v, double box, int n)
{
    double k = floor(v / box * n + 0.5);
    if (!isfinite(k))
        return 0;
    long p = (long)fmod(k, (double)n);
    return (int)(p < 0 ? p + n : p);
}

int overlay_radius(double eps, double box, int w)
{
    double r = eps / box * w;
    if (!(r >= OVERLAY_MIN_RADIUS)) /* NaN too */
        return OVERLAY_MIN_RADIUS;
    return r > OVERLAY_MAX_RADIUS ? OVERLAY_MAX_RADIUS : (int)lround(r);
}

/* About half the radius, so the glyph keeps a gap of field colour to the ring. */
int overlay_arm(int r)
{
    int a = (r - 1) / 2;
    return a < 1 ? 1 : a;
}

static void marker(const struct draw_canvas *c, int x, int y, int r, int sigma)
{
    int a = overlay_arm(r);
    draw_ring(c, x, y, r + 1, OVERLAY_HALO);
    draw_ring(c, x, y, r, OVERLAY_INK);
    draw_rect(c, x - a, y, x + a, y, OVERLAY_INK);
    if (sigma > 0)
        draw_rect(c, x, y - a, x, y + a, OVERLAY_INK);
}

void overlay_atoms(const struct draw_canvas *c, const struct atom_mark *atoms, size_t n, double box)
{
    for (size_t k = n; k-- > 0;) {
        const struct atom_mark *m = &atoms[k];
        marker(c, overlay_pixel(m->cx, box, c->w), overlay_pixel(m->cy, box, c->h), overlay_radius(m->eps, box, c->w),
               m->sigma);
    }
}
