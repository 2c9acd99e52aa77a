/* SPDX-License-Identifier: MIT */
/* `watch`: live state, progress, rate, ETA and queue reason of one job, or of all the
 * caller's active jobs (docs/protocol.md "watch"). Pushed: each job is a waiter
 * (waiters.h) whose latest state is coalesced and sent when the connection has room. */
#include <stdlib.h>

#include "ops.h"
#include "results.h"
#include "waiters.h"

/* One job, visible to the caller; an ended one is answered at once. */
static int watch_one(struct conn *c, const struct request *req, int64_t id, struct dashi_error *err)
{
    struct job_row row;
    if (job_get_visible(&c->d->store, id, c->uid, &row, err) != 0)
        return -1;
    bool active = row.state == JOB_QUEUED || row.state == JOB_RUNNING;
    struct waiter_spec w = {.req_id = req->id, .job = id, .mode = WAITER_WATCH, .running = row.state == JOB_RUNNING,
                            .ended = !active, .step = row.step, .total = row.total_steps};
    job_row_free(&row);
    if (active && results_unrecorded(c->d, id, err) != 0)
        return -1;
    return waiter_add(c, &w, err);
}

struct mine {
    uint64_t req_id;
    struct waiter_spec *w;
    size_t n, cap; /* cap: one more than may be watched, to know there are too many */
};

static int mine_cb(void *ctx, const struct job_row *row)
{
    struct mine *m = ctx;
    if (m->n == m->cap)
        return 1;
    m->w[m->n++] = (struct waiter_spec){.req_id = m->req_id, .job = row->id, .mode = WAITER_WATCH,
                                        .running = row->state == JOB_RUNNING, .step = row->step,
                                        .total = row->total_steps};
    return 0;
}

/* Every active job of the caller (running, then queued; the store's, which hold a job
 * until its end is recorded), as many as the connection's waits allow: more is E_QUOTA,
 * none is answered at once. */
static int watch_mine(struct conn *c, const struct request *req, msgpack_packer *pk, struct dashi_error *err)
{
    uint64_t limit = c->d->cfg.conn.max_waits_per_connection;
    struct mine m = {.req_id = req->id, .cap = (limit > c->nwaiters ? (size_t)(limit - c->nwaiters) : 0) + 1};
    if (!(m.w = malloc(m.cap * sizeof *m.w)))
        return dashi_fail(err, DASHI_E_INTERNAL, "", "out of memory");
    static const enum job_state active[] = {JOB_RUNNING, JOB_QUEUED};
    int rc = 0;
    for (size_t k = 0; k < 2 && rc == 0; k++) {
        struct job_filter f = {.state = (int)active[k], .uid = c->uid, .viewer = c->uid, .limit = m.cap - m.n};
        if (m.n < m.cap)
            rc = store_job_list(&c->d->store, &f, mine_cb, &m, err);
    }
    if (rc == 0)
        rc = waiters_reserve(c, m.n, err);
    for (size_t i = 0; rc == 0 && i < m.n; i++) /* each newest first: the list holds them oldest first */
        rc = waiter_add(c, &m.w[i], err);
    size_t added = m.n;
    free(m.w);
    if (rc != 0)
        return -1;
    if (added)
        return OP_DEFERRED;
    pack_ok_begin(pk, req->id); /* nothing active: the answer of a watch whose jobs have all ended */
    msgpack_pack_map(pk, 1);
    pk_key(pk, "jobs");
    msgpack_pack_array(pk, 0);
    return 0;
}

int op_watch(struct conn *c, const struct request *req, msgpack_packer *pk, struct dashi_error *err)
{
    static const char *const allowed[] = {"id", NULL};
    int64_t id;
    if (args_only(req->args, allowed, err) || arg_i64(req->args, "id", false, 0, 1, INT64_MAX, &id, err))
        return -1;
    int rc = id ? (watch_one(c, req, id, err) != 0 ? -1 : OP_DEFERRED) : watch_mine(c, req, pk, err);
    if (rc == OP_DEFERRED)
        waiters_flush(c); /* where each job stands now */
    return rc;
}
