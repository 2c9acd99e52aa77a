/* SPDX-License-Identifier: MIT */
/* The annihilation trace (closure_trace.h, docs/numerics.md "Filament survival") on hand-made
 * carriers whose fates are counted by hand below, and its parity with closure_run (the same
 * depth and fixed point) on random carriers. */
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "atoms.h"
#include "closure.h"
#include "closure_trace.h"

#define N 32

/* xorshift64 to a uniform in [0, 1): every run tests the same carriers. */
static double uniform(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return (double)(*x >> 11) * (1.0 / 9007199254740992.0);
}

static void put(int8_t *s, int i, int j, int8_t v) { s[((i + N) % N) * N + (j + N) % N] = v; }

static void block(int8_t *s, int i0, int j0, int h, int w, int8_t v)
{
    for (int i = i0; i < i0 + h; i++)
        for (int j = j0; j < j0 + w; j++)
            put(s, i, j, v);
}

static struct closure_trace trace_of(int8_t *s)
{
    struct closure_trace t;
    struct dashi_error err = {0};
    assert_int_equal(closure_trace_run(s, N, CLOSURE_ETA, 64, &t, &err), 0);
    return t;
}

/* The depth, the filaments born and surviving, and Σ annihilation level. */
static void assert_counts(const struct closure_trace *t, int depth, uint64_t born, uint64_t survived,
                          uint64_t level_sum)
{
    assert_int_equal(t->depth, depth);
    assert_int_equal(t->born, born);
    assert_int_equal(t->survived, survived);
    assert_int_equal(t->level_sum, level_sum);
}

/* Alive counts expected at levels 0..last; levels past last keep the last value. */
static void assert_alive(const struct closure_trace *t, const uint64_t *alive, int last)
{
    for (int k = 0; k <= CLOSURE_TRACE_LEVELS; k++)
        assert_int_equal(t->alive[k], alive[k <= last ? k : last]);
}

/* A 2×2 +1 block touching a 2×2 −1 block: K_ann removes the touching columns, M_η the two
 * lone columns left (|Σ| = 2 < 3): both filaments are annihilated by pass 1, and pass 2
 * changes nothing. */
static void test_touching_pair_annihilates_at_level_1(void **state)
{
    (void)state;
    int8_t s[N * N] = {0};
    block(s, 4, 4, 2, 2, 1);
    block(s, 4, 6, 2, 2, -1);
    struct closure_trace t = trace_of(s);
    assert_counts(&t, 1, 2, 0, 2);
    assert_alive(&t, (const uint64_t[]){2, 0}, 1);
    assert_true(closure_trace_mean_level(&t) == 1.0);
}

/* A 3×3 block alone: every site sees ≥ 4 of its sign, nothing is removed: depth 0, it survives. */
static void test_isolated_blob_survives(void **state)
{
    (void)state;
    int8_t s[N * N] = {0};
    block(s, 10, 10, 3, 3, -1);
    struct closure_trace t = trace_of(s);
    assert_counts(&t, 0, 1, 1, 0);
    assert_alive(&t, (const uint64_t[]){1}, 0);
    assert_true(closure_trace_alive_fraction(&t, 6) == 1.0);
    assert_true(closure_trace_mean_level(&t) == 0.0);
}

/* A line one cell thin: its ends see 2 sites (< η = 3) and go, each pass; 7 cells -> 5 -> 3
 * -> 1 -> 0, so it dies at level 4 and pass 5 confirms the fixed point. */
static void test_thin_filament_dies_when_persistence_removes_it(void **state)
{
    (void)state;
    int8_t s[N * N] = {0};
    block(s, 8, 2, 1, 7, 1);
    struct closure_trace t = trace_of(s);
    assert_counts(&t, 4, 1, 0, 4);
    assert_alive(&t, (const uint64_t[]){1, 1, 1, 1, 0}, 4);
}

/* One filament through 8-connectivity and the periodic seam: a diagonal of 5 cells wrapping
 * at the corner (4-connected it would be 5 filaments), 5 -> 3 -> 1 -> 0: dies at level 3. */
static void test_diagonal_across_the_seam_is_one_filament(void **state)
{
    (void)state;
    int8_t s[N * N] = {0};
    for (int k = -2; k <= 2; k++)
        put(s, k, k, -1);
    struct closure_trace t = trace_of(s);
    assert_counts(&t, 3, 1, 0, 3);
    assert_alive(&t, (const uint64_t[]){1, 1, 1, 0}, 3);
}

/* All of the above on one grid, far apart: the counts add, the depth is the deepest. Born 5
 * (pair 2, blob, line, diagonal); dead at 1, 1, 4, 3; the blob survives. */
static void test_mixed_carrier_counts_add(void **state)
{
    (void)state;
    int8_t s[N * N] = {0};
    block(s, 4, 4, 2, 2, 1);
    block(s, 4, 6, 2, 2, -1);
    block(s, 10, 10, 3, 3, -1);
    block(s, 20, 2, 1, 7, 1);
    for (int k = -2; k <= 2; k++)
        put(s, 26 + k, 20 + k, -1);
    struct closure_trace t = trace_of(s);
    assert_counts(&t, 4, 5, 1, 1 + 1 + 4 + 3);
    assert_true(closure_trace_mean_level(&t) == 9.0 / 4.0);
    assert_alive(&t, (const uint64_t[]){5, 3, 3, 2, 1}, 4);
    assert_true(closure_trace_alive_fraction(&t, 1) == 3.0 / 5.0);
    struct closure_trace pooled = {0};
    closure_trace_add(&pooled, &t);
    closure_trace_add(&pooled, &t);
    assert_int_equal(pooled.born, 10);
    assert_true(closure_trace_alive_fraction(&pooled, 3) == 2.0 / 5.0);
}

/* Random carriers: the trace's depth and fixed point are closure_run's, the alive counts
 * never rise, and the survivors are the s_0 filaments with a site left (counted here from
 * the labels of s_0). */
static void test_parity_with_closure_run(void **state)
{
    (void)state;
    uint64_t rng = 0x2545f4914f6cdd1dull;
    for (int trial = 0; trial < 200; trial++) {
        int8_t s[N * N], ref[N * N], tmp[2 * N * N];
        double p = 0.1 + 0.8 * uniform(&rng), q = uniform(&rng);
        for (size_t i = 0; i < N * N; i++)
            s[i] = (int8_t)(uniform(&rng) < p ? (uniform(&rng) < q ? 1 : -1) : 0);
        memcpy(ref, s, sizeof s);
        struct atom_frame f;
        struct dashi_error err = {0};
        assert_int_equal(atoms_extract(s, NULL, N, 1.0, &f, &err), 0);
        int depth = closure_run(ref, N, CLOSURE_ETA, NULL, 64, NULL, tmp);
        struct closure_trace t = trace_of(s);
        assert_int_equal(t.depth, depth);
        assert_memory_equal(s, ref, sizeof s);
        assert_int_equal(t.born, f.count);
        bool *seen = calloc(f.count + 1, sizeof *seen);
        assert_non_null(seen);
        uint64_t survived = 0;
        for (size_t i = 0; i < N * N; i++)
            if (ref[i] && !seen[f.labels[i]]) {
                seen[f.labels[i]] = true;
                survived++;
            }
        free(seen);
        assert_int_equal(t.survived, survived);
        for (int k = 1; k <= CLOSURE_TRACE_LEVELS; k++)
            assert_true(t.alive[k] <= t.alive[k - 1]);
        atom_frame_free(&f);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_touching_pair_annihilates_at_level_1),
        cmocka_unit_test(test_isolated_blob_survives),
        cmocka_unit_test(test_thin_filament_dies_when_persistence_removes_it),
        cmocka_unit_test(test_diagonal_across_the_seam_is_one_filament),
        cmocka_unit_test(test_mixed_carrier_counts_add),
        cmocka_unit_test(test_parity_with_closure_run),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
