/* SPDX-License-Identifier: MIT */
/* The GPU thread's reports recorded on the loop thread (results.h). */
#include "results.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "disk.h"
#include "jobs.h"
#include "store_devices.h"
#include "waiters.h"

struct apply_ctx {
    struct daemon *d;
    const struct job_msg *m;
    char superseded[DASHI_HASH_HEX + 1]; /* the checkpoint a new one replaced (empty: none) */
};

/* A job keeps only its latest checkpoint: the one it replaced is removed from the blob
 * store once the transaction that recorded the new one has committed, unless something
 * else refers to the same content. */
static void drop_superseded(struct daemon *d, const char *hash)
{
    struct dashi_error err;
    dashi_error_clear(&err);
    int referenced = store_blob_referenced(&d->store, hash, &err);
    char path[4096];
    if (referenced != 0 || blobstore_path(&d->blobs, hash, path, sizeof path) != 0) {
        if (referenced < 0)
            fprintf(stderr, "dashid: keeping checkpoint %s: %s\n", hash, err.message);
        return;
    }
    if (unlink(path) != 0 && errno != ENOENT)
        fprintf(stderr, "dashid: removing superseded checkpoint %s: %s\n", path, strerror(errno));
}

static int apply_fn(void *ctx, struct dashi_error *err)
{
    struct apply_ctx *a = ctx;
    struct store *st = &a->d->store;
    const struct job_msg *m = a->m;
    const struct vk_runtime *vk = &a->d->dev[m->device].vk;

    if (m->type == MSG_STARTED) {
        struct job_row row;
        if (store_job_get(st, m->job, &row, err) != 0)
            return -1;
        char precision[8];
        snprintf(precision, sizeof precision, "%s", row.precision);
        bool running = row.state == JOB_RUNNING; /* another part of a split job started it */
        job_row_free(&row);
        if (store_job_device_started(st, m->job, m->device, vk->device_name, err) != 0)
            return -1;
        if (running)
            return 0;
        char on[300];
        snprintf(on, sizeof on, "on device %d (%s)", m->device, vk->device_name);
        return store_job_set_state_note(st, m->job, JOB_RUNNING, now_seconds(), NULL, on, err) ||
               store_job_set_device(st, m->job, vk->device_name, vk->driver_name, precision, err);
    }
    if (m->nmetrics) {
        struct metric *ms = malloc(m->nmetrics * sizeof *ms);
        if (!ms)
            return dashi_fail(err, DASHI_E_INTERNAL, "", "out of memory");
        for (size_t i = 0; i < m->nmetrics; i++)
            ms[i] = (struct metric){.key = m->metrics[i].key, .step = m->metrics[i].step, .value = m->metrics[i].value};
        int rc = store_metrics_add(st, m->job, ms, m->nmetrics, err);
        free(ms);
        if (rc != 0)
            return -1;
    }
    if (m->nhashes && store_hashes_add(st, m->job, m->hashes, m->nhashes, err) != 0)
        return -1;
    uid_t owner = 0; /* outputs are stored by the job's owner (the disk quota counts them) */
    if (m->noutputs) {
        struct job_row row;
        if (store_job_get(st, m->job, &row, err) != 0)
            return -1;
        owner = row.uid;
        job_row_free(&row);
    }
    for (int i = 0; i < m->noutputs; i++) {
        const struct blob_meta *meta = &m->outputs[i].meta;
        if (store_blob_record(st, meta, owner, now_seconds(), err) != 0 ||
            store_job_blob_add(st, m->job, "output", m->outputs[i].name, meta->hash, err) != 0)
            return -1;
    }
    if (m->checkpoint[0]) {
        struct job_row row;
        if (store_job_get(st, m->job, &row, err) != 0)
            return -1;
        if (row.checkpoint[0] && strcmp(row.checkpoint, m->checkpoint) != 0)
            memcpy(a->superseded, row.checkpoint, sizeof a->superseded);
        job_row_free(&row);
        if (store_job_set_checkpoint(st, m->job, m->checkpoint, m->checkpoint_step, err) != 0)
            return -1;
    }
    if (m->has_device_seconds && store_job_device_seconds(st, m->job, m->device, m->device_seconds, err) != 0)
        return -1;
    if (m->type == MSG_SLICE && m->has_progress &&
        store_job_set_progress(st, m->job, m->step, m->total, m->gpu_seconds, err) != 0)
        return -1;
    if (m->type == MSG_ENDED) {
        struct job_row row;
        if (store_job_get(st, m->job, &row, err) != 0)
            return -1;
        uint64_t step = row.step, total = row.total_steps;
        const struct job_kind *kind = job_kind_find(row.kind);
        job_row_free(&row);
        if (store_job_set_progress(st, m->job, m->state == JOB_SUCCEEDED ? total : step, total, m->gpu_seconds,
                                   err) != 0)
            return -1;
        /* What a kind keeps beyond its outputs enters the database here, in the same
         * transaction (the atoms tables). Its failure fails the job instead of leaving it
         * running. */
        enum job_state state = m->state;
        const struct dashi_error *why = m->error.code != DASHI_OK ? &m->error : NULL;
        struct dashi_error hook_err;
        dashi_error_clear(&hook_err);
        if (state == JOB_SUCCEEDED && kind && kind->on_succeeded &&
            kind->on_succeeded(st, &a->d->blobs, m->job, &hook_err) != 0) {
            state = JOB_FAILED;
            why = &hook_err;
        }
        return store_job_set_state(st, m->job, state, now_seconds(), why, err);
    }
    return 0;
}

/* Records m in one transaction. When that fails for want of space (SQLite reports a full
 * disk as an error of the database or of I/O), the reserve file is deleted and it is
 * tried once more: the end of a job must be recorded, or it would stay running forever. */
static int record(struct daemon *d, struct apply_ctx *a, struct dashi_error *err)
{
    if (store_transaction(&d->store, apply_fn, a, err) == 0)
        return 0;
    if ((err->code != DASHI_E_DB && err->code != DASHI_E_IO) || !disk_reserve_release(d))
        return -1;
    dashi_error_clear(err);
    a->superseded[0] = '\0';
    return store_transaction(&d->store, apply_fn, a, err);
}

int results_unrecorded(const struct daemon *d, int64_t job, struct dashi_error *err)
{
    for (const struct job_msg *m = d->unrecorded; m; m = m->next)
        if (m->job == job)
            return dashi_fail(err, DASHI_E_DB, "id", "job %lld ended, but that could not be recorded yet (is the "
                              "disk full?); the daemon retries every second", (long long)job);
    return 0;
}

bool results_apply(struct daemon *d, struct job_msg *m)
{
    struct dashi_error err;
    dashi_error_clear(&err);
    struct apply_ctx a = {.d = d, .m = m};
    if (record(d, &a, &err) != 0) {
        fprintf(stderr, "dashid: recording results of job %lld failed: %s: %s\n", (long long)m->job,
                dashi_code_name(err.code), err.message);
        if (m->type != MSG_ENDED) {
            waiters_progress(d, m);
            return false;
        }
        waiters_unrecorded(d, m->job, &err);
        struct job_msg **tail = &d->unrecorded;
        while (*tail)
            tail = &(*tail)->next;
        m->next = NULL;
        *tail = m;
        if (!uv_is_active((uv_handle_t *)&d->record_retry))
            uv_timer_start(&d->record_retry, results_retry, 1000, 1000);
        return true;
    }
    if (a.superseded[0])
        drop_superseded(d, a.superseded);
    if (d->reserve_released)
        disk_reserve_make(d);
    if (m->type == MSG_ENDED)
        jobs_ended(d, m->job);
    else if (m->type == MSG_STARTED || m->has_progress) /* a checkpoint of the I/O thread says no step */
        waiters_progress(d, m);
    if (m->type == MSG_STARTED)
        jobs_started(d, m->job);
    return false;
}

void results_retry(uv_timer_t *h)
{
    struct daemon *d = h->data;
    while (d->unrecorded) {
        struct job_msg *m = d->unrecorded;
        d->unrecorded = m->next;
        if (results_apply(d, m)) /* kept again, at the end: the disk is still full */
            break;
        job_msg_free(m);
    }
    if (!d->unrecorded)
        uv_timer_stop(&d->record_retry);
}

void results_last_try(struct daemon *d)
{
    results_retry(&d->record_retry);
    for (struct job_msg *m = d->unrecorded, *n; m; m = n) {
        n = m->next;
        fprintf(stderr, "dashid: the end of job %lld was never recorded: it is interrupted or run again at "
                "the next start\n", (long long)m->job);
        job_msg_free(m);
    }
    d->unrecorded = NULL;
}
