/* SPDX-License-Identifier: MIT */
/* Host closure and saturate (closure.h): plain loops, the reference for the GPU kernels. */
#include "closure.h"

#include <math.h>
#include <stdlib.h>
#include <stdbool.h>
#include <string.h>

double closure_level_mean_abs(const struct closure_level *l)
{
    return l->active ? l->abs_sum / (double)l->active : 0.0;
}

double closure_level_coherence(const struct closure_level *l)
{
    return l->active ? fabs((double)l->balance) / (double)l->active : 0.0;
}

void carrier_ternary(const double *x, size_t count, double tau, int8_t *s)
{
    for (size_t i = 0; i < count; i++)
        s[i] = (int8_t)(x[i] >= tau ? 1 : x[i] <= -tau ? -1 : 0);
}

/* Sum of the periodic 3×3 neighbourhood of (i, j), centre included. */
static int box_sum(const int8_t *s, uint32_t n, uint32_t i, uint32_t j)
{
    int sum = 0;
    for (uint32_t di = 0; di < 3; di++)
        for (uint32_t dj = 0; dj < 3; dj++)
            sum += s[((i + n + di - 1) % n) * n + (j + n + dj - 1) % n];
    return sum;
}

static int sign_of(int v) { return (v > 0) - (v < 0); }

int carrier_saturate(int8_t *s, uint32_t n, int max_passes, int8_t *tmp)
{
    size_t nn = (size_t)n * n;
    for (int pass = 0; pass < max_passes; pass++) {
        bool changed = false;
        for (uint32_t i = 0; i < n; i++)
            for (uint32_t j = 0; j < n; j++) {
                tmp[i * n + j] = (int8_t)sign_of(box_sum(s, n, i, j));
                changed |= tmp[i * n + j] != s[i * n + j];
            }
        if (!changed)
            return pass;
        memcpy(s, tmp, nn);
    }
    return max_passes;
}

void closure_annihilate(const int8_t *s, uint32_t n, int8_t *out)
{
    for (uint32_t i = 0; i < n; i++)
        for (uint32_t j = 0; j < n; j++) {
            int8_t v = s[i * n + j];
            bool pos = false, neg = false;
            for (uint32_t di = 0; di < 3 && v; di++)
                for (uint32_t dj = 0; dj < 3; dj++) {
                    int8_t w = s[((i + n + di - 1) % n) * n + (j + n + dj - 1) % n];
                    pos |= w > 0;
                    neg |= w < 0;
                }
            out[i * n + j] = (pos && neg) ? 0 : v;
        }
}

void closure_persist(const int8_t *s, uint32_t n, int eta, int8_t *out)
{
    for (uint32_t i = 0; i < n; i++)
        for (uint32_t j = 0; j < n; j++) {
            int sum = box_sum(s, n, i, j);
            out[i * n + j] = (int8_t)((s[i * n + j] != 0 && abs(sum) >= eta) ? sign_of(sum) : 0);
        }
}

struct closure_level closure_level_of(const int8_t *s, const int8_t *prev, uint32_t n, const double *field)
{
    struct closure_level l = {0};
    size_t nn = (size_t)n * n;
    for (size_t i = 0; i < nn; i++) {
        if (s[i]) {
            l.active++;
            l.balance += s[i];
            if (field)
                l.abs_sum += fabs(field[i]);
        } else if (prev && prev[i]) {
            l.killed++;
        }
    }
    return l;
}

int closure_run(int8_t *s, uint32_t n, int eta, const double *field, int max_levels, struct closure_level *levels,
                int8_t *tmp)
{
    size_t nn = (size_t)n * n;
    int8_t *ann = tmp, *next = tmp + nn;
    if (levels)
        levels[0] = closure_level_of(s, NULL, n, field);
    for (int k = 1; k <= max_levels; k++) {
        closure_annihilate(s, n, ann);
        closure_persist(ann, n, eta, next);
        if (memcmp(next, s, nn) == 0)
            return k - 1;
        if (levels)
            levels[k] = closure_level_of(next, s, n, field);
        memcpy(s, next, nn);
    }
    return max_levels + 1;
}
