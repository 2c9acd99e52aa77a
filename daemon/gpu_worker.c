/* SPDX-License-Identifier: MIT */
#include "gpu_worker.h"

#include "device_recovery.h"
#include "fft_vkfft.h"
#include "io_worker.h"
#include "resident.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- emitters: append to the slice's batch (GPU thread only) ---- */

static struct job_msg *msg_new(enum job_msg_type type, int64_t job)
{
    struct job_msg *m = calloc(1, sizeof *m);
    if (!m) {
        fprintf(stderr, "dashid: out of memory for a job message\n");
        abort(); /* cannot report results without memory; better a clear stop than lost data */
    }
    m->type = type;
    m->job = job;
    return m;
}

static void *grow(void *p, size_t *cap, size_t need, size_t item)
{
    if (need <= *cap)
        return p;
    size_t c = *cap ? *cap * 2 : 64;
    while (c < need)
        c *= 2;
    void *q = realloc(p, c * item);
    if (!q) {
        fprintf(stderr, "dashid: out of memory for job results\n");
        abort();
    }
    *cap = c;
    return q;
}

void job_emit_metric(struct job_exec *ex, const char *key, int64_t step, double value)
{
    thread_owner_check(&ex->d->sched.dev[ex->dev->index].gpu, "job_emit_metric");
    struct job_msg *m = ex->batch;
    m->metrics = grow(m->metrics, &m->cap_metrics, m->nmetrics + 1, sizeof *m->metrics);
    struct metric_rec *r = &m->metrics[m->nmetrics++];
    snprintf(r->key, sizeof r->key, "%s", key);
    r->step = step;
    r->value = value;
}

void job_emit_summary(struct job_exec *ex, const char *key, double value)
{
    job_emit_metric(ex, key, -1, value);
}

void job_emit_hash(struct job_exec *ex, uint32_t traj, uint64_t step, const char hex[33])
{
    thread_owner_check(&ex->d->sched.dev[ex->dev->index].gpu, "job_emit_hash");
    struct job_msg *m = ex->batch;
    m->hashes = grow(m->hashes, &m->cap_hashes, m->nhashes + 1, sizeof *m->hashes);
    struct zhash *h = &m->hashes[m->nhashes++];
    h->traj = traj;
    h->step = step;
    memcpy(h->hex, hex, 33);
}

void job_emit_output(struct job_exec *ex, const char *name, const char *hash)
{
    thread_owner_check(&ex->d->sched.dev[ex->dev->index].gpu, "job_emit_output");
    struct job_msg *m = ex->batch;
    if (m->noutputs == MSG_MAX_OUTPUTS) {
        /* Each kind has a small fixed set of outputs; more is a bug in the kind. */
        fprintf(stderr, "dashid: job %lld reports more than %d outputs; '%s' dropped\n", (long long)m->job,
                MSG_MAX_OUTPUTS, name);
        return;
    }
    /* Outputs become inputs of other jobs, which validate them by their metadata: read it
     * here, on the GPU thread, so the loop thread only records it. */
    if (blobstore_meta(&ex->d->blobs, hash, &m->outputs[m->noutputs].meta, &ex->emit_error) != 0)
        return;
    snprintf(m->outputs[m->noutputs].name, sizeof m->outputs[0].name, "%s", name);
    m->noutputs++;
}

void job_emit_progress(struct job_exec *ex, uint64_t step, uint64_t total)
{
    thread_owner_check(&ex->d->sched.dev[ex->dev->index].gpu, "job_emit_progress");
    ex->batch->has_progress = true;
    ex->batch->step = step;
    ex->batch->total = total;
}

void job_emit_checkpoint(struct job_exec *ex, const char *hash, uint64_t step)
{
    thread_owner_check(&ex->d->sched.dev[ex->dev->index].gpu, "job_emit_checkpoint");
    snprintf(ex->batch->checkpoint, sizeof ex->batch->checkpoint, "%s", hash);
    ex->batch->checkpoint_step = step;
}

bool job_should_stop(const struct job_exec *ex)
{
    const struct sched_job *j = ex->job;
    return atomic_load(&j->cancel) || (j->split && atomic_load(&j->split->abort)) ||
           scheduler_stopping(&ex->d->sched);
}

int job_part(const struct job_exec *ex, uint32_t units, int *part, uint32_t *first, uint32_t *count)
{
    const struct sched_split *sp = ex->job->split;
    *part = ex->job->part;
    if (!sp) {
        *first = 0;
        *count = units;
        return 1;
    }
    sched_split_range(sp->units, sp->nparts, ex->job->part, first, count);
    return sp->nparts;
}

void *job_split_shared(struct job_exec *ex, size_t bytes)
{
    return scheduler_split_shared(&ex->d->sched, ex->job, bytes);
}

bool job_split_last(struct job_exec *ex)
{
    return scheduler_part_ended(&ex->d->sched, ex->job, JOB_SUCCEEDED, NULL) &&
           ex->job->split->state == JOB_SUCCEEDED;
}

struct vk_runtime *job_vk(struct job_exec *ex) { return &ex->dev->vk; }
struct blobstore *job_blobs(struct job_exec *ex) { return &ex->d->blobs; }
struct fft_cache *job_fft(struct job_exec *ex) { return ex->dev->fft; }
struct io_stream *job_io(struct job_exec *ex) { return ex->job->io; }
double job_slice_target_ms(const struct job_exec *ex) { return ex->d->cfg.slice_ms; }
const struct rollout_tuning *job_rollout_tuning(const struct job_exec *ex) { return &ex->d->rollout_tuning; }

double job_checkpoint_interval_ms(const struct job_exec *ex) { return ex->d->cfg.checkpoint_every_s * 1e3; }

const char *job_resume_checkpoint(const struct job_exec *ex, uint64_t *step)
{
    *step = ex->job->resume_checkpoint[0] ? ex->job->resume_step : 0;
    return ex->job->resume_checkpoint;
}

void job_partials_prefix(int64_t id, char *buf, size_t cap) { snprintf(buf, cap, "job-%lld-", (long long)id); }

int job_output_writer(struct job_exec *ex, const char *name, enum npy_dtype dtype, int ndim, const uint64_t *shape,
                      uint64_t keep, struct blob_writer **w, struct dashi_error *err)
{
    char file[96];
    job_partials_prefix(ex->job->id, file, sizeof file);
    snprintf(file + strlen(file), sizeof file - strlen(file), "%s", name);
    return blob_writer_resume(&ex->d->blobs, file, dtype, ndim, shape, keep, w, err);
}

/* ---- the worker loop ---- */

/* Drops every resident result the job still holds (job_resident_acquire), however it
 * ended. Here rather than in job_resident.c: that file reports through the emitters above,
 * and a call back down from it into the worker would make a cycle (tests/e2e/layers.py). */
static void release_resident_pins(struct job_exec *ex)
{
    struct sched_job *j = ex->job;
    while (j->nresident_pins > 0)
        resident_release(&ex->dev->resident, j->resident_pins[--j->nresident_pins]);
}

static void post(struct daemon *d, struct job_msg *m)
{
    scheduler_post(&d->sched, m);
    uv_async_send(&d->wake);
}

/* What a message says of the job's GPU time: the job's (all its parts') and this
 * execution's on its device. */
static void note_seconds(struct job_exec *ex, struct job_msg *m)
{
    m->gpu_seconds = scheduler_job_seconds(&ex->d->sched, ex->job);
    m->device = ex->dev->index;
    m->has_device_seconds = true;
    m->device_seconds = ex->job->run_seconds;
}

/* The end of a part of a split job that is not the last to end: what it reported goes
 * to the loop thread; the job's end is the last part's (a part writes no outputs, the
 * last writes them all). */
static void end_part(struct job_exec *ex)
{
    struct sched_job *j = ex->job;
    if (ex->batch)
        post(ex->d, ex->batch);
    ex->batch = NULL;
    io_stream_free(j->io);
    j->io = NULL;
    scheduler_remove(&ex->d->sched, j);
}

/* A job's end. When the job wrote through the I/O thread, its last batch and its end go
 * there too, behind its writes: the end is recorded once the outputs are durable (a
 * success becomes a failure if they could not be written), and the GPU thread goes on.
 * A part of a split job ends as a part, but the last, which ends the job as its parts
 * made it (sched_split.h). */
static void end_job(struct job_exec *ex, enum job_state state, const struct dashi_error *error)
{
    struct sched_job *j = ex->job;
    if (j->state)
        j->kind->destroy(j->state); /* queues the close of its writers */
    j->state = NULL;
    release_resident_pins(ex); /* after destroy: its engines no longer read them */
    if (ex->batch)
        note_seconds(ex, ex->batch);
    if (j->split) {
        if (!scheduler_part_ended(&ex->d->sched, j, state, error)) {
            end_part(ex);
            return;
        }
        if (j->split->state != JOB_SUCCEEDED) {
            state = j->split->state; /* every part has ended: nothing writes it now */
            error = &j->split->error;
        }
    }
    struct job_msg *m = msg_new(MSG_ENDED, j->id);
    m->state = state;
    note_seconds(ex, m);
    if (error)
        m->error = *error;
    char prefix[48];
    job_partials_prefix(j->id, prefix, sizeof prefix);
    if (j->io && io_stream_used(j->io)) {
        io_stream_finish(j->io, ex->batch, m, prefix);
    } else {
        if (ex->batch)
            post(ex->d, ex->batch);
        if (state != JOB_INTERRUPTED) /* only an interrupted job is continued */
            blobstore_remove_partials(&ex->d->blobs, prefix);
        io_stream_free(j->io);
        post(ex->d, m);
    }
    ex->batch = NULL;
    j->io = NULL;
    scheduler_remove(&ex->d->sched, j);
}

/* Ends a job the daemon stops for `why`, or that its owner cancelled. */
static void end_stopped(struct job_exec *ex, const struct dashi_error *why)
{
    struct dashi_error e;
    if (atomic_load(&ex->job->cancel)) {
        dashi_fail(&e, DASHI_E_CANCELLED, "", "cancelled by its owner");
        end_job(ex, JOB_CANCELLED, &e);
    } else {
        end_job(ex, JOB_INTERRUPTED, why);
    }
}

static void fail_stop(struct job_exec *ex)
{
    struct dashi_error why;
    dashi_fail(&why, DASHI_E_INTERRUPTED, "", "the daemon stopped while the job ran");
    end_stopped(ex, &why);
}

/* Every job started on device g ends with `why` (cancelled instead when its owner asked
 * for that); queued ones stay queued. On stop, and when the device was lost. */
static void end_started(struct gpu_device *g, const struct dashi_error *why)
{
    struct daemon *d = g->d;
    for (;;) {
        struct sched_job *found = NULL;
        uv_mutex_lock(&d->sched.mu);
        for (struct sched_job *j = d->sched.jobs; j; j = j->next)
            if (j->started && j->device == g->index) {
                found = j;
                break;
            }
        uv_mutex_unlock(&d->sched.mu);
        if (!found)
            return;
        struct job_exec ex = {.d = d, .dev = g, .job = found, .batch = NULL};
        end_stopped(&ex, why);
    }
}

/* A job's start, slice or finish failed. When the device was lost, that is not the job's
 * failure: it and every other job started on that device (their state lives there) are
 * interrupted, resumable from their checkpoints, and the device is re-created before its
 * next slice; meanwhile the other devices run the queue, and then this one again. */
static void end_failed(struct job_exec *ex, const struct dashi_error *err)
{
    struct gpu_device *g = ex->dev;
    if (!vk_runtime_lost(&g->vk)) {
        end_job(ex, JOB_FAILED, err);
        return;
    }
    device_loss_begin(g, err);
    struct dashi_error why;
    dashi_fail(&why, DASHI_E_INTERRUPTED, "", "the GPU device was lost while the job ran (%s); `dashi resume` "
               "continues it from its last checkpoint", err->message);
    end_stopped(ex, &why);
    end_started(g, &why);
    device_recreate(g); /* fails only when the daemon stops: scheduler_next then returns NULL */
}

/* Device memory the daemon keeps for reuse (idle FFT plans, empty sub-allocation blocks)
 * must never be why a job fails: on E_DEVICE_MEMORY it is released and start() tried once
 * more. What the job itself needs beyond the device is its own failure. */
static int start_job(struct job_exec *ex, struct sched_job *j, struct dashi_error *err)
{
    if (j->kind->start(ex, j->params, &j->state, err) == 0)
        return 0;
    j->state = NULL;
    if (err->code != DASHI_E_DEVICE_MEMORY)
        return -1;
    fft_cache_trim(ex->dev->fft);
    VkDeviceSize released = vk_alloc_trim(&ex->dev->vk);
    struct dashi_error first = *err;
    dashi_error_clear(err);
    if (j->kind->start(ex, j->params, &j->state, err) == 0)
        return 0;
    j->state = NULL;
    if (err->code == DASHI_E_DEVICE_MEMORY)
        dashi_fail(err, DASHI_E_DEVICE_MEMORY, first.field, "%s (also after releasing idle FFT plans and %llu "
                   "bytes of cached blocks)", first.message, (unsigned long long)released);
    return -1;
}

/* Runs one slice of job j on device g (starting it first if needed). */
static void run_slice(struct gpu_device *g, struct sched_job *j)
{
    struct daemon *d = g->d;
    struct job_exec ex = {.d = d, .dev = g, .job = j, .batch = msg_new(MSG_SLICE, j->id)};
    struct dashi_error err;
    dashi_error_clear(&err);

    if (atomic_load(&j->cancel)) {
        fail_stop(&ex);
        return;
    }
    if (!j->io && !(j->io = io_stream_new(&d->io, j->id, &g->resident))) {
        dashi_fail(&err, DASHI_E_INTERNAL, "", "out of memory for the job's I/O stream");
        end_job(&ex, JOB_FAILED, &err);
        return;
    }
    if (io_stream_error(j->io, &err) != 0) { /* its writes failed on the I/O thread */
        end_job(&ex, JOB_FAILED, &err);
        return;
    }
    uint64_t t0 = uv_hrtime();
    if (!j->state) {
        struct job_msg *started = msg_new(MSG_STARTED, j->id);
        started->device = g->index;
        post(d, started);
        if (start_job(&ex, j, &err) != 0) {
            end_failed(&ex, &err);
            return;
        }
    }
    bool done = false;
    int rc = j->kind->slice(&ex, j->state, &done, &err);
    double secs = (double)(uv_hrtime() - t0) * 1e-9;
    j->gpu_seconds += secs;
    j->run_seconds += secs;
    scheduler_charge(&d->sched, j, secs, now_seconds());
    if (rc != 0) {
        end_failed(&ex, &err);
        return;
    }
    j->io_wait = io_stream_waiting(j->io, &j->io_wait_gen); /* then not run until staging is freed */
    if (ex.emit_error.code != DASHI_OK) {
        end_job(&ex, JOB_FAILED, &ex.emit_error);
        return;
    }
    if (done) {
        if (j->kind->finish(&ex, j->state, &err) != 0)
            end_failed(&ex, &err);
        else if (ex.emit_error.code != DASHI_OK)
            end_job(&ex, JOB_FAILED, &ex.emit_error);
        else
            end_job(&ex, JOB_SUCCEEDED, NULL);
        return;
    }
    if (job_should_stop(&ex)) {
        fail_stop(&ex);
        return;
    }
    /* A job over its own limit is stopped here, between slices: the slice's results are
     * kept, the daemon and the other jobs are not affected. */
    double job_seconds = scheduler_job_seconds(&d->sched, j);
    if (j->time_limit > 0 && job_seconds > j->time_limit) {
        dashi_fail(&err, DASHI_E_QUOTA, j->time_limit_key,
                   "stopped after %.2f s of GPU time: the limit (%s) is %g s", job_seconds, j->time_limit_key,
                   j->time_limit);
        end_job(&ex, JOB_FAILED, &err);
        return;
    }
    note_seconds(&ex, ex.batch);
    post(d, ex.batch);
}

void gpu_worker_main(void *arg)
{
    struct gpu_device *g = arg;
    struct daemon *d = g->d;
    /* From here the device and the states of the jobs placed on it are this thread's (daemon.h). */
    thread_owner_claim(&d->sched.dev[g->index].gpu);
    thread_owner_claim(&g->vk.owner);
    struct sched_job *j;
    while ((j = scheduler_next(&d->sched, g->index)) != NULL)
        run_slice(g, j);
    struct dashi_error why;
    dashi_fail(&why, DASHI_E_INTERRUPTED, "", "the daemon stopped while the job ran");
    end_started(g, &why);
    resident_clear(&g->resident); /* the device is this thread's: its buffers are freed here */
    if (atomic_fetch_sub(&d->gpu_threads_running, 1) == 1)
        io_worker_request_exit(&d->io); /* it posts MSG_WORKER_EXIT once the ends queued are written */
}
