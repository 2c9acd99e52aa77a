/* SPDX-License-Identifier: MIT */
/* Releasing outputs kept until consumed (keep.h). */
#include "keep.h"

#include <stdio.h>
#include <string.h>

#include "store_keep.h"

#define KEEP_BATCH 16

/* Releases r unless a waiting job still needs its producer's outputs: 1 released, 0 not. */
static int release_one(struct daemon *d, const struct released_output *r)
{
    struct dashi_error err;
    if (scheduler_has_dependents(&d->sched, r->job))
        return 0;
    if (store_keep_release(&d->store, r, now_seconds(), &err) != 0) {
        fprintf(stderr, "dashid: releasing output %s of job %lld: %s\n", r->name, (long long)r->job, err.message);
        return 0;
    }
    if (blobstore_remove(&d->blobs, r->hash, &err) != 0)
        fprintf(stderr, "dashid: removing the released blob %s (gc will): %s\n", r->hash, err.message);
    fprintf(stderr, "dashid: output %s of job %lld released (keep %s; consumed by job %lld)\n", r->name,
            (long long)r->job, r->rule, (long long)r->consumed_by);
    return 1;
}

void keep_job_ended(struct daemon *d, int64_t id)
{
    struct released_output r[KEEP_BATCH];
    size_t n;
    int released;
    do { /* a full batch may leave more; one released nothing makes no progress */
        struct dashi_error err;
        if (store_keep_releasable(&d->store, id, r, KEEP_BATCH, &n, &err) != 0) {
            fprintf(stderr, "dashid: keep rules after job %lld: %s\n", (long long)id, err.message);
            return;
        }
        released = 0;
        for (size_t i = 0; i < n; i++) {
            bool seen = false; /* two outputs of one job with the same bytes go together */
            for (size_t k = 0; k < i && !seen; k++)
                seen = strcmp(r[k].hash, r[i].hash) == 0;
            released += seen ? 0 : release_one(d, &r[i]);
        }
    } while (n == KEEP_BATCH && released > 0);
}
