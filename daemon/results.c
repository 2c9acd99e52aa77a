/* The loop thread's side of the GPU thread's reports: each message is written to the
 * database in one transaction (the single writer), then the connections waiting on
 * that job get an event or, when it ended, its final record. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "disk.h"
#include "ops.h"
#include "store_atoms.h"

/* A `wait` request. Events are coalesced: a waiter holds at most the latest progress
 * (sent when its connection's queue has room), so a client that does not read costs
 * one small struct per wait, never a backlog; its final record is owed until sent. */
struct waiter {
    uint64_t req_id;
    int64_t job;
    bool event_pending; /* the latest progress below is not sent yet */
    bool ended;         /* the job ended: its record is owed */
    bool started;       /* the latest event is the job's start ("running") */
    uint64_t step, total;
    struct waiter *next;
};

int waiter_add(struct conn *c, uint64_t req_id, int64_t job_id, struct dashi_error *err)
{
    uint64_t limit = c->d->cfg.conn.max_waits_per_connection;
    if (c->nwaiters >= limit)
        return dashi_fail(err, DASHI_E_QUOTA, "max_waits_per_connection",
                          "%llu waits are already pending on this connection, the limit (max_waits_per_connection)",
                          (unsigned long long)c->nwaiters);
    struct waiter *w = calloc(1, sizeof *w);
    if (!w)
        return dashi_fail(err, DASHI_E_INTERNAL, "", "out of memory");
    w->req_id = req_id;
    w->job = job_id;
    w->next = c->waiters;
    c->waiters = w;
    c->nwaiters++;
    return 0;
}

void waiters_release(struct conn *c)
{
    for (struct waiter *w = c->waiters, *n; w; w = n) {
        n = w->next;
        free(w);
    }
    c->waiters = NULL;
    c->nwaiters = 0;
}

static void send_event(struct conn *c, const struct waiter *w)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    frame_begin(&sb);
    pack_event_begin(&pk, w->req_id);
    msgpack_pack_map(&pk, 4);
    pk_kv_i64(&pk, "job", w->job);
    pk_kv_str(&pk, "state", w->started ? "running" : "progress");
    pk_kv_u64(&pk, "step", w->step);
    pk_kv_u64(&pk, "total", w->total);
    frame_finish(&sb);
    conn_send(c, &sb);
    msgpack_sbuffer_destroy(&sb);
}

static void send_record(struct conn *c, uint64_t req_id, int64_t job)
{
    struct dashi_error err;
    dashi_error_clear(&err);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    frame_begin(&sb);
    pack_ok_begin(&pk, req_id);
    if (pack_job_record(&pk, &c->d->store, job, c->uid, false, &err) != 0) {
        frame_begin(&sb);
        pack_error(&pk, req_id, &err);
    }
    frame_finish(&sb);
    conn_send(c, &sb);
    msgpack_sbuffer_destroy(&sb);
}

void waiters_flush(struct conn *c)
{
    for (struct waiter **p = &c->waiters; *p && !c->closing && conn_has_room(c);) {
        struct waiter *w = *p;
        if (w->ended) {
            send_record(c, w->req_id, w->job);
            *p = w->next;
            c->nwaiters--;
            free(w);
            continue;
        }
        if (w->event_pending) {
            send_event(c, w);
            w->event_pending = false;
        }
        p = &w->next;
    }
}

/* ended: the waiters of job are owed its record; else their pending event becomes m. */
static void notify(struct daemon *d, int64_t job, const struct job_msg *m, bool ended)
{
    for (struct conn *c = d->conns; c; c = c->next) {
        if (c->closing)
            continue;
        bool touched = false;
        for (struct waiter *w = c->waiters; w; w = w->next) {
            if (w->job != job || w->ended)
                continue;
            touched = true;
            w->ended = ended;
            w->event_pending = !ended;
            if (!ended) {
                w->started = m->type == MSG_STARTED;
                w->step = m->step;
                w->total = m->total;
            }
        }
        if (touched)
            conn_pump(c);
    }
}

void results_job_ended(struct daemon *d, int64_t job_id)
{
    notify(d, job_id, NULL, true);
}


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
    const struct vk_runtime *vk = &a->d->vk;

    if (m->type == MSG_STARTED) {
        struct job_row row;
        if (store_job_get(st, m->job, &row, err) != 0)
            return -1;
        char precision[8];
        snprintf(precision, sizeof precision, "%s", row.precision);
        job_row_free(&row);
        return store_job_set_state(st, m->job, JOB_RUNNING, now_seconds(), NULL, err) ||
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
    if (m->type == MSG_SLICE && m->has_progress &&
        store_job_set_progress(st, m->job, m->step, m->total, m->gpu_seconds, err) != 0)
        return -1;
    if (m->type == MSG_ENDED) {
        struct job_row row;
        if (store_job_get(st, m->job, &row, err) != 0)
            return -1;
        uint64_t step = row.step, total = row.total_steps;
        job_row_free(&row);
        if (store_job_set_progress(st, m->job, m->state == JOB_SUCCEEDED ? total : step, total, m->gpu_seconds,
                                   err) != 0)
            return -1;
        /* Atoms jobs hand their tables over as outputs; they enter the atoms tables here
         * (store_atoms.h). A failed import fails the job instead of leaving it running. */
        enum job_state state = m->state;
        const struct dashi_error *why = m->error.code != DASHI_OK ? &m->error : NULL;
        struct dashi_error import_err;
        dashi_error_clear(&import_err);
        if (state == JOB_SUCCEEDED && store_atoms_import(st, &a->d->blobs, m->job, &import_err) != 0) {
            state = JOB_FAILED;
            why = &import_err;
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

/* The waiters of a job whose end could not be recorded get that error rather than wait
 * for a change the database cannot show. */
static void notify_unrecorded(struct daemon *d, int64_t job, const struct dashi_error *why)
{
    struct dashi_error e;
    dashi_fail(&e, why->code, why->field, "job %lld ended, but that could not be recorded (%s); the daemon "
               "retries every second: ask again later", (long long)job, why->message);
    for (struct conn *c = d->conns; c; c = c->next)
        for (struct waiter **p = &c->waiters; *p;) {
            struct waiter *w = *p;
            if (w->job != job || c->closing) {
                p = &w->next;
                continue;
            }
            conn_send_error(c, w->req_id, &e);
            *p = w->next;
            free(w);
        }
}

int results_unrecorded(const struct daemon *d, int64_t job, struct dashi_error *err)
{
    for (const struct job_msg *m = d->unrecorded; m; m = m->next)
        if (m->job == job)
            return dashi_fail(err, DASHI_E_DB, "id", "job %lld ended, but that could not be recorded yet (is the "
                              "disk full?); the daemon retries every second", (long long)job);
    return 0;
}

/* One message: recorded, then the waiters told; an end that cannot be recorded is kept on
 * d->unrecorded (and retried by record_retry). Returns whether m was kept. */
static bool apply_msg(struct daemon *d, struct job_msg *m)
{
    struct dashi_error err;
    dashi_error_clear(&err);
    struct apply_ctx a = {.d = d, .m = m};
    if (record(d, &a, &err) != 0) {
        fprintf(stderr, "dashid: recording results of job %lld failed: %s: %s\n", (long long)m->job,
                dashi_code_name(err.code), err.message);
        if (m->type != MSG_ENDED) {
            notify(d, m->job, m, false);
            return false;
        }
        notify_unrecorded(d, m->job, &err);
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
    notify(d, m->job, m, m->type == MSG_ENDED);
    if (m->type == MSG_ENDED)
        jobs_dependency_ended(d, m->job);
    return false;
}

void results_retry(uv_timer_t *h)
{
    struct daemon *d = h->data;
    while (d->unrecorded) {
        struct job_msg *m = d->unrecorded;
        d->unrecorded = m->next;
        if (apply_msg(d, m)) /* kept again, at the end: the disk is still full */
            break;
        job_msg_free(m);
    }
    if (!d->unrecorded)
        uv_timer_stop(&d->record_retry);
}

static void finish_stop(struct daemon *d)
{
    uv_thread_join(&d->gpu_thread);
    d->gpu_thread_started = false;
    /* Jobs still queued stay queued in the database for the next start; their waiters
     * learn that this daemon will not run them. */
    struct dashi_error e;
    dashi_fail(&e, DASHI_E_SHUTTING_DOWN, "", "the daemon stopped; the job stays queued for its next start");
    for (struct conn *c = d->conns; c; c = c->next) {
        for (struct waiter *w = c->waiters; w; w = w->next)
            if (w->ended)
                send_record(c, w->req_id, w->job);
            else
                conn_send_error(c, w->req_id, &e);
        waiters_release(c);
    }
    server_close_all(d);
    results_retry(&d->record_retry); /* a last try; what still fails is said, then dropped */
    for (struct job_msg *m = d->unrecorded, *n; m; m = n) {
        n = m->next;
        fprintf(stderr, "dashid: the end of job %lld was never recorded: it is interrupted or run again at "
                "the next start\n", (long long)m->job);
        job_msg_free(m);
    }
    d->unrecorded = NULL;
    uv_close((uv_handle_t *)&d->record_retry, NULL);
    uv_close((uv_handle_t *)&d->wake, NULL);
    uv_close((uv_handle_t *)&d->sig_term, NULL);
    uv_close((uv_handle_t *)&d->sig_int, NULL);
}

void results_on_wake(uv_async_t *h)
{
    struct daemon *d = h->data;
    struct job_msg *m = scheduler_take_msgs(&d->sched);
    bool worker_exited = false;
    while (m) {
        struct job_msg *next = m->next;
        if (m->type == MSG_WORKER_EXIT)
            worker_exited = true;
        else if (apply_msg(d, m)) {
            m = next;
            continue;
        }
        job_msg_free(m);
        m = next;
    }
    if (worker_exited)
        finish_stop(d);
}
