/* SPDX-License-Identifier: MIT */
/* Subscriptions (waiters.h): per-connection lists of waiters, told by the job lifecycle
 * (jobs.c) and the GPU thread's reports (results.c), flushed by the server whenever the
 * connection's reply queue has room. */
#include "waiters.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "job_record.h"
#include "queue_reason.h"
#include "server.h"

/* A follower sends at most this many stored events per turn, then lets the others go. */
#define LOG_BATCH 64

struct waiter {
    uint64_t req_id;
    int64_t job;
    enum waiter_mode mode;
    bool event_pending; /* the latest state below is not sent yet */
    bool ended;         /* the job ended: its answer is owed */
    bool done;          /* watch: its end is sent; the request waits for its other jobs */
    bool start_event;   /* wait: the latest event is the job's start ("running") */
    bool running;       /* the job has started */
    uint64_t step, total;
    /* The rate is measured from the first progress this waiter saw (the loop's clock). */
    bool has_origin;
    uint64_t origin_step, origin_ms;
    double rate; /* steps per second, 0 until two reports are apart in time */
    char reason[QUEUE_REASON_MAX]; /* watch: the queue reason last sent */
    char final_state[16], final_code[32]; /* watch: the job's end, for the request's answer */
    int64_t log_after; /* log: the last event sent */
    struct waiter *next;
};

int waiters_reserve(const struct conn *c, size_t n, struct dashi_error *err)
{
    uint64_t limit = c->d->cfg.conn.max_waits_per_connection;
    if (c->nwaiters + n > limit)
        return dashi_fail(err, DASHI_E_QUOTA, "max_waits_per_connection",
                          "%llu waits are already pending on this connection and %zu more would pass the limit "
                          "(max_waits_per_connection = %llu)",
                          (unsigned long long)c->nwaiters, n, (unsigned long long)limit);
    return 0;
}

int waiter_add(struct conn *c, const struct waiter_spec *spec, struct dashi_error *err)
{
    if (waiters_reserve(c, 1, err) != 0)
        return -1;
    struct waiter *w = calloc(1, sizeof *w);
    if (!w)
        return dashi_fail(err, DASHI_E_INTERNAL, "", "out of memory");
    w->req_id = spec->req_id;
    w->job = spec->job;
    w->mode = spec->mode;
    w->running = spec->running;
    w->ended = spec->ended;
    w->step = spec->step;
    w->total = spec->total;
    w->log_after = spec->log_after;
    if (w->mode == WAITER_WATCH) { /* the first event is where the job stands now */
        queue_reason(c->d, w->job, w->reason, sizeof w->reason);
        w->event_pending = true;
    }
    w->event_pending |= w->mode == WAITER_LOG; /* the events stored so far */
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

/* Drops every waiter of request req_id (a watch has one per job). */
static void drop_request(struct conn *c, uint64_t req_id)
{
    for (struct waiter **p = &c->waiters; *p;)
        if ((*p)->req_id == req_id)
            waiter_drop(c, p);
        else
            p = &(*p)->next;
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

/* ---- what is sent ---- */

/* The frame sb (begun with frame_begin) goes out. */
static void send_frame(struct conn *c, msgpack_sbuffer *sb)
{
    frame_finish(sb);
    conn_send(c, sb);
    msgpack_sbuffer_destroy(sb);
}

static void frame_start(msgpack_sbuffer *sb, msgpack_packer *pk)
{
    msgpack_sbuffer_init(sb);
    msgpack_packer_init(pk, sb, msgpack_sbuffer_write);
    frame_begin(sb);
}

static const char *event_state(const struct waiter *w)
{
    if (w->mode == WAITER_WATCH)
        return w->running ? "running" : "queued";
    return w->start_event ? "running" : "progress";
}

/* A progress event: wait's has job, state, step, total, rate and eta; watch's adds the
 * queue reason. */
static void send_event(struct conn *c, const struct waiter *w)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    frame_start(&sb, &pk);
    pack_event_begin(&pk, w->req_id);
    bool watch = w->mode == WAITER_WATCH;
    msgpack_pack_map(&pk, watch ? 7 : 6);
    pk_kv_i64(&pk, "job", w->job);
    pk_kv_str(&pk, "state", event_state(w));
    pk_kv_u64(&pk, "step", w->step);
    pk_kv_u64(&pk, "total", w->total);
    pk_kv_f64(&pk, "rate", w->rate);
    if (w->rate > 0 && w->total >= w->step)
        pk_kv_f64(&pk, "eta", (double)(w->total - w->step) / w->rate);
    else
        pk_kv_nil(&pk, "eta");
    if (watch)
        pk_kv_str(&pk, "reason", w->reason[0] ? w->reason : NULL);
    send_frame(c, &sb);
}

static void send_record(struct conn *c, uint64_t req_id, int64_t job)
{
    struct dashi_error err;
    dashi_error_clear(&err);
    msgpack_sbuffer sb;
    msgpack_packer pk;
    frame_start(&sb, &pk);
    pack_ok_begin(&pk, req_id);
    if (pack_job_record(&pk, &c->d->store, job, c->uid, false, &err) != 0) {
        frame_begin(&sb);
        pack_error(&pk, req_id, &err);
    }
    send_frame(c, &sb);
}

/* "error": {"code": CODE} as in the job record, or nil when it succeeded. */
static void pack_error_code(msgpack_packer *pk, const char *code)
{
    pk_key(pk, "error");
    if (code[0]) {
        msgpack_pack_map(pk, 1);
        pk_kv_str(pk, "code", code);
    } else {
        msgpack_pack_nil(pk);
    }
}

/* watch: the job's end, as an event; its state and error code are kept for the answer. */
static void send_watch_end(struct conn *c, struct waiter *w)
{
    struct job_row row;
    struct dashi_error err;
    snprintf(w->final_state, sizeof w->final_state, "unknown");
    if (store_job_get(&c->d->store, w->job, &row, &err) == 0) {
        snprintf(w->final_state, sizeof w->final_state, "%s", job_state_name(row.state));
        snprintf(w->final_code, sizeof w->final_code, "%s", row.error_code);
        w->step = row.step;
        w->total = row.total_steps;
        job_row_free(&row);
    }
    msgpack_sbuffer sb;
    msgpack_packer pk;
    frame_start(&sb, &pk);
    pack_event_begin(&pk, w->req_id);
    msgpack_pack_map(&pk, 5);
    pk_kv_i64(&pk, "job", w->job);
    pk_kv_str(&pk, "state", w->final_state);
    pk_kv_u64(&pk, "step", w->step);
    pk_kv_u64(&pk, "total", w->total);
    pack_error_code(&pk, w->final_code);
    send_frame(c, &sb);
}

/* watch: the answer once all its jobs have ended: each job's final state and error code. */
static void send_watch_answer(struct conn *c, uint64_t req_id)
{
    size_t n = 0;
    for (const struct waiter *w = c->waiters; w; w = w->next)
        n += w->req_id == req_id;
    msgpack_sbuffer sb;
    msgpack_packer pk;
    frame_start(&sb, &pk);
    pack_ok_begin(&pk, req_id);
    msgpack_pack_map(&pk, 1);
    pk_key(&pk, "jobs");
    msgpack_pack_array(&pk, n);
    for (const struct waiter *w = c->waiters; w; w = w->next) {
        if (w->req_id != req_id)
            continue;
        msgpack_pack_map(&pk, 3);
        pk_kv_i64(&pk, "id", w->job);
        pk_kv_str(&pk, "state", w->final_state);
        pack_error_code(&pk, w->final_code);
    }
    send_frame(c, &sb);
}

static bool request_open(const struct conn *c, uint64_t req_id)
{
    for (const struct waiter *w = c->waiters; w; w = w->next)
        if (w->req_id == req_id && !w->done)
            return true;
    return false;
}

struct log_batch {
    struct conn *c;
    struct waiter *w;
    size_t n;
};

static int log_row_cb(void *ctx, const struct job_event *ev)
{
    struct log_batch *b = ctx;
    msgpack_sbuffer sb;
    msgpack_packer pk;
    frame_start(&sb, &pk);
    pack_event_begin(&pk, b->w->req_id);
    pack_job_event(&pk, b->w->job, ev);
    send_frame(b->c, &sb);
    b->w->log_after = ev->seq;
    b->n++;
    return 0;
}

/* log: the next stored events after the last one sent; 1 when a whole batch went (there
 * may be more), 0 when caught up, -1 with err on a store error. */
static int send_log_rows(struct conn *c, struct waiter *w, struct dashi_error *err)
{
    struct log_batch b = {c, w, 0};
    if (store_job_events_after(&c->d->store, w->job, w->log_after, LOG_BATCH, log_row_cb, &b, err) != 0)
        return -1;
    return b.n == LOG_BATCH;
}

/* log: the answer at the job's end, once every event is sent: its state and the cursor. */
static void send_log_answer(struct conn *c, const struct waiter *w)
{
    struct job_row row;
    struct dashi_error err;
    if (store_job_get(&c->d->store, w->job, &row, &err) != 0) {
        conn_send_error(c, w->req_id, &err);
        return;
    }
    msgpack_sbuffer sb;
    msgpack_packer pk;
    frame_start(&sb, &pk);
    pack_ok_begin(&pk, w->req_id);
    msgpack_pack_map(&pk, 3);
    pk_kv_i64(&pk, "job", w->job);
    pk_kv_str(&pk, "state", job_state_name(row.state));
    char next[32];
    snprintf(next, sizeof next, "log:%lld", (long long)w->log_after);
    pk_kv_str(&pk, "next", next);
    send_frame(c, &sb);
    job_row_free(&row);
}

/* ---- flushing: each kind's turn; true when *p was dropped (p then points past it) ---- */

static bool flush_wait(struct conn *c, struct waiter **p)
{
    struct waiter *w = *p;
    if (w->ended) {
        send_record(c, w->req_id, w->job);
        waiter_drop(c, p);
        return true;
    }
    if (w->event_pending) {
        send_event(c, w);
        w->event_pending = false;
    }
    return false;
}

static bool flush_log(struct conn *c, struct waiter **p)
{
    struct waiter *w = *p;
    if (!w->event_pending && !w->ended)
        return false;
    struct dashi_error err;
    int more = send_log_rows(c, w, &err);
    if (more < 0) {
        conn_send_error(c, w->req_id, &err);
        waiter_drop(c, p);
        return true;
    }
    if (more)
        return false; /* the next turn goes on from here, if there is room */
    w->event_pending = false;
    if (!w->ended)
        return false;
    send_log_answer(c, w);
    waiter_drop(c, p);
    return true;
}

/* watch; true when the request was answered and its waiters dropped. */
static bool flush_watch(struct conn *c, struct waiter *w)
{
    if (w->done)
        return false;
    if (!w->ended) {
        if (w->event_pending)
            send_event(c, w);
        w->event_pending = false;
        return false;
    }
    send_watch_end(c, w);
    w->done = true;
    if (request_open(c, w->req_id))
        return false;
    send_watch_answer(c, w->req_id);
    drop_request(c, w->req_id);
    return true;
}

void waiters_flush(struct conn *c)
{
    for (struct waiter **p = &c->waiters; *p && !c->closing && conn_has_room(c);) {
        struct waiter *w = *p;
        bool dropped;
        switch (w->mode) {
        case WAITER_WATCH:
            if (flush_watch(c, w)) { /* several waiters went: start over */
                p = &c->waiters;
                continue;
            }
            dropped = false;
            break;
        case WAITER_LOG:
            dropped = flush_log(c, p);
            break;
        default:
            dropped = flush_wait(c, p);
            break;
        }
        if (!dropped)
            p = &w->next;
    }
}

/* ---- what they are told ---- */

/* A progress report m of w's job, at the loop's time now (ms). */
static void note_progress(struct waiter *w, const struct job_msg *m, uint64_t now)
{
    w->start_event = m->type == MSG_STARTED;
    w->running = true;
    w->reason[0] = '\0'; /* on the device now */
    if (m->has_progress) { /* a start says no step: the recorded one stays */
        w->step = m->step;
        w->total = m->total;
    }
    if (!w->has_origin || w->step < w->origin_step) { /* a restart from a checkpoint measures anew */
        w->has_origin = true;
        w->origin_step = w->step;
        w->origin_ms = now;
        w->rate = 0;
    } else if (now > w->origin_ms) {
        w->rate = (double)(w->step - w->origin_step) * 1000.0 / (double)(now - w->origin_ms);
    }
    /* A follower has new events only when the job starts (the rest come at its end). */
    w->event_pending = w->mode != WAITER_LOG || m->type == MSG_STARTED || w->event_pending;
}

/* A queued job's watcher: whether its reason changed since it was last sent. */
static bool reason_changed(struct daemon *d, struct waiter *w)
{
    char now[QUEUE_REASON_MAX];
    queue_reason(d, w->job, now, sizeof now);
    if (strcmp(now, w->reason) == 0)
        return false;
    memcpy(w->reason, now, sizeof now);
    return w->event_pending = true;
}

/* ended: the waiters of job are owed their answer; else m is their latest progress. Any
 * report is also when the scheduler's passes have changed queued jobs' reasons. */
static void notify(struct daemon *d, int64_t job, const struct job_msg *m, bool ended)
{
    uint64_t now = uv_now(&d->loop);
    for (struct conn *c = d->conns; c; c = c->next) {
        if (c->closing)
            continue;
        bool touched = false;
        for (struct waiter *w = c->waiters; w; w = w->next) {
            if (w->ended)
                continue;
            if (w->job == job) {
                touched = true;
                w->ended = ended;
                if (ended)
                    w->event_pending = false;
                else
                    note_progress(w, m, now);
            } else if (w->mode == WAITER_WATCH && !w->running) {
                touched |= reason_changed(d, w);
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
            drop_request(c, w->req_id);
            p = &c->waiters;
        }
}

void waiters_daemon_stopped(struct daemon *d)
{
    struct dashi_error e;
    dashi_fail(&e, DASHI_E_SHUTTING_DOWN, "", "the daemon stopped; the job stays queued for its next start");
    for (struct conn *c = d->conns; c; c = c->next) {
        while (c->waiters) { /* each request answered once, however many jobs it watches */
            struct waiter *w = c->waiters;
            if (w->mode == WAITER_WAIT && w->ended)
                send_record(c, w->req_id, w->job);
            else
                conn_send_error(c, w->req_id, &e);
            drop_request(c, w->req_id);
        }
    }
}
