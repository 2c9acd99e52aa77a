/* SPDX-License-Identifier: MIT */
/* Reading an atoms job's atoms through the daemon's `atoms` op, page by page, for the
 * pictures: the markers of `dashi render --atoms` and the node sizes of `dashi lineage --png`. */
#ifndef DASHI_ATOMS_FETCH_H
#define DASHI_ATOMS_FETCH_H

#include <stddef.h>
#include <stdint.h>

#include "atom_overlay.h"
#include "client.h"

struct atom_info {
    int64_t step, idx;
    int sigma;
    double gamma, cx, cy, eps;
};

struct atom_list {
    struct atom_info *v;
    size_t n, cap;
};

void atom_list_free(struct atom_list *l);

/* Appends the atoms of `step` of atoms job `job` whose index lies in [lo, hi], in index
 * order. Errors are the daemon's (E_NOT_FOUND, E_BAD_VALUE "id" for a job of another kind). */
int atoms_fetch_step(struct dashi_client *c, int64_t job, int64_t step, int64_t lo, int64_t hi, struct atom_list *out,
                     struct dashi_error *err);

/* For `render --atoms JOB [--step T]`: parses JOB (job_s) and T (step_s; NULL = frame),
 * and fetches the atoms of that step as markers (*marks malloc'd, possibly NULL when
 * *n = 0). Errors name "atoms" (not a job id, not an atoms job) or "step". */
int atoms_fetch_marks(struct dashi_client *c, const char *job_s, const char *step_s, int frame, int64_t *job,
                      int64_t *step, struct atom_mark **marks, size_t *n, struct dashi_error *err);

#endif
