/* SPDX-License-Identifier: MIT */
/* The plain C reference of exact mode's summation order (docs/numerics.md, "Rollout"):
 * out[b][j] = tree(s_0..s_15), s_p = sum over i = p, p+16, ... in increasing i, from +0,
 * each product rounded before its addition; tree = ((s0+s1)+(s2+s3))+((s4+s5)+(s6+s7))
 * and so on, pairwise. shaders/rollout_gemv.comp computes the same with `precise`.
 *
 * No fused multiply-add may appear: the products and sums are separate statements, and
 * contraction is switched off for this file (GCC ignores the standard pragma but also
 * does not contract in ISO C mode (-std=c17); on x86-64 without -march it could not emit
 * FMA instructions anyway). */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

#include "rollout_ref.h"

#include <stdlib.h>

#define P 16

/* Loops run i outer, j inner (A row by row, cache friendly); each (p, j) accumulator
 * still sees its products in increasing i, so the order is the documented one. */
#define REF_STEP(NAME, REAL)                                                                 \
    void NAME(const REAL *A, const REAL *z, REAL *out, uint32_t D, uint32_t B)              \
    {                                                                                         \
        REAL *acc = malloc((size_t)P * D * sizeof *acc);                                     \
        for (uint32_t b = 0; b < B; b++) {                                                    \
            const REAL *zb = z + (size_t)b * D;                                               \
            REAL s[P];                                                                        \
            if (!acc) { /* same order, column by column: slow but needs no memory */         \
                for (uint32_t j = 0; j < D; j++) {                                            \
                    for (uint32_t p = 0; p < P; p++) {                                        \
                        REAL a = 0;                                                           \
                        for (uint32_t i = p; i < D; i += P) {                                 \
                            REAL prod = zb[i] * A[(size_t)i * D + j];                         \
                            a = a + prod;                                                     \
                        }                                                                     \
                        s[p] = a;                                                             \
                    }                                                                         \
                    out[(size_t)b * D + j] = REF_TREE(s);                                     \
                }                                                                             \
                continue;                                                                     \
            }                                                                                 \
            for (size_t q = 0; q < (size_t)P * D; q++)                                        \
                acc[q] = 0;                                                                   \
            for (uint32_t i = 0; i < D; i++) {                                                \
                REAL *ap = acc + (size_t)(i % P) * D;                                         \
                const REAL *row = A + (size_t)i * D;                                          \
                REAL zi = zb[i];                                                              \
                for (uint32_t j = 0; j < D; j++) {                                            \
                    REAL prod = zi * row[j];                                                  \
                    ap[j] = ap[j] + prod;                                                     \
                }                                                                             \
            }                                                                                 \
            for (uint32_t j = 0; j < D; j++) {                                                \
                for (uint32_t p = 0; p < P; p++)                                              \
                    s[p] = acc[(size_t)p * D + j];                                            \
                out[(size_t)b * D + j] = REF_TREE(s);                                         \
            }                                                                                 \
        }                                                                                     \
        free(acc);                                                                            \
    }

/* The fixed pairwise tree over the 16 partials. */
#define REF_TREE(s)                                                                          \
    (((((s)[0] + (s)[1]) + ((s)[2] + (s)[3])) + (((s)[4] + (s)[5]) + ((s)[6] + (s)[7]))) +     \
     ((((s)[8] + (s)[9]) + ((s)[10] + (s)[11])) + (((s)[12] + (s)[13]) + ((s)[14] + (s)[15]))))

REF_STEP(rollout_ref_step_f64, double)
REF_STEP(rollout_ref_step_f32, float)
