/* SPDX-License-Identifier: MIT */
/* The drawing primitives (client/draw.c), the atom markers drawn with them
 * (client/atom_overlay.c) and the lineage picture's layout (client/lineage_png.c). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "atom_overlay.h"
#include "draw.h"
#include "lineage_png.h"

static const struct draw_rgb WHITE = {255, 255, 255}, INK = {10, 20, 30}, RED = {255, 0, 0};

static bool same(struct draw_rgb a, struct draw_rgb b) { return a.r == b.r && a.g == b.g && a.b == b.b; }

static bool is(const struct draw_canvas *c, int x, int y, struct draw_rgb colour)
{
    struct draw_rgb got;
    return draw_get(c, x, y, &got) && same(got, colour);
}

static int count(const struct draw_canvas *c, struct draw_rgb colour)
{
    int n = 0;
    for (int y = 0; y < c->h; y++)
        for (int x = 0; x < c->w; x++)
            n += is(c, x, y, colour);
    return n;
}

/* The periodic offset of a from b on a side of n (in [-n/2, n/2)). */
static int wrapped(int a, int b, int n)
{
    int d = ((a - b) % n + n) % n;
    return d >= n / 2 ? d - n : d;
}

static void canvas(struct draw_canvas *c, int w, int h, bool wrap)
{
    struct dashi_error err;
    assert_int_equal(draw_canvas_init(c, w, h, WHITE, wrap, &err), 0);
}

/* Both ends, max(|dx|,|dy|) + 1 pixels, each within half a pixel of the segment (measured
 * along the minor axis) and inside its bounding box; nothing else. */
static void lines(void **state)
{
    (void)state;
    static const int seg[][4] = {{3, 4, 40, 17}, {40, 17, 3, 4}, {5, 38, 9, 2}, {30, 30, 30, 30},
                                 {0, 10, 47, 10}, {12, 0, 12, 39}, {44, 1, 2, 39}, {7, 7, 20, 20}};
    for (size_t s = 0; s < sizeof seg / sizeof seg[0]; s++) {
        int x0 = seg[s][0], y0 = seg[s][1], x1 = seg[s][2], y1 = seg[s][3];
        struct draw_canvas c;
        canvas(&c, 48, 40, false);
        draw_line(&c, x0, y0, x1, y1, INK);
        assert_true(is(&c, x0, y0, INK));
        assert_true(is(&c, x1, y1, INK));
        int adx = abs(x1 - x0), ady = abs(y1 - y0);
        assert_int_equal(count(&c, INK), (adx > ady ? adx : ady) + 1);
        for (int y = 0; y < c.h; y++)
            for (int x = 0; x < c.w; x++) {
                if (!is(&c, x, y, INK))
                    continue;
                assert_true(x >= (x0 < x1 ? x0 : x1) && x <= (x0 > x1 ? x0 : x1));
                assert_true(y >= (y0 < y1 ? y0 : y1) && y <= (y0 > y1 ? y0 : y1));
                if (adx >= ady && adx > 0) { /* the segment's y at this x */
                    double ty = y0 + (double)(y1 - y0) * (x - x0) / (x1 - x0);
                    assert_true(fabs(y - ty) <= 0.5 + 1e-9);
                } else if (ady > 0) {
                    double tx = x0 + (double)(x1 - x0) * (y - y0) / (y1 - y0);
                    assert_true(fabs(x - tx) <= 0.5 + 1e-9);
                }
            }
        draw_canvas_free(&c);
    }
}

/* A clipped canvas drops what falls outside; a wrapping one brings it in from the other side. */
static void clipping_and_wrapping(void **state)
{
    (void)state;
    struct draw_canvas clip, wrap;
    canvas(&clip, 16, 16, false);
    canvas(&wrap, 16, 16, true);
    draw_line(&clip, -5, 3, 5, 3, INK);
    draw_line(&wrap, -5, 3, 5, 3, INK);
    assert_int_equal(count(&clip, INK), 6);
    assert_int_equal(count(&wrap, INK), 11);
    assert_true(is(&wrap, 11, 3, INK) && is(&wrap, 15, 3, INK) && !is(&wrap, 10, 3, INK));
    struct draw_rgb out;
    assert_false(draw_get(&clip, -1, 0, &out));
    assert_true(draw_get(&wrap, -1, 0, &out) && same(out, WHITE));
    draw_canvas_free(&clip);
    draw_canvas_free(&wrap);
}

/* Discs and rings: the pixel sets their definitions give, whole in the middle, split
 * across the four corners when centred on pixel (0, 0) of a wrapping canvas. */
static void discs_and_rings(void **state)
{
    (void)state;
    for (int r = 0; r <= 6; r++) {
        struct draw_canvas mid, corner, clip;
        canvas(&mid, 32, 32, true);
        canvas(&corner, 32, 32, true);
        canvas(&clip, 32, 32, false);
        draw_disc(&mid, 16, 16, r, INK);
        draw_disc(&corner, 0, 0, r, INK);
        draw_disc(&clip, 0, 0, r, INK);
        int expect = 0, quarter = 0; /* pixels with d < r + 1/2; those with dx, dy >= 0 */
        for (int dy = -r; dy <= r; dy++)
            for (int dx = -r; dx <= r; dx++)
                if ((dx * dx + dy * dy) < (r + 0.5) * (r + 0.5)) {
                    expect++;
                    quarter += dx >= 0 && dy >= 0;
                    assert_true(is(&mid, 16 + dx, 16 + dy, INK));
                    assert_true(is(&corner, (32 + dx) % 32, (32 + dy) % 32, INK));
                }
        assert_int_equal(count(&mid, INK), expect);
        assert_int_equal(count(&corner, INK), expect);
        assert_int_equal(count(&clip, INK), quarter);

        struct draw_canvas ring;
        canvas(&ring, 32, 32, true);
        draw_ring(&ring, 31, 5, r, RED); /* across the x seam */
        int n = 0;
        for (int y = 0; y < 32; y++)
            for (int x = 0; x < 32; x++) {
                if (!is(&ring, x, y, RED))
                    continue;
                n++;
                int dx = wrapped(x, 31, 32), dy = wrapped(y, 5, 32);
                assert_int_equal(lround(sqrt(dx * dx + dy * dy) - 1e-9), r);
            }
        assert_true(n >= (r == 0 ? 1 : 4 * r));
        /* Closed: the inside (centre) cannot reach the outside through 4-connected
         * non-ring pixels. */
        if (r >= 2) {
            char seen[32][32] = {{0}};
            int stack[1024][2], top = 0;
            stack[top][0] = 31;
            stack[top++][1] = 5;
            seen[5][31] = 1;
            bool escaped = false;
            while (top > 0) {
                top--;
                int x = stack[top][0], y = stack[top][1];
                int dx = wrapped(x, 31, 32), dy = wrapped(y, 5, 32);
                if (dx * dx + dy * dy > (r + 1) * (r + 1))
                    escaped = true;
                static const int step[4][2] = {{1, 0}, {-1, 0}, {0, 1}, {0, -1}};
                for (int k = 0; k < 4; k++) {
                    int nx = (x + step[k][0] + 32) % 32, ny = (y + step[k][1] + 32) % 32;
                    if (!seen[ny][nx] && !is(&ring, nx, ny, RED)) {
                        seen[ny][nx] = 1;
                        stack[top][0] = nx;
                        stack[top++][1] = ny;
                    }
                }
            }
            assert_false(escaped);
        }
        draw_canvas_free(&mid);
        draw_canvas_free(&corner);
        draw_canvas_free(&clip);
        draw_canvas_free(&ring);
    }
}

static void bad_sizes(void **state)
{
    (void)state;
    struct draw_canvas c;
    struct dashi_error err;
    assert_int_equal(draw_canvas_init(&c, 0, 5, WHITE, false, &err), -1);
    assert_int_equal(err.code, DASHI_E_TOO_LARGE);
    assert_int_equal(draw_canvas_init(&c, 5, 1 << 20, WHITE, false, &err), -1);
}

/* Markers land on the centroid's pixel (x = column from cx, y = row from cy), carry their
 * sign, and wrap across the seam. */
static void atom_markers(void **state)
{
    (void)state;
    const double box = 2 * M_PI, dx = box / 64;
    assert_int_equal(overlay_pixel(10 * dx, box, 64), 10);
    assert_int_equal(overlay_pixel(10.49 * dx, box, 64), 10);
    assert_int_equal(overlay_pixel(10.51 * dx, box, 64), 11);
    assert_int_equal(overlay_pixel(box - 0.2 * dx, box, 64), 0);
    assert_int_equal(overlay_pixel(63 * dx, box, 128), 126); /* a finer picture of the same box */
    assert_int_equal(overlay_radius(0.01, box, 64), OVERLAY_MIN_RADIUS);
    assert_int_equal(overlay_radius(5.4 * dx, box, 64), 5);
    assert_int_equal(overlay_radius(1e9, box, 64), OVERLAY_MAX_RADIUS);

    struct draw_canvas c;
    struct dashi_error err;
    assert_int_equal(draw_canvas_init(&c, 64, 64, RED, true, &err), 0);
    struct atom_mark m[2] = {{.cx = 10 * dx, .cy = 20 * dx, .eps = 5 * dx, .sigma = 1},
                             {.cx = 63 * dx, .cy = 0.1 * dx, .eps = 0.5 * dx, .sigma = -1}};
    overlay_atoms(&c, m, 2, box);
    /* the + atom: centre, both strokes, the ring at radius 5 */
    int a = overlay_arm(5);
    assert_true(is(&c, 10, 20, OVERLAY_INK));
    assert_true(is(&c, 10 - a, 20, OVERLAY_INK) && is(&c, 10 + a, 20, OVERLAY_INK));
    assert_true(is(&c, 10, 20 - a, OVERLAY_INK) && is(&c, 10, 20 + a, OVERLAY_INK));
    assert_true(is(&c, 15, 20, OVERLAY_INK) && is(&c, 10, 15, OVERLAY_INK) && is(&c, 5, 20, OVERLAY_INK));
    assert_true(is(&c, 16, 20, OVERLAY_HALO) && is(&c, 14, 20, RED) && is(&c, 10 + a + 1, 20, RED));
    assert_true(is(&c, 10, 27, RED) && is(&c, 30, 30, RED)); /* the field elsewhere */
    /* the − atom at (63, 0), smallest ring (3): its bar only, ring across both seams */
    assert_true(is(&c, 63, 0, OVERLAY_INK) && is(&c, 0, 0, OVERLAY_INK) && is(&c, 62, 0, OVERLAY_INK));
    assert_true(is(&c, 63, 63, RED) && is(&c, 63, 1, RED)); /* no vertical stroke */
    assert_true(is(&c, 63, 4, OVERLAY_HALO) && is(&c, 3, 0, OVERLAY_HALO));
    assert_true(is(&c, 2, 0, OVERLAY_INK) && is(&c, 63, 3, OVERLAY_INK) && is(&c, 63, 61, OVERLAY_INK) &&
                is(&c, 60, 0, OVERLAY_INK));
    draw_canvas_free(&c);
}

/* A small thread by hand: 0:0 → 1:0 (continuation) → 2:0, 2:1 (split); 2:1 dies;
 * 2:0 and 2:2 (from 1:1, reached through 1:0's merge partner) merge into 3:0. */
static void lineage_layout_and_picture(void **state)
{
    (void)state;
    struct lineage_edge e[] = {
        {0, 0, 1, 0, LEK_CONTINUATION}, {1, 0, 2, 0, LEK_SPLIT}, {1, 0, 2, 1, LEK_SPLIT},
        {2, 1, 3, -1, LEK_DEATH},        {2, 0, 3, 0, LEK_MERGE}, {2, 2, 3, 0, LEK_MERGE},
    };
    size_t ne = sizeof e / sizeof e[0];
    struct lineage_layout l;
    struct dashi_error err;
    assert_int_equal(lineage_collect(0, 0, e, ne, &l, &err), 0);
    assert_int_equal(l.n, 6);
    const double gammas[] = {4, 4, 1, 1, 0.25, 4}; /* by (step, idx) */
    for (size_t k = 0; k < l.n; k++) {
        l.nodes[k].gamma = gammas[k];
        l.nodes[k].sigma = k == 4 ? -1 : 1;
    }
    assert_int_equal(lineage_place(&l, e, ne, false, &err), 0);
    assert_int_equal(l.columns, 4);
    assert_int_equal(l.width, 2 * LINEAGE_MARGIN + 3 * LINEAGE_COLUMN_DX + 1);
    assert_int_equal(l.lanes, 3);
    assert_int_equal(l.height, 2 * LINEAGE_MARGIN + 2 * LINEAGE_LANE_DY + 1);
    /* lanes: the strongest child keeps its parent's lane; 2:2 has no placed neighbour */
    const int lanes[] = {0, 0, 0, 1, 2, 0};
    for (size_t k = 0; k < l.n; k++) {
        assert_int_equal(l.nodes[k].lane, lanes[k]);
        assert_int_equal(l.nodes[k].x, LINEAGE_MARGIN + (int)l.nodes[k].step * LINEAGE_COLUMN_DX);
        assert_int_equal(l.nodes[k].y, LINEAGE_MARGIN + lanes[k] * LINEAGE_LANE_DY);
    }
    assert_int_equal(l.nodes[0].r, LINEAGE_RADIUS_MAX);
    assert_int_equal(l.nodes[2].r, 2 + (int)lround((LINEAGE_RADIUS_MAX - 2) * 0.5));
    struct draw_canvas c;
    assert_int_equal(lineage_draw(&l, e, ne, &c, &err), 0);
    const struct lineage_node *n0 = &l.nodes[0], *n1 = &l.nodes[1], *n21 = &l.nodes[3], *n22 = &l.nodes[4];
    assert_true(is(&c, n0->x, n0->y, LINEAGE_NODE_POSITIVE) && is(&c, n22->x, n22->y, LINEAGE_NODE_NEGATIVE));
    assert_true(is(&c, n0->x + n0->r + 2, n0->y, LINEAGE_START_RING));
    assert_true(is(&c, (n0->x + n1->x) / 2, n0->y, lineage_kind_colour(LEK_CONTINUATION)));
    assert_true(is(&c, (n1->x + n21->x) / 2, (n1->y + n21->y) / 2, lineage_kind_colour(LEK_SPLIT)));
    assert_true(is(&c, n21->x + LINEAGE_COLUMN_DX / 2, n21->y + 3, lineage_kind_colour(LEK_DEATH)));
    /* a quarter of the way along (the midpoint lies under 2:1's death tick) */
    assert_true(is(&c, n22->x + (l.nodes[5].x - n22->x) / 4, n22->y + (l.nodes[5].y - n22->y) / 4,
                   lineage_kind_colour(LEK_MERGE)));
    assert_int_equal(count(&c, lineage_kind_colour(LEK_BIRTH)), 0);
    draw_canvas_free(&c);

    assert_true(lineage_find(&l, 3, 0) != NULL && lineage_find(&l, 3, 1) == NULL);
    lineage_layout_free(&l);

    /* Ancestors of 3:0 (the edges entering each reached atom): lanes from the right, 3:0
     * on lane 0, the birth a stub half a column to the left of 2:2. */
    struct lineage_edge up[] = {{2, 0, 3, 0, LEK_MERGE}, {2, 2, 3, 0, LEK_MERGE}, {1, 0, 2, 0, LEK_SPLIT},
                                {1, -1, 2, 2, LEK_BIRTH}};
    assert_int_equal(lineage_collect(3, 0, up, 4, &l, &err), 0);
    assert_int_equal(l.n, 4);
    assert_int_equal(lineage_place(&l, up, 4, true, &err), 0);
    assert_int_equal(l.columns, 3);
    assert_int_equal(l.lanes, 2);
    assert_int_equal(lineage_find(&l, 3, 0)->lane, 0);
    assert_int_equal(lineage_find(&l, 2, 0)->lane, 0);
    assert_int_equal(lineage_find(&l, 2, 2)->lane, 1);
    assert_int_equal(lineage_find(&l, 1, 0)->lane, 0);
    assert_int_equal(lineage_draw(&l, up, 4, &c, &err), 0);
    const struct lineage_node *b = lineage_find(&l, 2, 2), *s = lineage_find(&l, 3, 0);
    assert_true(is(&c, b->x - LINEAGE_COLUMN_DX / 2, b->y - 3, lineage_kind_colour(LEK_BIRTH)));
    assert_true(is(&c, s->x + s->r + 2, s->y, LINEAGE_START_RING));
    assert_int_equal(count(&c, LINEAGE_NODE_UNKNOWN) > 0, 1); /* no Γ/σ given: grey nodes */
    draw_canvas_free(&c);
    lineage_layout_free(&l);
}

/* Strided steps (every 5th frame) take one column each. */
static void lineage_strided_steps(void **state)
{
    (void)state;
    struct lineage_edge e[] = {{10, 0, 15, 0, LEK_CONTINUATION}, {15, 0, 20, 3, LEK_CONTINUATION}};
    struct lineage_layout l;
    struct dashi_error err;
    assert_int_equal(lineage_collect(10, 0, e, 2, &l, &err), 0);
    assert_int_equal(lineage_place(&l, e, 2, false, &err), 0);
    assert_int_equal(l.columns, 3);
    assert_int_equal(l.lanes, 1);
    assert_int_equal(lineage_find(&l, 20, 3)->x, LINEAGE_MARGIN + 2 * LINEAGE_COLUMN_DX);
    lineage_layout_free(&l);
}

/* A long thread narrows its columns to stay within LINEAGE_MAX_WIDTH; a far longer one is refused. */
static void lineage_long_threads(void **state)
{
    (void)state;
    enum { STEPS = 1000 };
    struct lineage_edge *e = calloc(5 * STEPS, sizeof *e);
    assert_non_null(e);
    for (int k = 0; k < STEPS; k++)
        e[k] = (struct lineage_edge){k, 0, k + 1, 0, LEK_CONTINUATION};
    struct lineage_layout l;
    struct dashi_error err;
    assert_int_equal(lineage_collect(0, 0, e, STEPS, &l, &err), 0);
    assert_int_equal(lineage_place(&l, e, STEPS, false, &err), 0);
    assert_int_equal(l.columns, STEPS + 1);
    assert_true(l.column_dx < LINEAGE_COLUMN_DX && l.column_dx >= 4);
    assert_true(l.width <= LINEAGE_MAX_WIDTH && l.width > LINEAGE_MAX_WIDTH - STEPS);
    assert_int_equal(lineage_find(&l, STEPS, 0)->x, LINEAGE_MARGIN + STEPS * l.column_dx);
    lineage_layout_free(&l);
    /* 5000 frames would need columns under 4 pixels */
    for (int k = 0; k < 5 * STEPS; k++)
        e[k] = (struct lineage_edge){k, 0, k + 1, 0, LEK_CONTINUATION};
    assert_int_equal(lineage_collect(0, 0, e, 5 * STEPS, &l, &err), 0);
    assert_int_equal(lineage_place(&l, e, 5 * STEPS, false, &err), -1);
    assert_int_equal(err.code, DASHI_E_TOO_LARGE);
    assert_string_equal(err.field, "png");
    lineage_layout_free(&l);
    free(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(lines),         cmocka_unit_test(clipping_and_wrapping),
        cmocka_unit_test(discs_and_rings), cmocka_unit_test(bad_sizes),
        cmocka_unit_test(atom_markers),  cmocka_unit_test(lineage_layout_and_picture),
        cmocka_unit_test(lineage_strided_steps), cmocka_unit_test(lineage_long_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
