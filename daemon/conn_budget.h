/* SPDX-License-Identifier: MIT */
/* What clients may make the daemon hold, enforced on the loop thread: per-uid totals
 * (connections, bytes received and not yet handled, reply bytes queued), descriptor
 * headroom for the store and blobs. The limits are the configuration's `conn` keys
 * (docs/protocol.md "Limits"); the server asks before it admits or holds, and the sweep
 * (conn_sweep.c) ends the connections past their time limits. Knows no connection: the
 * server passes the uid and the connection's share. */
#ifndef DASHI_CONN_BUDGET_H
#define DASHI_CONN_BUDGET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "config.h"
#include "errors.h"

/* Uploads one connection may have open at once (each holds a file descriptor). */
#define MAX_UPLOADS_PER_CONN 4

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
};

/* At start: raises the soft descriptor limit to the hard one and says what it got. */
void conn_budget_raise_nofile(struct conn_budget *b, uint64_t fd_reserve);
/* Once the server listens: measures the descriptors in use (warns when none are left). */
void conn_budget_count_base(struct conn_budget *b, uint64_t fd_reserve);
/* A new connection of uid (named user in messages) whose peer is known: 0 with *tally its
 * uid's totals, counting it, or E_QUOTA naming the limit (max_connections_per_uid, fd_reserve). */
int conn_budget_admit(struct conn_budget *b, const struct conn_limits *l, uid_t uid, const char *user,
                      struct uid_tally **tally, struct dashi_error *err);
/* A connection is gone (admitted or not: *tally NULL) with held and queued bytes counted. */
void conn_budget_release(struct conn_budget *b, struct uid_tally **tally, uint64_t held, uint64_t queued);
/* The connection now holds now_held received bytes not yet handled (*held: what it held,
 * updated); E_QUOTA (max_inflight_bytes_per_uid) when its uid's total is over limit. */
int conn_budget_hold(struct uid_tally *t, uint64_t *held, size_t now_held, uint64_t limit, const char *user,
                     struct dashi_error *err);

#endif
