/* SPDX-License-Identifier: MIT */
/* `wait` requests (waiters.h): per-connection lists of waiters, told by the job
 * lifecycle (jobs.c) and the GPU thread's reports (results.c), flushed by the server
 * whenever the connection's reply queue has room. */
#include "waiters.h"

#include <stdlib.h>

#include "job_record.h"
#include "server.h"

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

/* Unlinks the waiter at *p (answered) and frees it: it no longer counts against the limit. */
static void waiter_drop(struct conn *c, struct waiter **p)
{
    struct waiter *w = *p;
    *p = w->next;
    c->nwaiters--;
    free(w);
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
            waiter_drop(c, p);
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

void waiters_progress(struct daemon *d, const struct job_msg *m)
{
    notify(d, m->job, m, false);
}

void waiters_job_ended(struct daemon *d, int64_t job)
{
    notify(d, job, NULL, true);
}

void waiters_unrecorded(struct daemon *d, int64_t job, const struct dashi_error *why)
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
            waiter_drop(c, p);
        }
}

void waiters_daemon_stopped(struct daemon *d)
{
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
}
