/* SPDX-License-Identifier: MIT */
/* The connections' time limits (conn_sweep.h). */
#include "conn_sweep.h"

#include <stdio.h>

#include "server.h"

#define SWEEP_MS 1000

static uint64_t ms_of(double seconds)
{
    return (uint64_t)(seconds * 1000.0);
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

int conn_sweep_start(struct daemon *d, struct dashi_error *err)
{
    int rc = uv_timer_init(&d->loop, &d->conn_sweep);
    if (rc != 0)
        return dashi_fail(err, DASHI_E_INTERNAL, "", "uv_timer_init: %s", uv_strerror(rc));
    d->conn_sweep.data = d;
    d->conn_sweep_open = true;
    rc = uv_timer_start(&d->conn_sweep, on_sweep, SWEEP_MS, SWEEP_MS);
    if (rc != 0)
        return dashi_fail(err, DASHI_E_INTERNAL, "", "uv_timer_start: %s", uv_strerror(rc));
    return 0;
}

void conn_sweep_stop(struct daemon *d)
{
    if (!d->conn_sweep_open)
        return;
    d->conn_sweep_open = false;
    uv_close((uv_handle_t *)&d->conn_sweep, NULL);
}
