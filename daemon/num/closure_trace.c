/* SPDX-License-Identifier: MIT */
/* The annihilation trace (closure_trace.h): the closure advanced one pass at a time by
 * closure_run itself (one definition of the closure), each removed site taken off its
 * filament's count of supported sites; a filament whose count reaches 0 at pass k is
 * annihilated at level k. Support only shrinks, so every site supported at any level is a
 * site of s_0 and has a label. */
#include "closure_trace.h"

#include <stdlib.h>
#include <string.h>

#include "atoms.h"
#include "closure.h"

/* Filament k's supported sites, from the labels of s_0. */
static uint32_t *site_counts(const struct atom_frame *f)
{
    uint32_t *left = malloc((f->count ? f->count : 1) * sizeof *left);
    for (size_t k = 0; left && k < f->count; k++)
        left[k] = f->atoms[k].cells;
    return left;
}

/* Takes the sites removed by one pass (supported in prev, not in s) off their filaments;
 * returns the filaments whose last site went. */
static uint64_t tally_pass(const int8_t *prev, const int8_t *s, size_t nn, const int32_t *labels, uint32_t *left)
{
    uint64_t died = 0;
    for (size_t i = 0; i < nn; i++)
        if (prev[i] && !s[i] && --left[labels[i]] == 0)
            died++;
    return died;
}

static int trace_passes(int8_t *s, uint32_t n, int eta, int max_levels, const struct atom_frame *f, uint32_t *left,
                        int8_t *prev, int8_t *tmp, struct closure_trace *t, struct dashi_error *err)
{
    size_t nn = (size_t)n * n;
    uint64_t alive = f->count;
    for (int k = 1;; k++) {
        if (k > max_levels)
            return dashi_fail(err, DASHI_E_INTERNAL, "", "the closure reached no fixed point in %d passes",
                              max_levels);
        memcpy(prev, s, nn);
        if (closure_run(s, n, eta, NULL, 1, NULL, tmp) == 0) {
            t->depth = k - 1;
            break;
        }
        uint64_t died = tally_pass(prev, s, nn, f->labels, left);
        alive -= died;
        t->level_sum += died * (uint64_t)k;
        if (k <= CLOSURE_TRACE_LEVELS)
            t->alive[k] = alive;
    }
    t->survived = alive;
    for (int k = t->depth + 1; k <= CLOSURE_TRACE_LEVELS; k++)
        t->alive[k] = alive;
    return 0;
}

int closure_trace_run(int8_t *s, uint32_t n, int eta, int max_levels, struct closure_trace *t,
                      struct dashi_error *err)
{
    memset(t, 0, sizeof *t);
    struct atom_frame f;
    if (atoms_extract(s, NULL, n, 1.0, &f, err) != 0)
        return -1;
    size_t nn = (size_t)n * n;
    uint32_t *left = site_counts(&f);
    int8_t *prev = malloc(nn), *tmp = malloc(2 * nn);
    int rc = left && prev && tmp ? 0 : dashi_fail(err, DASHI_E_INTERNAL, "", "out of host memory for the trace");
    t->born = t->alive[0] = f.count;
    if (rc == 0)
        rc = trace_passes(s, n, eta, max_levels, &f, left, prev, tmp, t, err);
    free(left);
    free(prev);
    free(tmp);
    atom_frame_free(&f);
    return rc;
}

void closure_trace_add(struct closure_trace *a, const struct closure_trace *b)
{
    a->depth = b->depth > a->depth ? b->depth : a->depth;
    a->born += b->born;
    a->survived += b->survived;
    a->level_sum += b->level_sum;
    for (int k = 0; k <= CLOSURE_TRACE_LEVELS; k++)
        a->alive[k] += b->alive[k];
}

double closure_trace_mean_level(const struct closure_trace *t)
{
    uint64_t dead = t->born - t->survived;
    return dead ? (double)t->level_sum / (double)dead : 0.0;
}

double closure_trace_alive_fraction(const struct closure_trace *t, int k)
{
    if (k < 0 || k > CLOSURE_TRACE_LEVELS)
        return 0.0;
    return t->born ? (double)t->alive[k] / (double)t->born : 1.0;
}
