/* SPDX-License-Identifier: MIT */
/* render_png: a real PNG that libpng decodes back, with the colours where they belong. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <png.h>
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
    return system(cmd) == 0 ? 0 : -1;
}

/* Decodes path into *rgb (w*h*3), checking the signature first. */
static void decode(const char *path, png_uint_32 *w, png_uint_32 *h, png_bytep *rgb)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    png_byte sig[8];
    assert_int_equal(fread(sig, 1, 8, f), 8);
    assert_int_equal(png_sig_cmp(sig, 0, 8), 0);
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    assert_non_null(png);
    assert_non_null(info);
    assert_int_equal(setjmp(png_jmpbuf(png)), 0);
    png_init_io(png, f);
    png_set_sig_bytes(png, 8);
    png_read_info(png, info);
    *w = png_get_image_width(png, info);
    *h = png_get_image_height(png, info);
    assert_int_equal(png_get_color_type(png, info), PNG_COLOR_TYPE_RGB);
    assert_int_equal(png_get_bit_depth(png, info), 8);
    *rgb = malloc((size_t)*w * *h * 3);
    for (png_uint_32 y = 0; y < *h; y++)
        png_read_row(png, *rgb + (size_t)y * *w * 3, NULL);
    png_read_end(png, NULL);
    png_destroy_read_struct(&png, &info, NULL);
    fclose(f);
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
    snprintf(npy, sizeof npy, "%s/f.npy", dir);
    snprintf(out, sizeof out, "%s/f.png", dir);
    uint64_t shape[2] = {3, 4};
    assert_int_equal(npy_save(npy, NPY_F8, 2, shape, a, &err), 0);
    assert_int_equal(render_png(npy, out, 0, NULL, &err), 0);
    png_uint_32 w, h;
    png_bytep rgb;
    decode(out, &w, &h, &rgb);
    assert_int_equal(w, 4);
    assert_int_equal(h, 3);
    png_bytep pos = rgb + 3 * 1, neg = rgb + 3 * (2 * 4 + 3), zero = rgb;
    assert_int_equal(pos[0], 255); /* full red */
    assert_true(pos[1] < 10 && pos[2] < 10);
    assert_int_equal(neg[2], 255); /* half-strength blue */
    assert_true(neg[0] > 100 && neg[0] < 160 && neg[0] == neg[1]);
    assert_true(zero[0] == 255 && zero[1] == 255 && zero[2] == 255);
    free(rgb);
}

static void test_trajectory_frame_and_errors(void **state)
{
    (void)state;
    struct dashi_error err = {0};
    double t[2 * 2 * 2] = {1, 1, 1, 1, -1, -1, -1, -1};
    char npy[128], out[128];
    snprintf(npy, sizeof npy, "%s/t.npy", dir);
    snprintf(out, sizeof out, "%s/t.png", dir);
    uint64_t shape[3] = {2, 2, 2};
    assert_int_equal(npy_save(npy, NPY_F8, 3, shape, t, &err), 0);
    assert_int_equal(render_png(npy, out, 1, "diverging", &err), 0);
    png_uint_32 w, h;
    png_bytep rgb;
    decode(out, &w, &h, &rgb);
    assert_int_equal(w, 2);
    assert_int_equal(h, 2);
    assert_true(rgb[2] == 255 && rgb[0] == 0); /* frame 1 is all negative: blue */
    free(rgb);
    assert_int_equal(render_png(npy, out, 2, NULL, &err), -1);
    assert_string_equal(err.field, "frame");
    assert_int_equal(render_png(npy, out, 0, "viridis", &err), -1);
    assert_string_equal(err.field, "cmap");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_field_colours),
        cmocka_unit_test(test_trajectory_frame_and_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
