/* SPDX-License-Identifier: MIT */
#include "colormap.h"

#include <math.h>
#include <string.h>

int cmap_parse(const char *name, enum cmap_kind *kind, struct dashi_error *err)
{
    if (!name || !*name || strcmp(name, "diverging") == 0)
        *kind = CMAP_DIVERGING;
    else if (strcmp(name, "sequential") == 0)
        *kind = CMAP_SEQUENTIAL;
    else
        return dashi_fail(err, DASHI_E_BAD_VALUE, "cmap", "unknown colour map '%s' (known: diverging, sequential)",
                          name);
    return 0;
}

const char *cmap_name(enum cmap_kind kind)
{
    return kind == CMAP_SEQUENTIAL ? "sequential" : "diverging";
}

/* Anchors of the sequential map at s = 0, 1/2, 1, interpolated linearly in RGB. */
static const double SEQUENTIAL[3][3] = {{255, 255, 217}, {65, 182, 196}, {8, 29, 88}};

void cmap_colour(enum cmap_kind kind, double v, double lo, double hi, uint8_t rgb[3])
{
    double s = hi > lo ? (v - lo) / (hi - lo) : 0.5;
    if (!(s == s))
        s = 0.5;
    s = s < 0 ? 0 : s > 1 ? 1 : s;
    double c[3];
    if (kind == CMAP_DIVERGING) {
        /* -1 blue, 0 white, +1 red; on a symmetric scale exactly v / hi (docs/cli.md). */
        double t = hi > lo ? (2 * v - lo - hi) / (hi - lo) : 0;
        t = !(t == t) ? 0 : t < -1 ? -1 : t > 1 ? 1 : t;
        c[0] = 255 * (t < 0 ? 1 + t : 1);
        c[1] = 255 * (1 - fabs(t));
        c[2] = 255 * (t > 0 ? 1 - t : 1);
    } else {
        int k = s < 0.5 ? 0 : 1;
        double u = s < 0.5 ? 2 * s : 2 * s - 1;
        for (int i = 0; i < 3; i++)
            c[i] = SEQUENTIAL[k][i] + u * (SEQUENTIAL[k + 1][i] - SEQUENTIAL[k][i]);
    }
    for (int i = 0; i < 3; i++)
        rgb[i] = (uint8_t)lround(c[i]);
}
