/* SPDX-License-Identifier: MIT */
/* render_figure: a real PNG (read back with cairo) whose field cells carry the colours of
 * the diverging map, scaled up nearest-neighbour into the panel render_figure reports;
 * the frame, colour map and format errors name their field. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <cairo.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "npy.h"
#include "render.h"

static char dir[64];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/dashi-render-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cairo_debug_reset_static_data();
    return system(cmd) == 0 ? 0 : -1;
}

/* The colour of field cell (row, col) of a rendered figure: its centre pixel. */
static void cell(cairo_surface_t *s, const struct render_result *res, int ny, int nx, int row, int col, uint8_t rgb[3])
{
    int x = (int)(res->panel.x + (col + 0.5) * res->panel.side / nx);
    int y = (int)(res->panel.y + (row + 0.5) * res->panel.side / ny);
    const uint32_t *px = (const uint32_t *)(const void *)(cairo_image_surface_get_data(s) +
                                                          (size_t)y * (size_t)cairo_image_surface_get_stride(s));
    rgb[0] = (uint8_t)(px[x] >> 16);
    rgb[1] = (uint8_t)(px[x] >> 8);
    rgb[2] = (uint8_t)px[x];
}

static void save(const char *name, int ndim, uint64_t *shape, const double *v, char *path, size_t cap)
{
    struct dashi_error err = {0};
    snprintf(path, cap, "%s/%s", dir, name);
    assert_int_equal(npy_save(path, NPY_F8, ndim, shape, v, &err), 0);
}

static void test_field_colours(void **state)
{
    (void)state;
    struct dashi_error err = {0};
    /* 3 rows × 4 columns: a positive peak, a negative one, zeros elsewhere. */
    double a[12] = {0};
    a[1] = 2.0;          /* row 0, col 1 */
    a[2 * 4 + 3] = -1.0; /* row 2, col 3: half the scale */
    char npy[128], out[128];
    save("f.npy", 2, (uint64_t[]){3, 4}, a, npy, sizeof npy);
    snprintf(out, sizeof out, "%s/f.png", dir);
    struct render_field f;
    assert_int_equal(render_load(npy, &f, &err), 0);
    struct render_style st = {512, 0, CMAP_DIVERGING, "test"};
    struct render_result res;
    assert_int_equal(render_figure(&f, 0, &st, NULL, 0, out, &res, &err), 0);
    assert_true(res.lo == -2.0 && res.hi == 2.0);
    cairo_surface_t *s = cairo_image_surface_create_from_png(out);
    assert_int_equal(cairo_surface_status(s), CAIRO_STATUS_SUCCESS);
    assert_true(cairo_image_surface_get_width(s) >= 512 && cairo_image_surface_get_height(s) >= 512);
    uint8_t pos[3], neg[3], zero[3];
    cell(s, &res, 3, 4, 0, 1, pos);
    cell(s, &res, 3, 4, 2, 3, neg);
    cell(s, &res, 3, 4, 1, 1, zero);
    assert_int_equal(pos[0], 255); /* full red */
    assert_true(pos[1] < 10 && pos[2] < 10);
    assert_int_equal(neg[2], 255); /* half-strength blue */
    assert_true(neg[0] > 100 && neg[0] < 160 && neg[0] == neg[1]);
    assert_true(zero[0] == 255 && zero[1] == 255 && zero[2] == 255);
    cairo_surface_destroy(s);
    render_field_free(&f);
}

static void test_trajectory_frame_and_errors(void **state)
{
    (void)state;
    struct dashi_error err = {0};
    double t[2 * 2 * 2] = {1, 1, 1, 1, -1, -1, -1, -1};
    char npy[128], out[128];
    save("t.npy", 3, (uint64_t[]){2, 2, 2}, t, npy, sizeof npy);
    snprintf(out, sizeof out, "%s/t.png", dir);
    struct render_field f;
    assert_int_equal(render_load(npy, &f, &err), 0);
    assert_int_equal(f.frames, 2);
    struct render_style st = {64, 0, CMAP_DIVERGING, NULL};
    struct render_result res;
    assert_int_equal(render_figure(&f, 1, &st, NULL, 0, out, &res, &err), 0);
    cairo_surface_t *s = cairo_image_surface_create_from_png(out);
    uint8_t c[3];
    cell(s, &res, 2, 2, 0, 0, c);
    assert_true(c[2] == 255 && c[0] == 0); /* frame 1 is all negative: blue */
    cairo_surface_destroy(s);
    render_field_free(&f);
    enum cmap_kind k;
    assert_int_equal(cmap_parse("viridis", &k, &err), -1);
    assert_string_equal(err.field, "cmap");
    enum fig_format fmt;
    assert_int_equal(fig_format_of("x.gif", "o", &fmt, &err), -1);
    assert_string_equal(err.field, "o");
    assert_int_equal(err.code, DASHI_E_NOT_FOUND);
    assert_int_equal(fig_format_of("x.PDF", "o", &fmt, &err), 0);
    assert_int_equal(fmt, FIG_PDF);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_field_colours),
        cmocka_unit_test(test_trajectory_frame_and_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
