/* SPDX-License-Identifier: MIT */
#include "sched_split.h"

#include <stdlib.h>
#include <string.h>

#include "job.h"

void sched_split_range(uint32_t units, int nparts, int part, uint32_t *first, uint32_t *count)
{
    uint32_t n = (uint32_t)nparts, k = (uint32_t)part;
    uint32_t base = units / n, extra = units % n; /* the first `extra` parts take one more */
    *first = k * base + (k < extra ? k : extra);
    *count = base + (k < extra ? 1 : 0);
}

struct sched_split *sched_split_new(const struct job_kind *kind, void *params, uint32_t units, int nparts,
                                    double gpu_seconds)
{
    struct sched_split *sp = calloc(1, sizeof *sp);
    if (!sp)
        return NULL;
    sp->kind = kind;
    sp->params = params;
    sp->units = units;
    sp->nparts = nparts;
    sp->refs = nparts;
    sp->gpu_seconds = gpu_seconds;
    sp->state = JOB_SUCCEEDED;
    atomic_init(&sp->abort, false);
    return sp;
}

void sched_split_unref(struct sched_split *sp)
{
    if (--sp->refs > 0)
        return;
    if (sp->params && sp->kind->free_params)
        sp->kind->free_params(sp->params);
    free(sp->shared);
    free(sp);
}

bool sched_split_part_ended(struct sched_split *sp, enum job_state state, const struct dashi_error *why)
{
    if (state != JOB_SUCCEEDED && sp->state == JOB_SUCCEEDED) {
        sp->state = state;
        if (why)
            sp->error = *why;
        else
            dashi_error_clear(&sp->error);
        atomic_store(&sp->abort, true);
    }
    return ++sp->nended == sp->nparts;
}
