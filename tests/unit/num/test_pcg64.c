/* SPDX-License-Identifier: MIT */
/* numpy's SeedSequence + PCG64 (docs/numerics.md "Decode"): vectors produced by
 * numpy 1.24's SeedSequence and default_rng, the reference implementation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>

#include "pcg64.h"

static void test_seedseq_12345(void **state)
{
    (void)state;
    uint32_t w[8];
    seedseq_generate_state(12345, w, 8);
    const uint64_t expect[4] = {0xb5ae6482a03d837cull, 0xbbe2996ffa1f7a2full, 0x64e39a9f37158f94ull,
                                0x3ebb0f96a013fd73ull};
    for (int k = 0; k < 4; k++)
        assert_true(((uint64_t)w[2 * k] | ((uint64_t)w[2 * k + 1] << 32)) == expect[k]);
}

static void test_first_output_12345(void **state)
{
    (void)state;
    struct pcg64 g;
    pcg64_seed(&g, 12345);
    assert_true(pcg64_next(&g) == 0x3a32b18db2ffc19dull);
}

/* Seeds >= 2^32 have two entropy words (decode seeds pass 2^32 after t = 4295). */
static void test_two_word_seed(void **state)
{
    (void)state;
    struct pcg64 g;
    pcg64_seed(&g, (1ull << 40) + 7);
    assert_true(pcg64_next(&g) == 0xd46e9e2034de21aaull);
}

static void test_uniform_range_and_determinism(void **state)
{
    (void)state;
    struct pcg64 a, b;
    pcg64_seed(&a, 99);
    pcg64_seed(&b, 99);
    double sum = 0;
    for (int i = 0; i < 100000; i++) {
        double x = pcg64_uniform(&a, 0, 2 * M_PI);
        assert_true(x >= 0 && x < 2 * M_PI);
        assert_true(x == pcg64_uniform(&b, 0, 2 * M_PI));
        sum += x;
    }
    assert_true(fabs(sum / 100000 - M_PI) < 0.05);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seedseq_12345),
        cmocka_unit_test(test_first_output_12345),
        cmocka_unit_test(test_two_word_seed),
        cmocka_unit_test(test_uniform_range_and_determinism),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
