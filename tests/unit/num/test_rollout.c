/* SPDX-License-Identifier: MIT */
/* The rollout engine on lavapipe against the numpy reference (tests/data), the C loop of
 * exact mode (bit for bit) and the BLAKE2b-128 vectors of docs/numerics.md "Rollout". */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "npy.h"
#include "rollout_block.h"
#include "rollout_gpu.h"
#include "rollout_ref.h"
#include "rollout_tuning.h"
#include "vk.h"
#include "zhash.h"

struct fixture {
    struct vk_runtime vk;
    double *A, *z0, *zT; /* the refdata case: D = 654 */
    uint32_t D;
};

static void *load(const char *path, uint64_t expect_count)
{
    struct npy_info info;
    void *data = NULL;
    struct dashi_error err = {0};
    if (npy_load(path, &info, &data, &err) != 0 || info.dtype != NPY_F8 || info.count != expect_count) {
        fprintf(stderr, "%s: %s\n", path, err.message);
        free(data);
        return NULL;
    }
    return data;
}

/* The Vulkan loader (1.3.239, before VK_LOADER_DISABLE_DYNAMIC_LIBRARY_UNLOADING) unloads
 * lavapipe at vkDestroyInstance; lavapipe keeps 128 bytes in a global for the process's
 * life, which LeakSanitizer then reports from an "<unknown module>" that no suppression
 * can name. Keeping the driver mapped leaves that memory reachable, as it really is. */
static void keep_lavapipe_mapped(void)
{
    (void)dlopen("libvulkan_lvp.so", RTLD_NOW | RTLD_NODELETE);
}

static int setup(void **state)
{
    keep_lavapipe_mapped();
    struct fixture *f = calloc(1, sizeof *f);
    struct dashi_error err = {0};
    if (!f || vk_runtime_open(&f->vk, "lavapipe", NULL, &err) != 0) {
        fprintf(stderr, "setup: %s\n", err.message);
        return -1;
    }
    f->D = 654;
    f->A = load("tests/data/A.npy", 654 * 654);
    f->z0 = load("tests/data/z_t0000.npy", 654);
    f->zT = load("tests/data/zhat_T.npy", 654);
    if (!f->A || !f->z0 || !f->zT)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    vk_runtime_close(&f->vk);
    free(f->A);
    free(f->z0);
    free(f->zT);
    free(f);
    return 0;
}

static double rel_diff(const double *x, const double *ref, size_t n)
{
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        num += (x[i] - ref[i]) * (x[i] - ref[i]);
        den += ref[i] * ref[i];
    }
    return sqrt(num) / sqrt(den);
}

static struct rollout_gpu *make(struct fixture *f, uint32_t B, enum rollout_precision prec, enum rollout_mode mode,
                                const double *A, const double *z0, uint32_t D, uint32_t max_steps)
{
    struct rollout_tuning tuning; /* the knobs the test set, as the daemon reads them at start */
    rollout_tuning_from_env(&tuning);
    struct rollout_config cfg = {
        .D = D, .B = B, .precision = prec, .mode = mode, .max_steps_per_run = max_steps, .tuning = &tuning};
    struct rollout_gpu *r = NULL;
    struct dashi_error err = {0};
    if (rollout_gpu_create(&f->vk, &cfg, A, z0, &r, &err) != 0)
        fail_msg("rollout_gpu_create: %s", err.message);
    return r;
}

/* B rows: z0, then z0 scaled by 0.5, -0.25, ... (distinct trajectories). */
static double *batch_of(const double *z0, uint32_t D, uint32_t B)
{
    double *z = malloc((size_t)B * D * sizeof *z);
    assert_non_null(z);
    double scale = 1.0;
    for (uint32_t b = 0; b < B; b++, scale *= -0.5)
        for (uint32_t i = 0; i < D; i++)
            z[(size_t)b * D + i] = z0[i] * scale + (double)b * 1e-3;
    return z;
}

static void test_hash_vectors(void **state)
{
    (void)state;
    char hex[33];
    zhash_hex(NULL, 0, hex);
    assert_string_equal(hex, "cae66941d9efbd404e4d88758ea67670");
    double ar[4] = {0, 1, 2, 3};
    zhash_hex(ar, 4, hex);
    assert_string_equal(hex, "4a327343ec85d1cc40eb22ae0db7bd9b");
    double *zeros = calloc(654, sizeof *zeros);
    assert_non_null(zeros);
    zhash_hex(zeros, 654, hex);
    assert_string_equal(hex, "33cea45f83903ec80cef4e51690d69da");
    free(zeros);
}

/* The refdata case: 300 steps of z0 reproduce numpy's zhat_T; every recorded state equals
 * the C loop of exact mode bit for bit. */
static void test_exact_matches_reference_and_c_loop(void **state)
{
    struct fixture *f = *state;
    const uint32_t D = f->D, T = 300;
    struct rollout_gpu *r = make(f, 1, ROLLOUT_F64, ROLLOUT_EXACT, f->A, f->z0, D, T);
    double *rec = malloc((size_t)(T + 1) * D * sizeof *rec);
    assert_non_null(rec);
    uint32_t nrec;
    uint64_t bad;
    double ms;
    struct dashi_error err = {0};
    assert_int_equal(rollout_gpu_run(r, T, 1, rec, &nrec, &bad, &ms, &err), 0);
    assert_int_equal(nrec, T);
    assert_int_equal(bad, 0);
    assert_int_equal(rollout_gpu_steps(r), T);
    double *z = malloc(D * sizeof *z), *next = malloc(D * sizeof *next);
    assert_non_null(z);
    assert_non_null(next);
    memcpy(z, f->z0, D * sizeof *z);
    for (uint32_t t = 1; t <= T; t++) {
        rollout_ref_step_f64(f->A, z, next, D, 1);
        memcpy(z, next, D * sizeof *z);
        char h_gpu[33], h_ref[33];
        zhash_hex(rec + (size_t)(t - 1) * D, D, h_gpu);
        zhash_hex(z, D, h_ref);
        if (strcmp(h_gpu, h_ref) != 0)
            fail_msg("step %u: GPU hash %s, C loop %s", t, h_gpu, h_ref);
    }
    assert_memory_equal(rec + (size_t)(T - 1) * D, z, D * sizeof *z);
    double final[654];
    assert_int_equal(rollout_gpu_read_state(r, final, &err), 0);
    assert_memory_equal(final, z, D * sizeof *z);
    double rel = rel_diff(final, f->zT, D);
    assert_true(rel <= 1e-10);
    free(z);
    free(next);
    free(rec);
    rollout_gpu_destroy(r);
}

static void check_batch_exact(struct fixture *f, enum rollout_precision prec, uint32_t B, uint32_t T)
{
    const uint32_t D = f->D;
    double *zb = batch_of(f->z0, D, B);
    struct rollout_gpu *r = make(f, B, prec, ROLLOUT_EXACT, f->A, zb, D, T);
    size_t n = (size_t)B * D;
    double *rec = malloc((size_t)T * n * sizeof *rec);
    assert_non_null(rec);
    uint32_t nrec;
    uint64_t bad;
    double ms;
    struct dashi_error err = {0};
    assert_int_equal(rollout_gpu_run(r, T, 1, rec, &nrec, &bad, &ms, &err), 0);
    assert_int_equal(nrec, T);
    if (prec == ROLLOUT_F64) {
        double *z = malloc(n * sizeof *z), *next = malloc(n * sizeof *next);
        memcpy(z, zb, n * sizeof *z);
        for (uint32_t t = 1; t <= T; t++) {
            rollout_ref_step_f64(f->A, z, next, D, B);
            memcpy(z, next, n * sizeof *z);
            if (memcmp(rec + (size_t)(t - 1) * n, z, n * sizeof *z) != 0)
                fail_msg("B=%u f64 step %u differs from the C loop", B, t);
        }
        free(z);
        free(next);
    } else {
        float *A32 = malloc((size_t)D * D * sizeof *A32), *z = malloc(n * sizeof *z), *next = malloc(n * sizeof *z);
        for (size_t i = 0; i < (size_t)D * D; i++)
            A32[i] = (float)f->A[i];
        for (size_t i = 0; i < n; i++)
            z[i] = (float)zb[i];
        for (uint32_t t = 1; t <= T; t++) {
            rollout_ref_step_f32(A32, z, next, D, B);
            memcpy(z, next, n * sizeof *z);
            for (size_t i = 0; i < n; i++)
                if (rec[(size_t)(t - 1) * n + i] != (double)z[i])
                    fail_msg("B=%u f32 step %u element %zu differs from the C loop", B, t, i);
        }
        free(A32);
        free(z);
        free(next);
    }
    free(rec);
    free(zb);
    rollout_gpu_destroy(r);
}

static void test_exact_batch_bit_identical(void **state)
{
    check_batch_exact(*state, ROLLOUT_F64, 3, 40);
    /* B >= 8 takes the exact GEMM (rollout_gemm.comp -DEXACT): 19 rows are more than one
     * 16-row tile, and the last tile is partly empty. */
    check_batch_exact(*state, ROLLOUT_F64, 19, 4);
}

static void test_exact_f32_bit_identical(void **state)
{
    check_batch_exact(*state, ROLLOUT_F32, 1, 60);
    check_batch_exact(*state, ROLLOUT_F32, 3, 10);
    check_batch_exact(*state, ROLLOUT_F32, 19, 4);
}

/* Two engines give the same hashes; 7 + 64 + 229 steps equal one run of 300, records
 * (every 5th step) included. */
static void test_deterministic_and_split_runs(void **state)
{
    struct fixture *f = *state;
    const uint32_t D = f->D, T = 300, EVERY = 5;
    struct dashi_error err = {0};
    double *one = malloc((size_t)(T / EVERY + 1) * D * sizeof *one);
    double *split = malloc((size_t)(T / EVERY + 3) * D * sizeof *split);
    double *again = malloc((size_t)(T / EVERY + 1) * D * sizeof *again);
    assert_non_null(one);
    assert_non_null(split);
    assert_non_null(again);
    uint32_t nrec, got = 0;
    uint64_t bad;
    double ms;
    struct rollout_gpu *r = make(f, 1, ROLLOUT_F64, ROLLOUT_EXACT, f->A, f->z0, D, T);
    assert_int_equal(rollout_gpu_run(r, T, EVERY, one, &nrec, &bad, &ms, &err), 0);
    assert_int_equal(nrec, T / EVERY);
    rollout_gpu_destroy(r);

    r = make(f, 1, ROLLOUT_F64, ROLLOUT_EXACT, f->A, f->z0, D, T);
    assert_int_equal(rollout_gpu_run(r, T, EVERY, again, &nrec, &bad, &ms, &err), 0);
    for (uint32_t k = 0; k < T / EVERY; k++) {
        char h1[33], h2[33];
        zhash_hex(one + (size_t)k * D, D, h1);
        zhash_hex(again + (size_t)k * D, D, h2);
        assert_string_equal(h1, h2);
    }
    rollout_gpu_destroy(r);

    r = make(f, 1, ROLLOUT_F64, ROLLOUT_EXACT, f->A, f->z0, D, T);
    const uint32_t parts[3] = {7, 64, 229};
    for (int p = 0; p < 3; p++) {
        assert_int_equal(rollout_gpu_run(r, parts[p], EVERY, split + (size_t)got * D, &nrec, &bad, &ms, &err), 0);
        got += nrec;
    }
    assert_int_equal(got, T / EVERY);
    assert_int_equal(rollout_gpu_steps(r), T);
    assert_memory_equal(one, split, (size_t)got * D * sizeof *one);
    /* A second sequence of the same shape replays the cached recordings. */
    assert_int_equal(rollout_gpu_run(r, 7, EVERY, split, &nrec, &bad, &ms, &err), 0);
    assert_int_equal(nrec, 1); /* step 305 */
    assert_int_equal(rollout_gpu_run(r, T + 1, 0, NULL, &nrec, &bad, &ms, &err), -1);
    assert_int_equal(err.code, DASHI_E_BAD_VALUE);
    rollout_gpu_destroy(r);
    free(one);
    free(split);
    free(again);
}

/* Fast modes: f64 (GEMV for B=1, GEMM for B=9) close to the exact C loop; f32 after 300
 * steps within 1e-4 of f64. */
static void test_fast_modes(void **state)
{
    struct fixture *f = *state;
    const uint32_t D = f->D, T = 300;
    struct dashi_error err = {0};
    uint32_t nrec;
    uint64_t bad;
    double ms;
    double fast[654];
    struct rollout_gpu *r = make(f, 1, ROLLOUT_F64, ROLLOUT_FAST, f->A, f->z0, D, T);
    assert_int_equal(rollout_gpu_run(r, T, 0, NULL, &nrec, &bad, &ms, &err), 0);
    assert_int_equal(rollout_gpu_read_state(r, fast, &err), 0);
    rollout_gpu_destroy(r);
    assert_true(rel_diff(fast, f->zT, D) <= 1e-10);

    r = make(f, 1, ROLLOUT_F32, ROLLOUT_FAST, f->A, f->z0, D, T);
    assert_int_equal(rollout_gpu_run(r, T, 0, NULL, &nrec, &bad, &ms, &err), 0);
    assert_int_equal(rollout_gpu_read_state(r, fast, &err), 0);
    rollout_gpu_destroy(r);
    double rel32 = rel_diff(fast, f->zT, D);
    print_message("f32 fast after %u steps: %.3e relative to f64\n", T, rel32);
    assert_true(rel32 <= 1e-4);

    const uint32_t B = 9, TB = 20;
    double *zb = batch_of(f->z0, D, B);
    double *ref = malloc((size_t)B * D * sizeof *ref), *next = malloc((size_t)B * D * sizeof *next);
    double *gpu = malloc((size_t)B * D * sizeof *gpu);
    memcpy(ref, zb, (size_t)B * D * sizeof *ref);
    for (uint32_t t = 0; t < TB; t++) {
        rollout_ref_step_f64(f->A, ref, next, D, B);
        memcpy(ref, next, (size_t)B * D * sizeof *ref);
    }
    for (int prec = 0; prec < 2; prec++) {
        r = make(f, B, prec ? ROLLOUT_F32 : ROLLOUT_F64, ROLLOUT_FAST, f->A, zb, D, TB);
        assert_int_equal(rollout_gpu_run(r, TB, 0, NULL, &nrec, &bad, &ms, &err), 0);
        assert_int_equal(rollout_gpu_read_state(r, gpu, &err), 0);
        rollout_gpu_destroy(r);
        double rel = rel_diff(gpu, ref, (size_t)B * D);
        print_message("fast B=%u %s after %u steps: %.3e relative to the C loop\n", B, prec ? "f32" : "f64", TB, rel);
        assert_true(rel <= (prec ? 1e-4 : 1e-12));
    }
    free(zb);
    free(ref);
    free(next);
    free(gpu);
}

/* Blocks of steps (rollout_block.h), 5 steps each: runs of 23 (blocks of 5, 5, 5, 5, 3,
 * both areas in turn) recording every 3rd step, 69 steps in all. Every recorded and final
 * state is within rounding of the C loop, two engines agree bit for bit, and runs that
 * would not repay the powers go step by step. D = 40 and 41: the kernel fetches the
 * powers two columns at a time where D is even, one at a time where it is odd. */
static void test_blocks_of_steps(void **state)
{
    struct fixture *f = *state;
    enum { DMAX = 41, B = 8, RUN = 23, EVERY = 3, RUNS = 3 };
    struct dashi_error err = {0};
    double *A = malloc(DMAX * DMAX * sizeof *A), *z0 = malloc(B * DMAX * sizeof *z0);
    double *ref = malloc(B * DMAX * sizeof *ref), *next = malloc(B * DMAX * sizeof *next);
    double *rec = malloc((RUN / EVERY + 1) * B * DMAX * sizeof *rec), *got = malloc(B * DMAX * sizeof *got);
    double *rec2 = malloc((RUN / EVERY + 1) * B * DMAX * sizeof *rec2);
    assert_true(A && z0 && ref && next && rec && got && rec2);
    setenv("DASHI_ROLLOUT_BLOCK", "5", 1);
    for (int c = 0; c < 4; c++) {
        uint32_t D = DMAX - 1 + c / 2;
        int prec = c % 2;
        /* A scaled rotation-like operator: entries of both signs, growth about 1 per step. */
        for (uint32_t i = 0; i < D; i++)
            for (uint32_t j = 0; j < D; j++)
                A[i * D + j] = sin(1.0 + i * 0.37 + j * j * 0.11) * sqrt(3.0 / D) * 0.9;
        for (uint32_t i = 0; i < B * D; i++)
            z0[i] = cos(0.3 * i);
        enum rollout_precision p = prec ? ROLLOUT_F32 : ROLLOUT_F64;
        struct rollout_gpu *r = make(f, B, p, ROLLOUT_FAST, A, z0, D, RUN);
        struct rollout_gpu *twin = make(f, B, p, ROLLOUT_FAST, A, z0, D, RUN);
        assert_int_equal(rollout_gpu_block_steps(r), 5);
        memcpy(ref, z0, sizeof(double) * B * D);
        double worst = 0;
        for (int run = 0; run < RUNS; run++) {
            uint32_t nrec, nrec2;
            uint64_t bad;
            double ms;
            assert_int_equal(rollout_gpu_run(r, RUN, EVERY, rec, &nrec, &bad, &ms, &err), 0);
            assert_int_equal(rollout_gpu_run(twin, RUN, EVERY, rec2, &nrec2, &bad, &ms, &err), 0);
            assert_int_equal(bad, 0);
            assert_int_equal(nrec, nrec2);
            assert_memory_equal(rec, rec2, (size_t)nrec * B * D * sizeof *rec);
            assert_int_equal(rollout_gpu_read_state(r, got, &err), 0);
            uint32_t k = 0;
            for (int s = 1; s <= RUN; s++) {
                rollout_ref_step_f64(A, ref, next, D, B);
                memcpy(ref, next, sizeof(double) * B * D);
                int t = run * RUN + s;
                if (t % EVERY == 0)
                    worst = fmax(worst, rel_diff(rec + (size_t)k++ * B * D, ref, B * D));
            }
            assert_int_equal(k, nrec);
            worst = fmax(worst, rel_diff(got, ref, B * D));
        }
        assert_int_equal(rollout_gpu_steps(r), RUNS * RUN);
        print_message("blocks of 5, D=%u %s: largest deviation %.3e relative to the C loop\n", D, prec ? "f32" : "f64",
                      worst);
        assert_true(worst <= (prec ? 1e-4 : 1e-13));
        rollout_gpu_destroy(r);
        rollout_gpu_destroy(twin);
    }
    unsetenv("DASHI_ROLLOUT_BLOCK");
    /* Powers cost (m-1)·D³ multiply-adds: a run expected to be shorter than 8 times that
     * goes step by step; exact mode and B < 8 always do. */
    const uint32_t D = DMAX;
    struct rollout_config cfg = {.D = D, .B = B, .precision = ROLLOUT_F64, .mode = ROLLOUT_FAST,
                                 .max_steps_per_run = RUN, .expected_steps = 10};
    struct rollout_gpu *r = NULL;
    assert_int_equal(rollout_gpu_create(&f->vk, &cfg, A, z0, &r, &err), 0);
    assert_int_equal(rollout_gpu_block_steps(r), 1);
    rollout_gpu_destroy(r);
    cfg.expected_steps = 0;
    cfg.mode = ROLLOUT_EXACT;
    assert_int_equal(rollout_block_steps(&cfg), 1);
    cfg.mode = ROLLOUT_FAST;
    cfg.B = 4;
    assert_int_equal(rollout_block_steps(&cfg), 1);
    free(A);
    free(z0);
    free(ref);
    free(next);
    free(rec);
    free(rec2);
    free(got);
}

/* Tuning knobs: least..most values in 1..1024, else untouched (and said on stderr). */
static void test_env_knobs(void **state)
{
    (void)state;
    uint32_t v[6] = {9, 9, 9, 9, 9, 9};
    setenv("DASHI_TEST_KNOB", "128,64,4,2,8", 1);
    assert_int_equal(rollout_knob_uints("DASHI_TEST_KNOB", getenv("DASHI_TEST_KNOB"), v, 5, 6), 5);
    assert_int_equal(v[0], 128);
    assert_int_equal(v[4], 8);
    assert_int_equal(v[5], 9);
    setenv("DASHI_TEST_KNOB", "1,2,3,4,5,6", 1);
    assert_int_equal(rollout_knob_uints("DASHI_TEST_KNOB", getenv("DASHI_TEST_KNOB"), v, 5, 6), 6);
    assert_int_equal(v[5], 6);
    static const char *const bad[] = {"1,2,3,4,5,0", "1,2,3,4", "1,2,3,4,5,6,7", "1,2,x,4,5", "1,2,3,4,2000", ""};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        uint32_t w[6] = {7, 7, 7, 7, 7, 7};
        setenv("DASHI_TEST_KNOB", bad[i], 1);
        if (rollout_knob_uints("DASHI_TEST_KNOB", getenv("DASHI_TEST_KNOB"), w, 5, 6) != 0 || w[0] != 7 || w[5] != 7)
            fail_msg("knob \"%s\" was taken", bad[i]);
    }
    unsetenv("DASHI_TEST_KNOB");
    assert_int_equal(rollout_knob_uints("DASHI_TEST_KNOB", getenv("DASHI_TEST_KNOB"), v, 1, 1), 0);
}

/* The knobs are read once into a tuning struct: each variable lands in its field,
 * malformed ones stay at the default, and an engine keeps its own copy (what the
 * environment or the caller's struct say later does not change it). */
static void test_tuning_from_env(void **state)
{
    struct fixture *f = *state;
    setenv("DASHI_ROLLOUT_SPLIT", "portable", 1);
    setenv("DASHI_ROLLOUT_SPLIT_DIGITS", "7", 1);
    setenv("DASHI_ROLLOUT_GEMV", "16,2", 1);
    setenv("DASHI_ROLLOUT_GEMM", "1,2,3", 1); /* six values needed: ignored */
    setenv("DASHI_ROLLOUT_GEMM_EXACT", "off", 1);
    setenv("DASHI_ROLLOUT_PERSIST", "0", 1);
    setenv("DASHI_ROLLOUT_PERSIST_EPT", "4", 1);
    setenv("DASHI_ROLLOUT_BLOCK", "5", 1);
    setenv("DASHI_ROLLOUT_TILE", "64,64,4,4,8", 1);
    struct rollout_tuning t;
    rollout_tuning_from_env(&t);
    static const char *const knobs[] = {"SPLIT", "SPLIT_DIGITS", "GEMV", "GEMM", "GEMM_EXACT", "PERSIST",
                                        "PERSIST_EPT", "BLOCK", "TILE"};
    for (size_t i = 0; i < sizeof knobs / sizeof *knobs; i++) {
        char name[64];
        snprintf(name, sizeof name, "DASHI_ROLLOUT_%s", knobs[i]);
        unsetenv(name);
    }
    assert_int_equal(t.split, ROLLOUT_SPLIT_PORTABLE);
    assert_int_equal(t.split_digits, 7);
    assert_int_equal(t.gemv_n, 2);
    assert_int_equal(t.gemv[0], 16);
    assert_int_equal(t.gemm_n, 0);
    assert_true(t.gemm_exact_off);
    assert_true(t.persist_set);
    assert_int_equal(t.persist, 0);
    assert_int_equal(t.persist_ept, 4);
    assert_int_equal(t.block, 5);
    assert_int_equal(t.tile_n, 5);
    assert_int_equal(t.tile[0], 64);

    enum { D = 16, B = 8 };
    double A[D * D], z0[B * D];
    for (int i = 0; i < D * D; i++)
        A[i] = (i % (D + 1) == 0) ? 0.5 : 0.01;
    for (int i = 0; i < B * D; i++)
        z0[i] = 1.0;
    struct rollout_tuning blocks = {.block = 5};
    struct rollout_config cfg = {.D = D, .B = B, .precision = ROLLOUT_F64, .mode = ROLLOUT_FAST,
                                 .max_steps_per_run = 100, .tuning = &blocks};
    struct rollout_gpu *r = NULL;
    struct dashi_error err = {0};
    assert_int_equal(rollout_gpu_create(&f->vk, &cfg, A, z0, &r, &err), 0);
    blocks.block = 2;
    setenv("DASHI_ROLLOUT_BLOCK", "3", 1);
    assert_int_equal(rollout_gpu_block_steps(r), 5);
    assert_int_equal(rollout_gpu_run_steps(r, 0, 1.0, 12.5), 10); /* whole blocks of 5 */
    unsetenv("DASHI_ROLLOUT_BLOCK");
    rollout_gpu_destroy(r);
}

/* Run lengths as jobs choose them (rollout_gpu_run_steps): about the target time, kept
 * while within [1/2, 5/4] of it, in whole blocks of steps, within 1..max_steps_per_run. */
static void test_run_steps(void **state)
{
    struct fixture *f = *state;
    enum { D = 16, B = 8 };
    double A[D * D], z0[B * D];
    for (int i = 0; i < D * D; i++)
        A[i] = (i % (D + 1) == 0) ? 0.5 : 0.01;
    for (int i = 0; i < B * D; i++)
        z0[i] = 1.0;
    setenv("DASHI_ROLLOUT_BLOCK", "5", 1);
    struct rollout_gpu *r = make(f, B, ROLLOUT_F64, ROLLOUT_FAST, A, z0, D, 100);
    unsetenv("DASHI_ROLLOUT_BLOCK");
    assert_int_equal(rollout_gpu_block_steps(r), 5);
    assert_int_equal(rollout_gpu_run_steps(r, 0, 0.1, 12.5), 100);  /* 125 wanted, 100 at most */
    assert_int_equal(rollout_gpu_run_steps(r, 0, 1.0, 12.5), 10);   /* 12 wanted: whole blocks */
    assert_int_equal(rollout_gpu_run_steps(r, 10, 1.0, 12.5), 10);  /* kept */
    assert_int_equal(rollout_gpu_run_steps(r, 10, 0.79, 12.5), 10); /* 15.8 wanted: still kept */
    assert_int_equal(rollout_gpu_run_steps(r, 10, 0.5, 12.5), 25);  /* 25 wanted: 10 is too short */
    assert_int_equal(rollout_gpu_run_steps(r, 10, 2.0, 12.5), 5);   /* 6.25 wanted: 10 is too long */
    assert_int_equal(rollout_gpu_run_steps(r, 5, 20.0, 12.5), 1);   /* less than a step */
    assert_int_equal(rollout_gpu_run_steps(r, 0, 4.0, 12.5), 3);    /* under a block: as is */
    rollout_gpu_destroy(r);
}

/* A = 1e100·I (f64) or 1e10·I (f32), z0 = 1: the state overflows at step 4. Detected on
 * the GPU in every mode, also when the run starts after earlier steps. */
static void test_nonfinite_step(void **state)
{
    struct fixture *f = *state;
    enum { D = 20 };
    struct dashi_error err = {0};
    for (int variant = 0; variant < 4; variant++) {
        enum rollout_precision prec = variant & 1 ? ROLLOUT_F32 : ROLLOUT_F64;
        enum rollout_mode mode = variant & 2 ? ROLLOUT_FAST : ROLLOUT_EXACT;
        uint32_t B = mode == ROLLOUT_FAST ? 8 : 1; /* fast B=8 takes the GEMM kernel */
        double A[D * D] = {0};
        for (int i = 0; i < D; i++)
            A[i * D + i] = prec == ROLLOUT_F64 ? 1e100 : 1e10;
        double z0[8 * D];
        for (int i = 0; i < 8 * D; i++)
            z0[i] = 1.0;
        struct rollout_gpu *r = make(f, B, prec, mode, A, z0, D, 10);
        /* Never in blocks: exact mode never is, and fast batches (which would be) find a
         * power of A overflowing, so they go step by step. */
        assert_int_equal(rollout_gpu_block_steps(r), 1);
        uint32_t nrec;
        uint64_t bad;
        double ms;
        assert_int_equal(rollout_gpu_run(r, 2, 0, NULL, &nrec, &bad, &ms, &err), 0);
        assert_int_equal(bad, 0);
        assert_int_equal(rollout_gpu_run(r, 10, 0, NULL, &nrec, &bad, &ms, &err), 0);
        assert_int_equal(bad, 4);
        rollout_gpu_destroy(r);
    }
}

static void test_memory_estimate(void **state)
{
    struct fixture *f = *state;
    struct rollout_config cfg = {.D = 654, .B = 256, .precision = ROLLOUT_F64, .mode = ROLLOUT_FAST,
                                 .max_steps_per_run = 100};
    uint64_t est = rollout_gpu_memory_estimate(&cfg);
    assert_true(est >= (654ull * 654 + 2ull * 256 * 654) * 8);
    VkDeviceSize before = f->vk.memory_used;
    double *zb = batch_of(f->z0, 654, 256);
    struct rollout_gpu *r = make(f, 256, ROLLOUT_F64, ROLLOUT_FAST, f->A, zb, 654, 100);
    assert_true(f->vk.memory_used - before <= est);
    rollout_gpu_destroy(r);
    free(zb);
    assert_int_equal(f->vk.memory_used, before);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hash_vectors),
        cmocka_unit_test(test_exact_matches_reference_and_c_loop),
        cmocka_unit_test(test_exact_batch_bit_identical),
        cmocka_unit_test(test_exact_f32_bit_identical),
        cmocka_unit_test(test_deterministic_and_split_runs),
        cmocka_unit_test(test_fast_modes),
        cmocka_unit_test(test_blocks_of_steps),
        cmocka_unit_test(test_run_steps),
        cmocka_unit_test(test_env_knobs),
        cmocka_unit_test(test_tuning_from_env),
        cmocka_unit_test(test_nonfinite_step),
        cmocka_unit_test(test_memory_estimate),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
