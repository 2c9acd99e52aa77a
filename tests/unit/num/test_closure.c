/* SPDX-License-Identifier: MIT */
/* The closure (docs/numerics.md "Closure") and the reference saturate: properties on random carriers
 * (never creates support, the defect D(s) = Σ|s − K(s)| is non-increasing along the
 * iteration, a fixed point is reached), and the GPU kernels equal to the host loops. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "closure.h"
#include "closure_gpu.h"
#include "lavapipe_fixture.h"
#include "vk.h"

#define MAX_LEVELS 64

/* Support with probability p, positive with probability q; a field to go with it. */
static void random_carrier(uint64_t *rng, uint32_t n, double p, double q, int8_t *s, double *field)
{
    for (size_t i = 0; i < (size_t)n * n; i++) {
        s[i] = unit_rand(rng) < p ? (unit_rand(rng) < q ? 1 : -1) : 0;
        field[i] = 4 * unit_rand(rng) - 2;
    }
}

static void test_host_properties(void **state)
{
    (void)state;
    uint64_t rng = 0x9e3779b97f4a7c15ull;
    for (int trial = 0; trial < 300; trial++) {
        uint32_t n = 4 + (uint32_t)(next_rand(&rng) % 29);
        size_t nn = (size_t)n * n;
        int8_t *s = malloc(nn), *s0 = malloc(nn), *ann = malloc(nn), *next = malloc(nn);
        double *field = malloc(nn * sizeof *field);
        assert_non_null(s && s0 && ann && next && field);
        random_carrier(&rng, n, 0.05 + 0.9 * unit_rand(&rng), unit_rand(&rng), s, field);
        memcpy(s0, s, nn);
        uint64_t prev_defect = UINT64_MAX;
        int passes = 0;
        for (;;) {
            closure_annihilate(s, n, ann);
            closure_persist(ann, n, CLOSURE_ETA, next);
            uint64_t defect = 0;
            for (size_t i = 0; i < nn; i++) {
                assert_true(next[i] == 0 || s[i] != 0);           /* never creates support */
                assert_true(next[i] == 0 || next[i] == s[i]);     /* never flips a sign */
                defect += (uint64_t)abs(s[i] - next[i]);
            }
            assert_true(defect <= prev_defect);                   /* D non-increasing */
            prev_defect = defect;
            if (defect == 0)
                break;                                            /* fixed point */
            memcpy(s, next, nn);
            passes++;
            assert_true((uint64_t)passes <= nn);                  /* each pass kills >= 1 */
        }
        /* closure_run reaches the same fixed point with the same depth. */
        int8_t *tmp = malloc(2 * nn);
        assert_non_null(tmp);
        int depth = closure_run(s0, n, CLOSURE_ETA, field, (int)nn + 1, NULL, tmp);
        assert_int_equal(depth, passes);
        assert_memory_equal(s0, s, nn);
        free(tmp);
        free(s), free(s0), free(ann), free(next), free(field);
    }
}

struct gpu_bufs {
    struct vk_buffer carrier, field, counters, partials, results;
};

static void alloc_bufs(struct vk_runtime *vk, uint32_t n, struct gpu_bufs *b)
{
    struct dashi_error err = {0};
    size_t nn = (size_t)n * n;
    assert_int_equal(vk_buffer_alloc(vk, 2 * nn * 4, VK_MEM_DEVICE, &b->carrier, &err), 0);
    assert_int_equal(vk_buffer_alloc(vk, nn * 8, VK_MEM_DEVICE, &b->field, &err), 0);
    assert_int_equal(vk_buffer_alloc(vk, (MAX_LEVELS + 1) * 4 * 4, VK_MEM_DEVICE, &b->counters, &err), 0);
    assert_int_equal(vk_buffer_alloc(vk, (MAX_LEVELS + 1) * closure_gpu_groups(n) * 8, VK_MEM_DEVICE, &b->partials,
                                     &err), 0);
    assert_int_equal(vk_buffer_alloc(vk, (MAX_LEVELS + 1) * 8, VK_MEM_DEVICE, &b->results, &err), 0);
}

static void free_bufs(struct vk_runtime *vk, struct gpu_bufs *b)
{
    vk_buffer_free(vk, &b->carrier);
    vk_buffer_free(vk, &b->field);
    vk_buffer_free(vk, &b->counters);
    vk_buffer_free(vk, &b->partials);
    vk_buffer_free(vk, &b->results);
}

/* Runs `levels` passes of op on the GPU; returns the final carrier, counters and sums. */
static void gpu_run(struct vk_runtime *vk, uint32_t n, enum closure_op op, uint32_t levels, const int8_t *s,
                    const double *field, int8_t *out, uint32_t *counters, double *abs_sums)
{
    struct dashi_error err = {0};
    size_t nn = (size_t)n * n;
    struct gpu_bufs b;
    alloc_bufs(vk, n, &b);
    int32_t *s32 = malloc(nn * 4);
    assert_non_null(s32);
    for (size_t i = 0; i < nn; i++)
        s32[i] = s[i];
    assert_int_equal(vk_upload(vk, &b.carrier, 0, s32, nn * 4, &err), 0);
    assert_int_equal(vk_upload(vk, &b.field, 0, field, nn * 8, &err), 0);
    struct closure_gpu *cg = NULL;
    assert_int_equal(closure_gpu_create(vk, n, &b.carrier, &b.field, &b.counters, &b.partials, &b.results, &cg, &err),
                     0);
    struct vk_cmd cmd;
    assert_int_equal(vk_cmd_create(vk, &cmd, &err), 0);
    assert_int_equal(vk_cmd_begin(vk, &cmd, &err), 0);
    vk_cmd_fill_zero(&cmd, &b.counters, 0, (MAX_LEVELS + 1) * 16);
    struct closure_record r = {op, levels, CLOSURE_ETA, 0, 0, 0, 0};
    closure_gpu_record(cg, &cmd, &r);
    assert_int_equal(vk_cmd_submit_wait(vk, &cmd, &err), 0);
    assert_int_equal(vk_download(vk, &b.carrier, (levels % 2) * nn * 4, s32, nn * 4, &err), 0);
    for (size_t i = 0; i < nn; i++)
        out[i] = (int8_t)s32[i];
    assert_int_equal(vk_download(vk, &b.counters, 0, counters, (levels + 1) * 16, &err), 0);
    assert_int_equal(vk_download(vk, &b.results, 0, abs_sums, (levels + 1) * 8, &err), 0);
    vk_cmd_destroy(vk, &cmd);
    closure_gpu_destroy(cg);
    free_bufs(vk, &b);
    free(s32);
}

static void test_gpu_closure_equals_host(void **state)
{
    struct fixture *fx = *state;
    uint64_t rng = 0x1234567887654321ull;
    const uint32_t sizes[] = {8, 16, 30, 64, 64, 100};
    for (size_t t = 0; t < sizeof sizes / sizeof sizes[0]; t++) {
        uint32_t n = sizes[t];
        size_t nn = (size_t)n * n;
        int8_t *s = malloc(nn), *host = malloc(nn), *gpu = malloc(nn), *tmp = malloc(2 * nn);
        double *field = malloc(nn * sizeof *field), abs_sums[MAX_LEVELS + 1];
        uint32_t counters[(MAX_LEVELS + 1) * 4];
        struct closure_level levels[MAX_LEVELS + 1];
        assert_non_null(s && host && gpu && tmp && field);
        random_carrier(&rng, n, 0.3 + 0.1 * (double)t, 0.5 + 0.08 * (double)t, s, field);
        memcpy(host, s, nn);
        int depth = closure_run(host, n, CLOSURE_ETA, field, MAX_LEVELS, levels, tmp);
        assert_true(depth >= 1 && depth < MAX_LEVELS);
        gpu_run(&fx->vk, n, CLOSURE_OP_CLOSURE, MAX_LEVELS, s, field, gpu, counters, abs_sums);
        assert_memory_equal(gpu, host, nn);
        int gpu_depth = -1;
        for (int k = 1; k <= MAX_LEVELS && gpu_depth < 0; k++)
            if (counters[4 * k + 1] == 0)
                gpu_depth = k - 1;
        assert_int_equal(gpu_depth, depth);
        for (int k = 0; k <= depth; k++) {
            assert_int_equal(counters[4 * k], levels[k].active);
            assert_int_equal(counters[4 * k + 1], levels[k].killed);
            assert_int_equal((int64_t)counters[4 * k + 2] - (int64_t)counters[4 * k + 3], levels[k].balance);
            assert_true(fabs(abs_sums[k] - levels[k].abs_sum) <= 1e-12 * (1 + levels[k].abs_sum));
        }
        free(s), free(host), free(gpu), free(tmp), free(field);
    }
}

static void test_gpu_saturate_equals_host(void **state)
{
    struct fixture *fx = *state;
    uint64_t rng = 42;
    const uint32_t sizes[] = {8, 30, 64};
    for (size_t t = 0; t < sizeof sizes / sizeof sizes[0]; t++) {
        uint32_t n = sizes[t];
        size_t nn = (size_t)n * n;
        int8_t *s = malloc(nn), *gpu = malloc(nn), *tmp = malloc(nn);
        double *field = malloc(nn * sizeof *field), abs_sums[SATURATE_PASSES + 1];
        uint32_t counters[(SATURATE_PASSES + 1) * 4];
        assert_non_null(s && gpu && tmp && field);
        random_carrier(&rng, n, 0.17, 0.5, s, field);
        gpu_run(&fx->vk, n, CLOSURE_OP_SATURATE, SATURATE_PASSES, s, field, gpu, counters, abs_sums);
        int passes = carrier_saturate(s, n, SATURATE_PASSES, tmp);
        assert_true(passes >= 1);
        assert_memory_equal(gpu, s, nn);
        free(s), free(gpu), free(tmp), free(field);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_host_properties),
        cmocka_unit_test(test_gpu_closure_equals_host),
        cmocka_unit_test(test_gpu_saturate_equals_host),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
