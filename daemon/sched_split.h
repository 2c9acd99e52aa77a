/* SPDX-License-Identifier: MIT */
/* Split jobs (docs/architecture.md "Split batches"): a job whose kind can run its units
 * (a batched rollout's trajectories) in independent parts is, when several devices are
 * idle, run as parts: scheduler-internal sub-jobs of one job, each a sched_job with the
 * job's id placed on its own device, running a contiguous range of the units. The parts
 * share one sched_split: the parameters (owned here), the outputs they assemble, the
 * job's GPU seconds, and the job's outcome. The part to end last posts the job's end:
 * with the assembled outputs when every part succeeded, else as the first part that did
 * not (a part that fails, is cancelled or interrupted stops the others). */
#ifndef DASHI_SCHED_SPLIT_H
#define DASHI_SCHED_SPLIT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "errors.h"
#include "store.h"

struct job_kind;

struct sched_split {
    int nparts;
    uint32_t units;          /* split into nparts contiguous ranges (sched_split_range) */
    const struct job_kind *kind;
    void *params;            /* the job's, shared by its parts */
    atomic_bool abort;       /* a part ended otherwise than by succeeding: the others stop */
    /* Under the scheduler's mu. */
    int refs;                /* parts not yet freed */
    int nended;
    double gpu_seconds;      /* the job's: its stored time plus every part's slices */
    enum job_state state;    /* JOB_SUCCEEDED until a part ends otherwise */
    struct dashi_error error;
    /* The outputs being assembled (job_split_shared): GPU threads of the parts, each
     * writing its own range; read by the last part only. */
    void *shared;
    size_t shared_bytes;
};

/* Part `part` of `nparts` over `units` (1 <= nparts <= units): units [*first, *first +
 * *count), contiguous, in order, their sizes differing by at most one. Pure. */
void sched_split_range(uint32_t units, int nparts, int part, uint32_t *first, uint32_t *count);

/* A split of a job into nparts (it takes params); NULL when out of memory. */
struct sched_split *sched_split_new(const struct job_kind *kind, void *params, uint32_t units, int nparts,
                                    double gpu_seconds);
/* A part is freed (under mu): the split and the params go with the last. */
void sched_split_unref(struct sched_split *sp);
/* A part ended in `state` (under mu): the job's outcome is the first that is not a
 * success; any such stops the others. True when it was the last part to end. */
bool sched_split_part_ended(struct sched_split *sp, enum job_state state, const struct dashi_error *why);

#endif
