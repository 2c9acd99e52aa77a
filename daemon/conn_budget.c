/* SPDX-License-Identifier: MIT */
#include "conn_budget.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "daemon.h"
#include "server.h"

#define SWEEP_MS 1000

static uint64_t ms_of(double seconds)
{
    return (uint64_t)(seconds * 1000.0);
}

void conn_budget_raise_nofile(struct daemon *d)
{
    struct conn_budget *b = &d->conn_budget;
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
        fprintf(stderr, "dashid: getrlimit(RLIMIT_NOFILE): %s; assuming 1024 descriptors\n", strerror(errno));
        b->nofile = 1024;
        return;
    }
    rlim_t was = rl.rlim_cur;
    /* Every connection costs a descriptor: take all the hard limit allows. */
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
            fprintf(stderr, "dashid: cannot raise the descriptor limit to %llu: %s\n",
                    (unsigned long long)rl.rlim_max, strerror(errno));
            rl.rlim_cur = was;
        }
    }
    b->nofile = rl.rlim_cur == RLIM_INFINITY ? UINT64_MAX : (uint64_t)rl.rlim_cur;
    fprintf(stderr, "dashid: descriptor limit %llu (was %llu), %llu kept free for the store and blobs (fd_reserve)\n",
            (unsigned long long)b->nofile, (unsigned long long)was, (unsigned long long)d->cfg.conn.fd_reserve);
}

/* Descriptors open now, or -1 when /proc cannot tell. */
static int64_t count_open_fds(void)
{
    DIR *dir = opendir("/proc/self/fd");
    if (!dir)
        return -1;
    int64_t n = 0;
    for (struct dirent *e; (e = readdir(dir)) != NULL;)
        n += e->d_name[0] != '.';
    closedir(dir);
    return n - 1; /* the directory's own descriptor */
}

/* Whether admitting one more connection would leave fewer than fd_reserve descriptors
 * for the store, blobs and jobs. /proc is read only near the limit: far from it, a
 * pessimistic estimate (each connection with its socket and every upload open) says no. */
static bool fds_short(const struct daemon *d)
{
    const struct conn_budget *b = &d->conn_budget;
    uint64_t reserve = d->cfg.conn.fd_reserve;
    uint64_t estimate = b->base_fds + b->nconns * (1 + MAX_UPLOADS_PER_CONN);
    if (b->nofile > reserve && estimate <= b->nofile - reserve)
        return false;
    int64_t open = count_open_fds();
    uint64_t used = open < 0 ? estimate : (uint64_t)open;
    return used + reserve > b->nofile;
}

static void sweep_conn(struct conn *c, uint64_t now, const struct conn_limits *l)
{
    struct dashi_error err;
    if (c->handle_closed)
        return;
    if (c->closing) {
        /* conn_close flushes the queued replies first; a peer that never reads them
         * gets no longer than a paused one. */
        if (now - c->closing_since >= ms_of(l->reply_queue_timeout_s))
            conn_abort(c);
        return;
    }
    if (c->paused) {
        if (now - c->paused_since < ms_of(l->reply_queue_timeout_s))
            return;
        fprintf(stderr, "dashid: dropping the connection of %s (pid %d): %llu reply bytes unread for %g s "
                        "(reply_queue_timeout_s)\n", c->user, (int)c->pid, (unsigned long long)c->queued,
                l->reply_queue_timeout_s);
        conn_abort(c);
        return;
    }
    if (c->frame_started && now - c->frame_started >= ms_of(l->frame_timeout_s)) {
        dashi_fail(&err, DASHI_E_QUOTA, "frame_timeout_s",
                   "a frame was not complete within %g s (frame_timeout_s); the connection is closed",
                   l->frame_timeout_s);
        fprintf(stderr, "dashid: closing the connection of %s (pid %d): %s\n", c->user, (int)c->pid, err.message);
        conn_refuse(c, &err);
        return;
    }
    if (!c->waiters && now - c->last_active >= ms_of(l->idle_timeout_s)) {
        dashi_fail(&err, DASHI_E_QUOTA, "idle_timeout_s",
                   "nothing was sent or received for %g s (idle_timeout_s); the connection is closed",
                   l->idle_timeout_s);
        conn_refuse(c, &err);
    }
}

static void on_sweep(uv_timer_t *t)
{
    struct daemon *d = t->data;
    uint64_t now = uv_now(&d->loop);
    for (struct conn *c = d->conns; c; c = c->next)
        sweep_conn(c, now, &d->cfg.conn);
}

int conn_budget_start(struct daemon *d, struct dashi_error *err)
{
    struct conn_budget *b = &d->conn_budget;
    int64_t open = count_open_fds();
    b->base_fds = open < 0 ? 0 : (uint64_t)open;
    if (b->base_fds + d->cfg.conn.fd_reserve >= b->nofile)
        fprintf(stderr, "dashid: warning: %llu descriptors are open and %llu reserved of a limit of %llu: "
                        "every connection will be refused\n", (unsigned long long)b->base_fds,
                (unsigned long long)d->cfg.conn.fd_reserve, (unsigned long long)b->nofile);
    int rc = uv_timer_init(&d->loop, &b->sweep);
    if (rc != 0)
        return dashi_fail(err, DASHI_E_INTERNAL, "", "uv_timer_init: %s", uv_strerror(rc));
    b->sweep.data = d;
    b->sweep_open = true;
    rc = uv_timer_start(&b->sweep, on_sweep, SWEEP_MS, SWEEP_MS);
    if (rc != 0)
        return dashi_fail(err, DASHI_E_INTERNAL, "", "uv_timer_start: %s", uv_strerror(rc));
    return 0;
}

void conn_budget_stop(struct daemon *d)
{
    struct conn_budget *b = &d->conn_budget;
    if (!b->sweep_open)
        return;
    b->sweep_open = false;
    uv_close((uv_handle_t *)&b->sweep, NULL);
}

static struct uid_tally *tally_find(struct conn_budget *b, uid_t uid)
{
    for (struct uid_tally *t = b->tallies; t; t = t->next)
        if (t->uid == uid)
            return t;
    return NULL;
}

int conn_budget_admit(struct conn *c, struct dashi_error *err)
{
    struct daemon *d = c->d;
    struct conn_budget *b = &d->conn_budget;
    const struct conn_limits *l = &d->cfg.conn;
    struct uid_tally *t = tally_find(b, c->uid);
    if (t && t->conns >= l->max_connections_per_uid)
        return dashi_fail(err, DASHI_E_QUOTA, "max_connections_per_uid",
                          "%s already has %llu connections open, the limit (max_connections_per_uid)", c->user,
                          (unsigned long long)t->conns);
    if (fds_short(d))
        return dashi_fail(err, DASHI_E_QUOTA, "fd_reserve",
                          "the daemon is at its descriptor limit (%llu, of which fd_reserve = %llu are kept for "
                          "its store and blobs); try again later",
                          (unsigned long long)b->nofile, (unsigned long long)l->fd_reserve);
    if (!t) {
        t = calloc(1, sizeof *t);
        if (!t)
            return dashi_fail(err, DASHI_E_INTERNAL, "", "out of memory");
        t->uid = c->uid;
        t->next = b->tallies;
        b->tallies = t;
    }
    t->conns++;
    c->tally = t;
    return 0;
}

void conn_budget_release(struct conn *c)
{
    struct conn_budget *b = &c->d->conn_budget;
    b->nconns--;
    struct uid_tally *t = c->tally;
    if (!t)
        return;
    c->tally = NULL;
    t->inflight -= c->held;
    t->queued -= c->queued;
    if (--t->conns > 0)
        return;
    for (struct uid_tally **p = &b->tallies; *p; p = &(*p)->next)
        if (*p == t) {
            *p = t->next;
            break;
        }
    free(t);
}

int conn_budget_hold(struct conn *c, size_t held, struct dashi_error *err)
{
    struct uid_tally *t = c->tally;
    if (t)
        t->inflight = t->inflight - c->held + held;
    c->held = held;
    uint64_t limit = c->d->cfg.conn.max_inflight_bytes_per_uid;
    if (!t || t->inflight <= limit)
        return 0;
    return dashi_fail(err, DASHI_E_QUOTA, "max_inflight_bytes_per_uid",
                      "%s has %llu bytes of unfinished requests over its connections, more than the limit of %llu "
                      "(max_inflight_bytes_per_uid); the connection is closed",
                      c->user, (unsigned long long)t->inflight, (unsigned long long)limit);
}
