/* SPDX-License-Identifier: MIT */
#include "draw.h"

#include <stdlib.h>
#include <string.h>

enum { DRAW_MAX_SIDE = 1 << 15 };

int draw_canvas_init(struct draw_canvas *c, int w, int h, struct draw_rgb background, bool wrap,
                     struct dashi_error *err)
{
    memset(c, 0, sizeof *c);
    if (w < 1 || h < 1 || w > DRAW_MAX_SIDE || h > DRAW_MAX_SIDE)
        return dashi_fail(err, DASHI_E_TOO_LARGE, "", "picture size %dx%d out of range (1..%d a side)", w, h,
                          DRAW_MAX_SIDE);
    c->px = malloc((size_t)w * (size_t)h * 3);
    if (!c->px)
        return dashi_fail(err, DASHI_E_TOO_LARGE, "", "out of memory for a %dx%d picture", w, h);
    c->w = w;
    c->h = h;
    c->wrap = wrap;
    for (size_t i = 0; i < (size_t)w * (size_t)h; i++) {
        c->px[3 * i] = background.r;
        c->px[3 * i + 1] = background.g;
        c->px[3 * i + 2] = background.b;
    }
    return 0;
}

void draw_canvas_free(struct draw_canvas *c)
{
    free(c->px);
    c->px = NULL;
}

/* The byte offset of (x, y), or -1 when clipped away. */
static long offset_of(const struct draw_canvas *c, int x, int y)
{
    if (c->wrap) {
        x %= c->w;
        y %= c->h;
        if (x < 0)
            x += c->w;
        if (y < 0)
            y += c->h;
    } else if (x < 0 || y < 0 || x >= c->w || y >= c->h) {
        return -1;
    }
    return ((long)y * c->w + x) * 3;
}

bool draw_get(const struct draw_canvas *c, int x, int y, struct draw_rgb *out)
{
    long o = offset_of(c, x, y);
    if (o < 0)
        return false;
    *out = (struct draw_rgb){c->px[o], c->px[o + 1], c->px[o + 2]};
    return true;
}

void draw_pixel(const struct draw_canvas *c, int x, int y, struct draw_rgb colour)
{
    long o = offset_of(c, x, y);
    if (o < 0)
        return;
    c->px[o] = colour.r;
    c->px[o + 1] = colour.g;
    c->px[o + 2] = colour.b;
}

void draw_line(const struct draw_canvas *c, int x0, int y0, int x1, int y1, struct draw_rgb colour)
{
    int dx = abs(x1 - x0), dy = -abs(y1 - y0), sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1, e = dx + dy;
    for (;;) {
        draw_pixel(c, x0, y0, colour);
        if (x0 == x1 && y0 == y1)
            break;
        int e2 = 2 * e;
        if (e2 >= dy) {
            e += dy;
            x0 += sx;
        }
        if (e2 <= dx) {
            e += dx;
            y0 += sy;
        }
    }
}

void draw_rect(const struct draw_canvas *c, int x0, int y0, int x1, int y1, struct draw_rgb colour)
{
    if (x1 < x0) {
        int t = x0;
        x0 = x1;
        x1 = t;
    }
    if (y1 < y0) {
        int t = y0;
        y0 = y1;
        y1 = t;
    }
    for (int y = y0; y <= y1; y++)
        for (int x = x0; x <= x1; x++)
            draw_pixel(c, x, y, colour);
}

/* Distances compare in quarter units so half-pixel radii stay integers:
 * d < r + 1/2  <=>  4(dx² + dy²) < (2r + 1)². */
void draw_disc(const struct draw_canvas *c, int cx, int cy, int r, struct draw_rgb colour)
{
    long outer = (2L * r + 1) * (2L * r + 1);
    for (int dy = -r; dy <= r; dy++)
        for (int dx = -r; dx <= r; dx++)
            if (4L * ((long)dx * dx + (long)dy * dy) < outer)
                draw_pixel(c, cx + dx, cy + dy, colour);
}

void draw_ring(const struct draw_canvas *c, int cx, int cy, int r, struct draw_rgb colour)
{
    long outer = (2L * r + 1) * (2L * r + 1), inner = r > 0 ? (2L * r - 1) * (2L * r - 1) : 0;
    for (int dy = -r; dy <= r; dy++)
        for (int dx = -r; dx <= r; dx++) {
            long d4 = 4L * ((long)dx * dx + (long)dy * dy);
            if (d4 >= inner && d4 < outer)
                draw_pixel(c, cx + dx, cy + dy, colour);
        }
}
