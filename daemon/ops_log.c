/* SPDX-License-Identifier: MIT */
/* `log`: a job's stored events in time order (docs/protocol.md "log"), one page, or with
 * `follow` streamed as they are recorded until the job ends (a waiter, waiters.h). */
#include <stdlib.h>

#include "ops.h"
#include "ops_page.h"
#include "results.h"
#include "waiters.h"

struct log_page {
    msgpack_packer *pk;
    int64_t job;
    size_t n, limit;
    int64_t last; /* the number of the last event packed */
};

static int page_row_cb(void *ctx, const struct job_event *ev)
{
    struct log_page *p = ctx;
    if (p->n == p->limit) /* the one more asked for: a next page exists */
        return 1;
    pack_job_event(p->pk, p->job, ev);
    p->last = ev->seq;
    p->n++;
    return 0;
}

static int count_cb(void *ctx, const struct job_event *ev)
{
    (void)ev;
    ++*(size_t *)ctx;
    return 0;
}

/* One page of events after the event numbered after: {job, state, events, next}. */
static int pack_log_page(struct conn *c, msgpack_packer *pk, const struct job_row *row, int64_t after,
                         uint64_t limit, struct dashi_error *err)
{
    size_t found = 0; /* counted first: the array's length comes before its rows */
    if (store_job_events_after(&c->d->store, row->id, after, limit + 1, count_cb, &found, err) != 0)
        return -1;
    msgpack_pack_map(pk, 4);
    pk_kv_i64(pk, "job", row->id);
    pk_kv_str(pk, "state", job_state_name(row->state));
    pk_key(pk, "events");
    size_t shown = found > limit ? limit : found;
    msgpack_pack_array(pk, shown);
    struct log_page p = {pk, row->id, 0, shown, after};
    if (store_job_events_after(&c->d->store, row->id, after, shown, page_row_cb, &p, err) != 0)
        return -1; /* the loop thread is the only writer: the rows are the ones counted */
    char next[TAGGED_CURSOR_MAX];
    cursor_format(next, "log", &p.last, 1);
    pack_next(pk, found > limit ? next : NULL);
    return 0;
}

int op_log(struct conn *c, const struct request *req, msgpack_packer *pk, struct dashi_error *err)
{
    static const char *const allowed[] = {"id", "limit", "cursor", "follow", NULL};
    int64_t id, after = 0;
    uint64_t limit;
    bool follow;
    char cursor[TAGGED_CURSOR_MAX];
    struct job_row row;
    if (args_only(req->args, allowed, err) || arg_i64(req->args, "id", true, 0, 1, INT64_MAX, &id, err) ||
        arg_u64(req->args, "limit", false, DASHI_PAGE_ROWS, 1, DASHI_PAGE_ROWS, &limit, err) ||
        arg_bool(req->args, "follow", false, false, &follow, err) ||
        arg_cursor(req->args, cursor, sizeof cursor, err) ||
        (cursor[0] && cursor_parse(cursor, "log", &after, 1, err)) ||
        job_get_visible(&c->d->store, id, c->uid, &row, err) != 0)
        return -1;
    bool active = row.state == JOB_QUEUED || row.state == JOB_RUNNING;
    int rc = 0;
    if (!follow) {
        pack_ok_begin(pk, req->id);
        rc = pack_log_page(c, pk, &row, after, limit, err);
    } else if (active && results_unrecorded(c->d, id, err) != 0) {
        rc = -1;
    } else {
        struct waiter_spec w = {.req_id = req->id, .job = id, .mode = WAITER_LOG, .ended = !active,
                                .log_after = after};
        rc = waiter_add(c, &w, err) != 0 ? -1 : OP_DEFERRED;
    }
    job_row_free(&row);
    if (rc == OP_DEFERRED)
        waiters_flush(c); /* the events stored so far (and, for an ended job, the answer) */
    return rc;
}
