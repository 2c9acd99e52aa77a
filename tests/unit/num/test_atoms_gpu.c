/* SPDX-License-Identifier: MIT */
/* The GPU track path (atoms_gpu.h) against the host one: atoms_extract on
 * atoms_closed_carrier for fields ω (hand-built: two blobs of opposite sign, a blob across
 * the periodic seam, a filament longer than L/2 that does not wind, one that winds around
 * the torus; and frames of the refdata LES), and atoms_extract on given carriers (random
 * closed carriers, shapes that need many labelling iterations, atoms with ω = 0), with
 * the first submission made too short on purpose so the extra closure passes and
 * labelling iterations are recorded. Cells, σ, seeds, order and labels must be equal,
 * Γ, centroid, ε and elongation within 1e-12; two runs must be bitwise equal. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "atoms.h"
#include "atoms_gpu.h"
#include "closure.h"
#include "ic.h"
#include "lavapipe_fixture.h"
#include "test_data.h"
#include "vk.h"

#define BOX (2 * M_PI)

/* The largest differences seen, printed at the end (docs/numerics.md quotes them). */
static double worst_gamma, worst_centroid, worst_eps, worst_elong, worst_orient;

static double rel(double a, double b) { return fabs(a - b) / (fabs(b) > 1e-300 ? fabs(b) : 1); }

static double periodic_diff(double a, double b)
{
    double d = fmod(fabs(a - b), BOX);
    return d > BOX / 2 ? BOX - d : d;
}

static void assert_frames_equal(const struct atom_frame *g, const struct atom_frame *h)
{
    assert_int_equal(g->n, h->n);
    assert_int_equal(g->count, h->count);
    for (size_t k = 0; k < h->count; k++) {
        const struct atom *a = &g->atoms[k], *b = &h->atoms[k];
        assert_int_equal(a->sigma, b->sigma);
        assert_int_equal(a->cells, b->cells);
        assert_int_equal(a->seed, b->seed);
        double dg = rel(a->gamma, b->gamma), dc = fmax(periodic_diff(a->cx, b->cx), periodic_diff(a->cy, b->cy)) / BOX;
        double de = rel(a->eps, b->eps), dl = rel(a->elongation, b->elongation);
        worst_gamma = fmax(worst_gamma, dg);
        worst_centroid = fmax(worst_centroid, dc);
        worst_eps = fmax(worst_eps, de);
        worst_elong = fmax(worst_elong, dl);
        if (dg > 1e-12 || dc > 1e-12 || de > 1e-12 || dl > 1e-12)
            fprintf(stderr, "atom %zu (seed %u, %u cells): Γ %.17g / %.17g, c (%.17g %.17g) / (%.17g %.17g), "
                    "ε %.17g / %.17g, elong %.17g / %.17g\n", k, b->seed, b->cells, a->gamma, b->gamma, a->cx, a->cy,
                    b->cx, b->cy, a->eps, b->eps, a->elongation, b->elongation);
        assert_true(dg <= 1e-12 && dc <= 1e-12 && de <= 1e-12 && dl <= 1e-12);
        /* The axis is only defined for an anisotropic atom; its error scales like 1/(λmax − λmin). */
        if (b->elongation > 1.001) {
            double d = fabs(a->orientation - b->orientation);
            d = fmin(d, M_PI - d);
            worst_orient = fmax(worst_orient, d);
            assert_true(d <= 1e-10);
        }
    }
    assert_memory_equal(g->labels, h->labels, (size_t)h->n * h->n * sizeof *h->labels);
}

/* Host frames of fields omega[count][n*n]: closed carrier, then the walk. */
static void host_frames(const double *omega, uint32_t n, uint32_t count, struct atom_frame *out, int *depths)
{
    struct dashi_error err = {0};
    size_t nn = (size_t)n * n;
    int8_t *s = malloc(nn);
    assert_non_null(s);
    for (uint32_t b = 0; b < count; b++) {
        assert_int_equal(atoms_closed_carrier(omega + b * nn, n, 0.35, s, &depths[b], &err), 0);
        assert_int_equal(atoms_extract(s, omega + b * nn, n, BOX, &out[b], &err), 0);
    }
    free(s);
}

/* GPU frames of the same fields, in one batch, with a first submission of `levels`
 * closure passes and `iters` labelling iterations. */
static const struct atoms_gpu_stats *gpu_frames(struct vk_runtime *vk, const double *omega, uint32_t n, uint32_t count,
                                                uint32_t levels, uint32_t iters, struct atom_frame *out, int *depths,
                                                struct atoms_gpu **keep)
{
    struct dashi_error err = {0};
    size_t nn = (size_t)n * n;
    struct atoms_gpu *ag = NULL;
    if (atoms_gpu_create(vk, n, count, 0.35, &ag, &err) != 0)
        fprintf(stderr, "atoms_gpu_create: %s\n", err.message);
    assert_non_null(ag);
    assert_true(atoms_gpu_batch(ag) >= count);
    atoms_gpu_set_first(ag, levels, iters);
    for (uint32_t b = 0; b < count; b++)
        memcpy(atoms_gpu_frame(ag, b), omega + b * nn, nn * sizeof *omega);
    if (atoms_gpu_run(ag, count, out, depths, &err) != 0)
        fprintf(stderr, "atoms_gpu_run: %s\n", err.message);
    assert_int_equal(err.code, 0);
    *keep = ag;
    return atoms_gpu_last_stats(ag);
}

/* Host vs GPU on fields; returns the GPU's statistics (winding atoms, submissions). */
static struct atoms_gpu_stats compare_fields(struct vk_runtime *vk, const double *omega, uint32_t n, uint32_t count,
                                             uint32_t levels, uint32_t iters, struct atom_frame *host_out)
{
    struct atom_frame host[8], gpu[8];
    int hd[8], gd[8];
    assert_true(count <= 8);
    host_frames(omega, n, count, host, hd);
    struct atoms_gpu *ag;
    struct atoms_gpu_stats st = *gpu_frames(vk, omega, n, count, levels, iters, gpu, gd, &ag);
    for (uint32_t b = 0; b < count; b++) {
        assert_int_equal(gd[b], hd[b]);
        assert_frames_equal(&gpu[b], &host[b]);
        atom_frame_free(&gpu[b]);
        if (host_out && b == 0)
            host_out[0] = host[b];
        else
            atom_frame_free(&host[b]);
    }
    atoms_gpu_destroy(ag);
    return st;
}

/* Adds amp·exp(−(a²/sa² + c²/sc²)/2) where (a, c) is the periodic offset from (ci, cj)
 * rotated by th (a along the axis), times a taper of the axis beyond ±len/2. */
static void ridge(double *w, uint32_t n, double ci, double cj, double th, double sa, double sc, double len,
                  double amp)
{
    for (uint32_t i = 0; i < n; i++)
        for (uint32_t j = 0; j < n; j++) {
            double di = remainder((double)i - ci, (double)n), dj = remainder((double)j - cj, (double)n);
            double a = dj * cos(th) + di * sin(th), c = -dj * sin(th) + di * cos(th);
            double over = fabs(a) > len / 2 ? fabs(a) - len / 2 : 0;
            w[i * n + j] += amp * exp(-0.5 * (over * over / (sa * sa) + c * c / (sc * sc)));
        }
}

static void two_blobs_opposite_sign(void **state)
{
    struct fixture *fx = *state;
    const uint32_t n = 64;
    double *w = calloc(n * n, sizeof *w);
    ridge(w, n, 20, 18, 0, 2.5, 2.5, 0, 3.0);
    ridge(w, n, 44, 40, 0, 2.0, 3.0, 0, -2.0);
    struct atom_frame h;
    assert_int_equal(compare_fields(&fx->vk, w, n, 1, 12, 8, &h).winding, 0);
    /* Both blobs are there: an atom of each sign centred on its blob. */
    bool pos = false, neg = false;
    for (size_t k = 0; k < h.count; k++) {
        const struct atom *a = &h.atoms[k];
        double dx = BOX / n;
        pos |= a->sigma > 0 && atoms_periodic_distance(a->cx, a->cy, 18 * dx, 20 * dx, BOX) < 1.5 * dx;
        neg |= a->sigma < 0 && atoms_periodic_distance(a->cx, a->cy, 40 * dx, 44 * dx, BOX) < 1.5 * dx;
    }
    assert_true(pos && neg);
    atom_frame_free(&h);
    free(w);
}

static void blob_across_the_seam(void **state)
{
    struct fixture *fx = *state;
    const uint32_t n = 64;
    double *w = calloc(n * n, sizeof *w);
    ridge(w, n, 63.5, 0.5, 0, 3.0, 3.0, 0, 2.5); /* centred on the corner: four pieces in flat order */
    struct atom_frame h;
    assert_int_equal(compare_fields(&fx->vk, w, n, 1, 12, 8, &h).winding, 0);
    assert_true(h.count >= 1);
    double dx = BOX / n;
    assert_true(atoms_periodic_distance(h.atoms[0].cx, h.atoms[0].cy, 0.5 * dx, 63.5 * dx, BOX) < 0.5 * dx);
    atom_frame_free(&h);
    free(w);
}

static void long_filament_not_winding(void **state)
{
    struct fixture *fx = *state;
    const uint32_t n = 64;
    double *w = calloc(n * n, sizeof *w);
    ridge(w, n, 30, 10, 0.3, 2.0, 1.5, 44, 3.0); /* 44 cells > L/2, tilted, across the x seam */
    struct atom_frame h;
    assert_int_equal(compare_fields(&fx->vk, w, n, 1, 12, 8, &h).winding, 0);
    assert_true(h.count >= 1 && h.atoms[0].elongation > 5 && h.atoms[0].cells > 64);
    atom_frame_free(&h);
    free(w);
}

static void filament_winding_around_the_torus(void **state)
{
    struct fixture *fx = *state;
    const uint32_t n = 64;
    double *w = calloc(n * n, sizeof *w);
    ridge(w, n, 40, 0, 0, 1e9, 1.5, 0, 3.0); /* along x all the way round */
    for (uint32_t i = 0; i < n; i++)
        for (uint32_t j = 0; j < n; j++)
            w[i * n + j] *= 1 + 0.3 * cos(2 * M_PI * j / n);
    assert_true(compare_fields(&fx->vk, w, n, 1, 12, 8, NULL).winding >= 1);
    free(w);
}

static double *les_frames(uint32_t *n)
{
    const char *names[3] = {"omega_t0000.npy", "omega_t0001.npy", "omega_t0300.npy"};
    *n = 64;
    double *w = malloc(3 * 64 * 64 * sizeof *w);
    assert_non_null(w);
    for (int f = 0; f < 3; f++) {
        double *x = test_data_load(names[f], NPY_F8, 64 * 64);
        assert_non_null(x);
        memcpy(w + f * 64 * 64, x, 64 * 64 * sizeof *x);
        free(x);
    }
    return w;
}

static void les_frames_equal_host(void **state)
{
    struct fixture *fx = *state;
    uint32_t n;
    double *w = les_frames(&n);
    compare_fields(&fx->vk, w, n, 3, 12, 8, NULL);
    /* Too few passes and iterations in the first submission: the rest is recorded after. */
    struct atoms_gpu_stats st = compare_fields(&fx->vk, w, n, 3, 2, 1, NULL);
    assert_true(st.submits >= 3 && st.closure_levels > 2 && st.label_iters > 1);
    free(w);
}

static void deterministic(void **state)
{
    struct fixture *fx = *state;
    uint32_t n;
    double *w = les_frames(&n);
    struct atom_frame a[3], b[3];
    int da[3], db[3];
    struct atoms_gpu *ga, *gb;
    gpu_frames(&fx->vk, w, n, 3, 12, 8, a, da, &ga);
    gpu_frames(&fx->vk, w, n, 3, 4, 2, b, db, &gb);
    for (int f = 0; f < 3; f++) {
        assert_int_equal(a[f].count, b[f].count);
        assert_int_equal(da[f], db[f]);
        for (size_t k = 0; k < a[f].count; k++) { /* bitwise, field by field */
            const struct atom *x = &a[f].atoms[k], *y = &b[f].atoms[k];
            assert_true(x->sigma == y->sigma && x->cells == y->cells && x->seed == y->seed);
            assert_memory_equal(&x->gamma, &y->gamma, sizeof x->gamma);
            assert_memory_equal(&x->cx, &y->cx, sizeof x->cx);
            assert_memory_equal(&x->cy, &y->cy, sizeof x->cy);
            assert_memory_equal(&x->eps, &y->eps, sizeof x->eps);
            assert_memory_equal(&x->orientation, &y->orientation, sizeof x->orientation);
            assert_memory_equal(&x->elongation, &y->elongation, sizeof x->elongation);
        }
        assert_memory_equal(a[f].labels, b[f].labels, n * n * sizeof *a[f].labels);
        atom_frame_free(&a[f]);
        atom_frame_free(&b[f]);
    }
    atoms_gpu_destroy(ga);
    atoms_gpu_destroy(gb);
    free(w);
}

/* Host vs GPU on given carriers with weights omega (count frames of n×n). */
static uint32_t compare_carriers(struct vk_runtime *vk, const int8_t *s, const double *omega, uint32_t n,
                                 uint32_t count, uint32_t iters)
{
    struct dashi_error err = {0};
    size_t nn = (size_t)n * n;
    struct atoms_gpu *ag = NULL;
    assert_int_equal(atoms_gpu_create(vk, n, count, 0.35, &ag, &err), 0);
    atoms_gpu_set_first(ag, 2, iters);
    for (uint32_t b = 0; b < count; b++)
        memcpy(atoms_gpu_frame(ag, b), omega + b * nn, nn * sizeof *omega);
    struct atom_frame gpu[8], host;
    assert_true(count <= 8);
    if (atoms_gpu_run_carriers(ag, count, s, gpu, &err) != 0)
        fprintf(stderr, "atoms_gpu_run_carriers: %s\n", err.message);
    assert_int_equal(err.code, 0);
    uint32_t winding = atoms_gpu_last_stats(ag)->winding;
    for (uint32_t b = 0; b < count; b++) {
        assert_int_equal(atoms_extract(s + b * nn, omega + b * nn, n, BOX, &host, &err), 0);
        assert_frames_equal(&gpu[b], &host);
        atom_frame_free(&gpu[b]);
        atom_frame_free(&host);
    }
    atoms_gpu_destroy(ag);
    return winding;
}

static void random_closed_carriers(void **state)
{
    struct fixture *fx = *state;
    uint64_t rng = 0x9e3779b97f4a7c15ull;
    const uint32_t sizes[] = {4, 16, 30, 64, 100};
    for (size_t t = 0; t < sizeof sizes / sizeof sizes[0]; t++) {
        uint32_t n = sizes[t];
        size_t nn = (size_t)n * n;
        const uint32_t count = 3;
        int8_t *s = malloc(count * nn), *tmp = malloc(2 * nn);
        double *w = malloc(count * nn * sizeof *w), *x = malloc(nn * sizeof *x);
        assert_non_null(s && tmp && w && x);
        for (uint32_t b = 0; b < count; b++) {
            /* A smoothed random field thresholded and closed; weights of either sign, some 0. */
            struct dashi_error err = {0};
            for (size_t c = 0; c < nn; c++)
                x[c] = unit_rand(&rng) - 0.5;
            assert_int_equal(smooth2d(x, x, n, n < 8 ? 2 : 3, &err), 0);
            double tau = 0.01 + 0.02 * b;
            for (size_t c = 0; c < nn; c++) {
                s[b * nn + c] = (int8_t)(x[c] > tau ? 1 : x[c] < -tau ? -1 : 0);
                double u = unit_rand(&rng);
                w[b * nn + c] = u < 0.05 ? 0.0 : (u - 0.2) * 3.0;
            }
            closure_run(s + b * nn, n, CLOSURE_ETA, NULL, (int)nn + 1, NULL, tmp);
        }
        compare_carriers(&fx->vk, s, w, n, count, t % 2 ? 1 : 8);
        free(s), free(tmp), free(w), free(x);
    }
}

/* Carriers built to be hard: a serpentine of ~900 cells (many labelling iterations), a
 * band winding diagonally around both directions, an annulus (a loop that does not wind),
 * an atom whose ω is all 0 (uniform weights), a cross of two winding bands, single cells. */
static void hard_shapes(void **state)
{
    struct fixture *fx = *state;
    const uint32_t n = 64, nn = n * n;
    int8_t *s = calloc(3 * nn, 1);
    double *w = malloc(3 * nn * sizeof *w);
    uint64_t rng = 7;
    for (uint32_t c = 0; c < 3 * nn; c++)
        w[c] = unit_rand(&rng) * 2 - 0.3;
    int8_t *f0 = s, *f1 = s + nn, *f2 = s + 2 * nn;
    for (uint32_t r = 2, k = 0; r + 1 < 62; r += 4, k++) {
        for (uint32_t j = 2; j < 62; j++)
            f0[r * n + j] = f0[(r + 1) * n + j] = 1;
        uint32_t cj = k % 2 ? 2 : 60; /* the turn down to the next band */
        for (uint32_t i = r + 2; i < r + 4 && i + 1 < 62; i++)
            f0[i * n + cj] = f0[i * n + cj + 1] = 1;
    }
    for (uint32_t i = 0; i < n; i++) {
        f1[i * n + i] = f1[i * n + (i + 1) % n] = 1;
        f2[50 * n + i] = f2[51 * n + i] = 1;
        f2[i * n + 5] = f2[i * n + 6] = 1;
    }
    for (uint32_t i = 0; i < n; i++)
        for (uint32_t j = 0; j < n; j++) {
            double d = hypot(remainder(i - 45.0, n), remainder(j - 15.0, n));
            if (d >= 6 && d <= 8 && f1[i * n + j] == 0)
                f1[i * n + j] = -1;
        }
    for (uint32_t i = 54; i < 57; i++)
        for (uint32_t j = 20; j < 23; j++) {
            f1[i * n + j] = 1;
            w[nn + i * n + j] = 0.0;
        }
    f2[20 * n + 30] = 1;
    f2[20 * n + 32] = -1;
    f2[63 * n + 63] = -1;
    assert_true(compare_carriers(&fx->vk, s, w, n, 3, 1) >= 2);
    assert_true(compare_carriers(&fx->vk, s, w, n, 3, 64) >= 2);
    free(s);
    free(w);
}

static void bad_input(void **state)
{
    struct fixture *fx = *state;
    struct dashi_error err = {0};
    struct atoms_gpu *ag = NULL;
    assert_int_equal(atoms_gpu_create(&fx->vk, 3, 1, 0.35, &ag, &err), -1);
    assert_int_equal(err.code, DASHI_E_BAD_VALUE);
    assert_int_equal(atoms_gpu_create(&fx->vk, 16, 1, 0, &ag, &err), -1);
    assert_int_equal(atoms_gpu_create(&fx->vk, 16, 2, 0.35, &ag, &err), 0);
    int8_t s[16 * 16] = {0};
    s[5] = 2;
    struct atom_frame f[3];
    assert_int_equal(atoms_gpu_run_carriers(ag, 1, s, f, &err), -1);
    assert_int_equal(err.code, DASHI_E_BAD_VALUE);
    assert_int_equal(atoms_gpu_run(ag, 3, f, NULL, &err), -1);
    /* A checkerboard of isolated cells has more atoms than a closed carrier can: refused. */
    for (int c = 0; c < 256; c++)
        s[c] = (int8_t)(((c / 16) % 2 == 0 && c % 2 == 0) ? 1 : 0);
    assert_int_equal(atoms_gpu_run_carriers(ag, 1, s, f, &err), -1);
    assert_int_equal(err.code, DASHI_E_BAD_VALUE);
    atoms_gpu_destroy(ag);
}

static int report(void **state)
{
    (void)state;
    printf("largest GPU/host differences: Γ %.2g, centroid %.2g (of L), ε %.2g, elongation %.2g, "
           "orientation %.2g rad\n", worst_gamma, worst_centroid, worst_eps, worst_elong, worst_orient);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(two_blobs_opposite_sign),
        cmocka_unit_test(blob_across_the_seam),
        cmocka_unit_test(long_filament_not_winding),
        cmocka_unit_test(filament_winding_around_the_torus),
        cmocka_unit_test(les_frames_equal_host),
        cmocka_unit_test(deterministic),
        cmocka_unit_test(random_closed_carriers),
        cmocka_unit_test(hard_shapes),
        cmocka_unit_test_teardown(bad_input, report),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
