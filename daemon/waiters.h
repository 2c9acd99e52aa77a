/* SPDX-License-Identifier: MIT */
/* Subscriptions on the loop thread: `wait`, `watch` and `log --follow` requests. A
 * connection's waiters get their job's events coalesced (at most the latest progress is
 * held per job, sent when the connection's reply queue has room; a follower holds only
 * the number of the last event it sent, the rest stays in the database) and, once the
 * job ends, its answer. A client that does not read costs one small struct per job it
 * subscribed to, never a backlog; max_waits_per_connection bounds them. */
#ifndef DASHI_WAITERS_H
#define DASHI_WAITERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "errors.h"
#include "scheduler.h"

struct conn;
struct daemon;

enum waiter_mode {
    WAITER_WAIT,  /* progress events, then the job's record */
    WAITER_WATCH, /* state, progress, rate, ETA and queue reason; then its end, and the request's
                   * answer once every job it watches has ended */
    WAITER_LOG,   /* the job's stored events as they are recorded, then the answer at its end */
};

struct waiter_spec {
    uint64_t req_id;
    int64_t job;
    enum waiter_mode mode;
    bool running;      /* the job has started (watch) */
    bool ended;        /* it has already ended: only its answer is owed (watch, log) */
    uint64_t step, total; /* its progress as recorded (watch: the first event) */
    int64_t log_after; /* log: the last event the client has */
};

/* E_QUOTA (max_waits_per_connection) unless n more waiters fit on c. */
int waiters_reserve(const struct conn *c, size_t n, struct dashi_error *err);
/* Registers a waiter on c (waiters_reserve first); waiters_flush sends what is owed. */
int waiter_add(struct conn *c, const struct waiter_spec *spec, struct dashi_error *err);
/* Frees the waiters of a closing connection. */
void waiters_release(struct conn *c);
/* Sends c's pending events and owed answers while its queue has room. */
void waiters_flush(struct conn *c);

/* The job started or made progress (m: MSG_STARTED or MSG_SLICE): its waiters' pending
 * event becomes m; watchers of queued jobs learn a changed queue reason. */
void waiters_progress(struct daemon *d, const struct job_msg *m);
/* The job reached a final state, recorded: its waiters are owed its answer. */
void waiters_job_ended(struct daemon *d, int64_t job);
/* The job ended but that could not be recorded (why): its waiters' requests get that
 * error rather than wait for a change the database cannot show. */
void waiters_unrecorded(struct daemon *d, int64_t job, const struct dashi_error *why);
/* The daemon stopped: owed records are sent, every other request learns that its job
 * stays queued for the next start; then all are released. */
void waiters_daemon_stopped(struct daemon *d);

#endif
