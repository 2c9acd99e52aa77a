/* SPDX-License-Identifier: MIT */
/* `wait` requests on the loop thread: a connection's waiters get the job's events
 * (coalesced: at most the latest progress is held, sent when the connection's reply
 * queue has room) and, once the job ends, its final record. A client that does not
 * read costs one small struct per wait, never a backlog. */
#ifndef DASHI_WAITERS_H
#define DASHI_WAITERS_H

#include <stdbool.h>
#include <stdint.h>

#include "errors.h"
#include "scheduler.h"

struct conn;
struct daemon;

/* Registers a waiter for job_id on c (request req_id); E_QUOTA beyond
 * max_waits_per_connection. */
int waiter_add(struct conn *c, uint64_t req_id, int64_t job_id, struct dashi_error *err);
/* Frees the waiters of a closing connection. */
void waiters_release(struct conn *c);
/* Sends c's pending events and owed records while its queue has room. */
void waiters_flush(struct conn *c);

/* The job started or made progress (m: MSG_STARTED or MSG_SLICE): its waiters' pending
 * event becomes m. */
void waiters_progress(struct daemon *d, const struct job_msg *m);
/* The job reached a final state, recorded: its waiters are owed its record. */
void waiters_job_ended(struct daemon *d, int64_t job);
/* The job ended but that could not be recorded (why): its waiters get that error rather
 * than wait for a change the database cannot show. */
void waiters_unrecorded(struct daemon *d, int64_t job, const struct dashi_error *why);
/* The daemon stopped: owed records are sent, every other waiter learns that the job
 * stays queued for the next start; then all are released. */
void waiters_daemon_stopped(struct daemon *d);

#endif
