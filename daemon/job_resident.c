/* SPDX-License-Identifier: MIT */
/* The kinds' side of the resident-results cache (job.h "device-resident results"): a
 * producer offers its output's device buffer, a consumer binds it, both on the GPU thread. */
#include <stdio.h>

#include "gpu_worker.h"
#include "resident.h"

static struct resident_layout layout_of(enum npy_dtype dtype, int ndim, const uint64_t *shape)
{
    struct resident_layout l = {.dtype = dtype, .ndim = ndim};
    for (int k = 0; k < ndim && k < RESIDENT_MAX_DIMS; k++)
        l.shape[k] = shape[k];
    return l;
}

static uint64_t data_bytes(enum npy_dtype dtype, int ndim, const uint64_t *shape)
{
    uint64_t bytes = npy_item_size(dtype);
    for (int k = 0; k < ndim; k++)
        bytes *= shape[k];
    return bytes;
}

uint64_t job_resident_budget(const struct job_exec *ex) { return ex->dev->resident.budget; }

bool job_resident_offer(struct job_exec *ex, const char *output, const char *hash, struct vk_buffer *buf,
                        enum npy_dtype dtype, int ndim, const uint64_t *shape)
{
    thread_owner_check(&ex->d->sched.dev[ex->dev->index].gpu, "job_resident_offer");
    struct resident *r = &ex->dev->resident;
    uint64_t bytes = data_bytes(dtype, ndim, shape);
    /* Without a consumer waiting, a result never pushes out one that may have one. */
    if (!scheduler_has_dependents(&ex->d->sched, ex->job->id) && bytes > resident_room(r))
        return false;
    struct resident_layout l = layout_of(dtype, ndim, shape);
    /* Without a hash the blob is still being written (the I/O thread): the entry stays
     * pinned until resident_published reports it durable. */
    return resident_put(r, ex->job->id, output, hash, hash && hash[0], buf, bytes, &l);
}

const struct vk_buffer *job_resident_acquire(struct job_exec *ex, const char *input, const char *hash,
                                             enum npy_dtype dtype, int ndim, const uint64_t *shape)
{
    thread_owner_check(&ex->d->sched.dev[ex->dev->index].gpu, "job_resident_acquire");
    struct sched_job *j = ex->job;
    struct resident_layout l = layout_of(dtype, ndim, shape);
    const struct vk_buffer *buf = ndim <= RESIDENT_MAX_DIMS && j->nresident_pins < JOB_MAX_INPUTS
                                      ? resident_acquire(&ex->dev->resident, hash, &l)
                                      : NULL;
    if (buf)
        j->resident_pins[j->nresident_pins++] = buf;
    char key[48];
    snprintf(key, sizeof key, "input_resident.%s", input);
    job_emit_summary(ex, key, buf ? 1 : 0);
    return buf;
}

void job_resident_release(struct job_exec *ex, const struct vk_buffer *buf)
{
    struct sched_job *j = ex->job;
    for (int i = 0; buf && i < j->nresident_pins; i++)
        if (j->resident_pins[i] == buf) {
            resident_release(&ex->dev->resident, buf);
            j->resident_pins[i] = j->resident_pins[--j->nresident_pins];
            return;
        }
}
