/* SPDX-License-Identifier: MIT */
/* The Slurm executor's state and what the layers below it ask of it (slurm_state.h). */
#include "slurm_state.h"

#include <stdio.h>
#include <stdlib.h>

#include "daemon.h"
#include "server.h" /* struct conn */
#include "slurm_cmd.h"

struct slurm_tracked *slurm_state_find(const struct slurm_state *s, int64_t job)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->jobs[i].job == job)
            return &s->jobs[i];
    return NULL;
}

uint64_t slurm_state_active(const struct daemon *d, uid_t uid)
{
    uint64_t n = 0;
    if (!d->slurm)
        return 0;
    for (size_t i = 0; i < d->slurm->n; i++)
        n += d->slurm->jobs[i].uid == uid;
    for (const struct slurm_batch *b = d->slurm->batches; b; b = b->next)
        n += b->uid == uid ? b->n : 0;
    return n;
}

bool slurm_state_reason(const struct daemon *d, int64_t job, char *out, size_t cap)
{
    const struct slurm_tracked *t = d->slurm ? slurm_state_find(d->slurm, job) : NULL;
    if (!t)
        return false;
    if (t->running)
        snprintf(out, cap, "slurm %s on %s", t->slurm_id, t->node[0] ? t->node : "?");
    else
        snprintf(out, cap, "slurm %s%s%s", t->slurm_id, t->reason[0] ? ": " : "", t->reason);
    return true;
}

int slurm_state_cancel(struct daemon *d, int64_t job, const char *caller_name, struct dashi_error *err)
{
    if (!d->slurm || !d->slurm->cancel)
        return dashi_fail(err, DASHI_E_STATE, "id", "job %lld runs under Slurm, which this daemon does not follow now",
                          (long long)job);
    return d->slurm->cancel(d, job, caller_name, err);
}

void slurm_state_conn_released(struct conn *c)
{
    struct daemon *d = c->d;
    for (struct slurm_batch *b = d->slurm ? d->slurm->batches : NULL; b; b = b->next)
        if (b->conn == c)
            b->conn = NULL;
}

void slurm_batch_free(struct slurm_batch *b)
{
    free(b->ids);
    free(b);
}

void slurm_state_abandon_batches(struct slurm_state *s)
{
    while (s->batches) {
        struct slurm_batch *b = s->batches;
        s->batches = b->next;
        slurm_cmd_abandon(b->cmd);
        slurm_batch_free(b);
    }
}
