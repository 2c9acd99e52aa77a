/* SPDX-License-Identifier: MIT */
/* The persistent rollout kernel (rollout_persist.comp) on lavapipe, forced with
 * DASHI_ROLLOUT_PERSIST=2: two workgroups that exchange every step's state through the
 * ring. Lavapipe runs the workgroups of a dispatch on LP_NUM_THREADS threads and ends
 * every loop of an invocation after 65,535 iterations in all (llvmpipe's loop limiter),
 * so each case opens its own device with a known thread count:
 *  - 2 threads: both workgroups run at once, so dispatches of 3 steps can finish inside
 *    the limit; the recorded states must equal the C loop bit for bit, and at least one
 *    of a few engines must have kept the persistent kernel to the end (an engine whose
 *    polls were cut, say by a busy machine, falls back, which the results cannot show);
 *  - 1 thread: the second workgroup starts only after the first ends, so the first one's
 *    poll is cut by the limiter; the kernel must report that, and the engine must
 *    restore the input and finish on the portable kernel with the same exact results.
 * Before the fix the polls were atomic loads that lavapipe hoisted out of the spin loop,
 * and a cut loop went unnoticed: both cases returned wrong states. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rollout_gpu.h"
#include "rollout_ref.h"
#include "rollout_tuning.h"
#include "vk.h"

enum { D = 40, B = 2, T = 12, EVERY = 3, ATTEMPTS = 4 };

/* As in test_rollout.c: keeps lavapipe mapped so LeakSanitizer sees its global. */
static void keep_lavapipe_mapped(void)
{
    (void)dlopen("libvulkan_lvp.so", RTLD_NOW | RTLD_NODELETE);
}

/* A with entries of both signs and |eigenvalues| about 1, z0 distinct per row. */
static void problem(double *A, double *z0)
{
    uint64_t x = 0x9E3779B97F4A7C15u;
    for (int i = 0; i < D * D; i++) {
        x = x * 6364136223846793005u + 1442695040888963407u;
        A[i] = ((double)(x >> 11) / 9007199254740992.0 - 0.5) * 0.3;
    }
    for (int i = 0; i < B * D; i++)
        z0[i] = 1.0 + 0.01 * i;
}

/* Fails unless the T/EVERY recorded states equal the C loop's, bit for bit. */
static void check_records(const double *A, const double *z0, enum rollout_precision prec, const double *rec)
{
    double z[B * D], next[B * D];
    float A32[D * D], z32[B * D], next32[B * D];
    memcpy(z, z0, sizeof z);
    for (int i = 0; i < D * D; i++)
        A32[i] = (float)A[i];
    for (int i = 0; i < B * D; i++)
        z32[i] = (float)z0[i];
    for (int t = 1; t <= T; t++) {
        rollout_ref_step_f64(A, z, next, D, B);
        memcpy(z, next, sizeof z);
        rollout_ref_step_f32(A32, z32, next32, D, B);
        memcpy(z32, next32, sizeof z32);
        if (t % EVERY)
            continue;
        const double *got = rec + (size_t)(t / EVERY - 1) * B * D;
        for (int i = 0; i < B * D; i++)
            if (got[i] != (prec == ROLLOUT_F64 ? z[i] : (double)z32[i]))
                fail_msg("%s step %d element %d: GPU %.17g, C loop %.17g", prec == ROLLOUT_F64 ? "f64" : "f32", t,
                         i, got[i], prec == ROLLOUT_F64 ? z[i] : (double)z32[i]);
    }
}

/* One engine on `vk`, run for T steps; returns whether it still ran the persistent
 * kernel at the end (false: it fell back). */
static bool run_forced(struct vk_runtime *vk, enum rollout_precision prec)
{
    double A[D * D], z0[B * D], rec[T / EVERY * B * D];
    problem(A, z0);
    struct rollout_tuning tuning;
    setenv("DASHI_ROLLOUT_PERSIST", "2", 1);
    rollout_tuning_from_env(&tuning);
    unsetenv("DASHI_ROLLOUT_PERSIST");
    struct rollout_config cfg = {.D = D, .B = B, .precision = prec, .mode = ROLLOUT_EXACT,
                                 .max_steps_per_run = T, .tuning = &tuning};
    struct rollout_gpu *r = NULL;
    struct dashi_error err = {0};
    if (rollout_gpu_create(vk, &cfg, A, z0, &r, &err) != 0)
        fail_msg("rollout_gpu_create: %s", err.message);
    assert_true(rollout_gpu_persistent(r)); /* chosen: the test is about this kernel */
    uint32_t nrec;
    uint64_t bad = 0;
    double ms = 0;
    if (rollout_gpu_run(r, T, EVERY, rec, &nrec, &bad, &ms, &err) != 0)
        fail_msg("rollout_gpu_run: %s", err.message);
    assert_int_equal(nrec, T / EVERY);
    assert_int_equal(bad, 0);
    check_records(A, z0, prec, rec);
    bool kept = rollout_gpu_persistent(r);
    rollout_gpu_destroy(r);
    return kept;
}

static void open_lavapipe(struct vk_runtime *vk, const char *threads)
{
    keep_lavapipe_mapped();
    setenv("LP_NUM_THREADS", threads, 1);
    struct dashi_error err = {0};
    int rc = vk_runtime_open(vk, "lavapipe", NULL, &err);
    unsetenv("LP_NUM_THREADS");
    if (rc != 0)
        fail_msg("lavapipe: %s", err.message);
}

static void test_two_threads_runs_persistent(void **state)
{
    (void)state;
    struct vk_runtime vk;
    open_lavapipe(&vk, "2");
    for (int p = 0; p < 2; p++) {
        enum rollout_precision prec = p ? ROLLOUT_F32 : ROLLOUT_F64;
        int kept = 0;
        for (int i = 0; i < ATTEMPTS; i++)
            kept += run_forced(&vk, prec);
        printf("%s: %d of %d engines kept the persistent kernel to the end\n", p ? "f32" : "f64", kept, ATTEMPTS);
        assert_true(kept >= 1);
    }
    vk_runtime_close(&vk);
}

static void test_one_thread_falls_back(void **state)
{
    (void)state;
    struct vk_runtime vk;
    open_lavapipe(&vk, "1");
    assert_false(run_forced(&vk, ROLLOUT_F64));
    assert_false(run_forced(&vk, ROLLOUT_F32));
    vk_runtime_close(&vk);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_two_threads_runs_persistent),
        cmocka_unit_test(test_one_thread_falls_back),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
