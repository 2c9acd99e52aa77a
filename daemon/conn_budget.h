/* SPDX-License-Identifier: MIT */
/* What clients may make the daemon hold, enforced on the loop thread: per-uid totals
 * (connections, bytes received and not yet handled, reply bytes queued), descriptor
 * headroom for the store and blobs, and a sweep once a second that ends connections
 * whose frame is too slow, whose replies go unread, or that sit idle. The limits are
 * the configuration's `conn` keys (docs/protocol.md "Limits"). */
#ifndef DASHI_CONN_BUDGET_H
#define DASHI_CONN_BUDGET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <uv.h>

#include "errors.h"

struct daemon;
struct conn;

struct uid_tally {
    uid_t uid;
    uint64_t conns;    /* admitted connections */
    uint64_t inflight; /* bytes held in their frame readers */
    uint64_t queued;   /* reply bytes queued on them */
    struct uid_tally *next;
};

struct conn_budget {
    struct uid_tally *tallies;
    uint64_t nconns;   /* open connection objects, admitted or not */
    uint64_t nofile;   /* the soft RLIMIT_NOFILE in force */
    uint64_t base_fds; /* descriptors open when the server started */
    uv_timer_t sweep;
    bool sweep_open;
};

/* At start: raises the soft descriptor limit to the hard one and says what it got. */
void conn_budget_raise_nofile(struct daemon *d);
/* Once the server listens: measures the descriptors in use and starts the sweep. */
int conn_budget_start(struct daemon *d, struct dashi_error *err);
void conn_budget_stop(struct daemon *d);
/* A new connection whose peer is known: 0 and counted in its uid's tally, or E_QUOTA
 * naming the limit (max_connections_per_uid, fd_reserve). */
int conn_budget_admit(struct conn *c, struct dashi_error *err);
/* The connection is gone (admitted or not). */
void conn_budget_release(struct conn *c);
/* The connection now holds `held` received bytes not yet handled; E_QUOTA
 * (max_inflight_bytes_per_uid) when its uid's total is over the limit. */
int conn_budget_hold(struct conn *c, size_t held, struct dashi_error *err);

#endif
