/* SPDX-License-Identifier: MIT */
/* The job ops: submit, cancel and resume (translated into the lifecycle's calls, jobs.h)
 * and the job queries (status, show, list, wait, metrics, hashes). */
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "device_pool.h"
#include "jobs.h"
#include "ops.h"
#include "ops_page.h"
#include "queue_reason.h"
#include "results.h"
#include "slurm_submit.h"
#include "store_tags.h"
#include "suggest.h"
#include "waiters.h"

/* The common start of the per-job ops: args limited to `allowed` (which includes "id"),
 * and the id. */
static int job_id_arg(const struct request *req, const char *const *allowed, int64_t *id, struct dashi_error *err)
{
    return args_only(req->args, allowed, err) || arg_i64(req->args, "id", true, 0, 1, INT64_MAX, id, err) ? -1 : 0;
}

/* job_id_arg, then the job's row if the caller may see it (the caller frees the row). */
static int visible_job_arg(struct conn *c, const struct request *req, const char *const *allowed, int64_t *id,
                           struct job_row *row, struct dashi_error *err)
{
    if (job_id_arg(req, allowed, id, err) != 0)
        return -1;
    return job_get_visible(&c->d->store, *id, c->uid, row, err);
}

/* The job's record with its queue reason (docs/protocol.md "Queue reasons"). */
static int pack_record_now(struct conn *c, msgpack_packer *pk, int64_t id, bool with_events, struct dashi_error *err)
{
    char reason[QUEUE_REASON_MAX];
    queue_reason(c->d, id, reason, sizeof reason);
    return pack_job_record_reason(pk, &c->d->store, id, c->uid, with_events, reason, err);
}

/* ---- submit, cancel, resume ---- */

int submission_from_args(struct conn *c, const msgpack_object *args, struct submission_args *out,
                         struct dashi_error *err)
{
    int64_t priority;
    char device[128];
    memset(out, 0, sizeof *out);
    if (arg_str(args, "kind", true, NULL, out->kind_name, sizeof out->kind_name, err) ||
        arg_i64(args, "priority", false, 0, -100, 100, &priority, err) ||
        arg_bool(args, "private", false, false, &out->s.is_private, err) ||
        arg_f64(args, "time_limit", false, 0, 0, 1e9, &out->s.time_limit, err) ||
        arg_bool(args, "reuse", false, true, &out->s.reuse, err) || labels_from_args(args, &out->labels, err) != 0 ||
        arg_str(args, "device", false, "", device, sizeof device, err) != 0)
        return -1;
    if (device[0]) { /* a pin: validated against the opened devices, never run elsewhere */
        int index;
        if (device_pool_find(c->d, device, &index, err) != 0)
            return -1;
        out->s.pin = index + 1;
    }
    out->s.kind = job_kind_find(out->kind_name);
    if (!out->s.kind)
        return job_kind_unknown(out->kind_name, DASHI_E_BAD_VALUE, err);
    const msgpack_object *job_args = args_find(args, "args");
    out->empty.type = MSGPACK_OBJECT_MAP;
    if (!job_args || job_args->type == MSGPACK_OBJECT_NIL)
        job_args = &out->empty;
    if (job_args->type != MSGPACK_OBJECT_MAP)
        return dashi_fail(err, DASHI_E_BAD_TYPE, "args", "args must be a map of the job's parameters");
    out->s.args = job_args;
    out->s.uid = c->uid;
    out->s.user = c->user;
    out->s.priority = (int)priority;
    out->s.labels = &out->labels;
    return 0;
}

int op_submit(struct conn *c, const struct request *req, msgpack_packer *pk, struct dashi_error *err)
{
    static const char *const allowed[] = {"kind", "args", "priority", "private", "time_limit", "reuse", "name", "tags",
                                          "device", "executor", "slurm_args", NULL};
    struct submission_args sub;
    struct slurm_request slurm;
    int64_t id;
    if (args_only(req->args, allowed, err) || submission_from_args(c, req->args, &sub, err) != 0 ||
        slurm_request_parse(req->args, &slurm, err) != 0)
        return -1;
    if (slurm.on) { /* answered once sbatch has */
        struct slurm_runs one = {.base = &sub.s, .n = 1};
        return slurm_submit(c, req, &slurm, &one, err);
    }
    if (jobs_submit(c->d, &sub.s, &id, err) != 0)
        return -1;
    pack_ok_begin(pk, req->id);
    return pack_record_now(c, pk, id, false, err);
}

int op_cancel(struct conn *c, const struct request *req, msgpack_packer *pk, struct dashi_error *err)
{
    static const char *const allowed[] = {"id", NULL};
    int64_t id;
    bool ended;
    if (job_id_arg(req, allowed, &id, err) != 0 || jobs_cancel(c->d, c->uid, c->user, id, &ended, err) != 0)
        return -1;
    pack_ok_begin(pk, req->id);
    msgpack_pack_map(pk, 2);
    pk_kv_i64(pk, "id", id);
    pk_kv_str(pk, "state", ended ? "cancelled" : "cancelling");
    return 0;
}

int op_resume(struct conn *c, const struct request *req, msgpack_packer *pk, struct dashi_error *err)
{
    static const char *const allowed[] = {"id", NULL};
    int64_t id;
    if (job_id_arg(req, allowed, &id, err) != 0 || jobs_resume(c->d, c->uid, id, err) != 0)
        return -1;
    pack_ok_begin(pk, req->id);
    return pack_job_record(pk, &c->d->store, id, c->uid, false, err);
}

/* ---- queries ---- */

int op_status(struct conn *c, const struct request *req, msgpack_packer *pk, struct dashi_error *err)
{
    static const char *const allowed[] = {"id", NULL};
    int64_t id;
    struct job_row row;
    if (visible_job_arg(c, req, allowed, &id, &row, err) != 0)
        return -1;
    char reason[QUEUE_REASON_MAX];
    queue_reason(c->d, id, reason, sizeof reason);
    pack_ok_begin(pk, req->id);
    msgpack_pack_map(pk, 7);
    pk_kv_i64(pk, "id", row.id);
    pk_kv_str(pk, "kind", row.kind);
    pk_kv_str(pk, "state", job_state_name(row.state));
    pk_kv_str(pk, "reason", reason[0] ? reason : NULL);
    pk_kv_u64(pk, "step", row.step);
    pk_kv_u64(pk, "total", row.total_steps);
    pk_key(pk, "error");
    if (row.error_code[0]) {
        msgpack_pack_map(pk, 2);
        pk_kv_str(pk, "code", row.error_code);
        pk_kv_str(pk, "message", row.error_message);
    } else {
        msgpack_pack_nil(pk);
    }
    job_row_free(&row);
    return 0;
}

int op_show(struct conn *c, const struct request *req, msgpack_packer *pk, struct dashi_error *err)
{
    static const char *const allowed[] = {"id", NULL};
    int64_t id;
    if (job_id_arg(req, allowed, &id, err) != 0)
        return -1;
    pack_ok_begin(pk, req->id);
    return pack_record_now(c, pk, id, true, err);
}

struct list_ctx {
    int64_t ids[DASHI_PAGE_JOBS + 1];
    size_t n;
};

static int list_cb(void *ctx, const struct job_row *row)
{
    struct list_ctx *l = ctx;
    if (l->n == sizeof l->ids / sizeof l->ids[0])
        return 1;
    l->ids[l->n++] = row->id;
    return 0;
}

/* A list cursor is the id of the last job shown: the next page holds older jobs. */
static int parse_list_cursor(const char *cur, int64_t *before, struct dashi_error *err)
{
    const char *rest;
    *before = 0;
    if (!cur[0])
        return 0;
    if (cursor_i64(cur, before, &rest) != 0 || *rest || *before < 1)
        return bad_cursor(err);
    return 0;
}

int op_list(struct conn *c, const struct request *req, msgpack_packer *pk, struct dashi_error *err)
{
    static const char *const allowed[] = {"state", "kind", "user", "limit", "cursor", "all", "name", "tag", "param",
                                          "group", NULL};
    static const char *const states[] = {"queued", "running", "succeeded", "failed", "cancelled", "interrupted", NULL};
    int state;
    char kind[16], user[64], cursor[32];
    uint64_t limit;
    bool all;
    if (args_only(req->args, allowed, err) || arg_enum(req->args, "state", false, -1, states, &state, err) ||
        arg_bool(req->args, "all", false, false, &all, err) ||
        arg_str(req->args, "kind", false, "", kind, sizeof kind, err) ||
        arg_str(req->args, "user", false, "", user, sizeof user, err) ||
        arg_u64(req->args, "limit", false, 50, 1, DASHI_PAGE_JOBS, &limit, err) ||
        arg_cursor(req->args, cursor, sizeof cursor, err))
        return -1;
    if (kind[0] && !job_kind_find(kind)) /* a filter naming no kind would list nothing, silently */
        return job_kind_unknown(kind, DASHI_E_NOT_FOUND, err);
    struct job_filter f = {.state = state, .kind = kind[0] ? kind : NULL, .uid = -1, .viewer = c->uid,
                           .limit = limit + 1, .stages = all || kind[0]}; /* a kind asked for: wherever it is */
    struct runs_filter runs;
    bool by_runs;
    if (parse_list_cursor(cursor, &f.before_id, err) != 0 || runs_filter_from_args(req->args, &runs, &by_runs, err) != 0)
        return -1;
    f.runs = by_runs ? &runs : NULL;
    if (user[0]) {
        struct passwd pw, *res = NULL;
        char buf[4096];
        char *end;
        unsigned long u = strtoul(user, &end, 10);
        if (*end == 0)
            f.uid = (int64_t)u;
        else if (getpwnam_r(user, &pw, buf, sizeof buf, &res) == 0 && res)
            f.uid = res->pw_uid;
        else
            return dashi_fail(err, DASHI_E_NOT_FOUND, "user", "no user '%s'", user);
    }
    struct list_ctx *l = calloc(1, sizeof *l);
    if (!l)
        return dashi_fail(err, DASHI_E_INTERNAL, "", "out of memory");
    uint64_t total = 0; /* every page together: "50 of 312 shown" */
    int rc = store_job_list(&c->d->store, &f, list_cb, l, err) || store_job_count(&c->d->store, &f, &total, err) ? -1 : 0;
    if (rc == 0) {
        size_t shown = l->n > limit ? limit : l->n;
        pack_ok_begin(pk, req->id);
        msgpack_pack_map(pk, 3);
        pk_kv_u64(pk, "total", total);
        char next[24];
        snprintf(next, sizeof next, "%lld", shown ? (long long)l->ids[shown - 1] : 0LL);
        pack_next(pk, l->n > limit ? next : NULL);
        pk_key(pk, "jobs");
        msgpack_pack_array(pk, shown);
        for (size_t i = 0; i < shown && rc == 0; i++)
            rc = pack_record_now(c, pk, l->ids[i], false, err);
    }
    free(l);
    return rc;
}

int op_wait(struct conn *c, const struct request *req, msgpack_packer *pk, struct dashi_error *err)
{
    static const char *const allowed[] = {"id", NULL};
    int64_t id;
    struct job_row row;
    if (visible_job_arg(c, req, allowed, &id, &row, err) != 0)
        return -1;
    bool active = row.state == JOB_QUEUED || row.state == JOB_RUNNING;
    job_row_free(&row);
    if (active && results_unrecorded(c->d, id, err) != 0)
        return -1;
    if (!active) {
        pack_ok_begin(pk, req->id);
        return pack_job_record(pk, &c->d->store, id, c->uid, false, err);
    }
    struct waiter_spec w = {.req_id = req->id, .job = id, .mode = WAITER_WAIT};
    if (waiter_add(c, &w, err) != 0)
        return -1;
    return OP_DEFERRED;
}

/* ---- metrics and hashes ---- */

struct series {
    char key[48];
    int64_t *steps;
    double *values;
    size_t n, cap;
};

/* One page of metrics: up to limit rows (the store is asked for one more, to know
 * whether a next page exists). */
struct series_set {
    struct series *s;
    size_t n, cap;
    size_t rows, limit;
    bool more, failed;
    struct metric_cursor last; /* the last row shown */
};

static int series_cb(void *ctx, const char *key, int64_t step, double value)
{
    struct series_set *set = ctx;
    if (set->rows == set->limit) {
        set->more = true;
        return 1;
    }
    if (set->n == 0 || strcmp(set->s[set->n - 1].key, key) != 0) {
        if (set->n == set->cap) {
            size_t cap = set->cap ? set->cap * 2 : 16;
            struct series *p = realloc(set->s, cap * sizeof *p);
            if (!p)
                return set->failed = true;
            set->s = p;
            set->cap = cap;
        }
        memset(&set->s[set->n], 0, sizeof set->s[0]);
        snprintf(set->s[set->n].key, sizeof set->s[0].key, "%s", key);
        set->n++;
    }
    struct series *s = &set->s[set->n - 1];
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 256;
        int64_t *st = realloc(s->steps, cap * sizeof *st);
        if (!st)
            return set->failed = true;
        s->steps = st;
        double *v = realloc(s->values, cap * sizeof *v);
        if (!v)
            return set->failed = true;
        s->values = v;
        s->cap = cap;
    }
    s->steps[s->n] = step;
    s->values[s->n] = value;
    s->n++;
    set->rows++;
    snprintf(set->last.key, sizeof set->last.key, "%s", key);
    set->last.step = step;
    return 0;
}

/* A metrics cursor is "STEP:KEY" of the last row shown (the key last: it may hold ':'). */
static int parse_metric_cursor(const char *cur, struct metric_cursor *after, struct dashi_error *err)
{
    const char *rest;
    if (cursor_i64(cur, &after->step, &rest) != 0 || *rest != ':' || strlen(rest + 1) >= sizeof after->key)
        return bad_cursor(err);
    snprintf(after->key, sizeof after->key, "%s", rest + 1);
    return 0;
}

static void pack_series_page(msgpack_packer *pk, const struct series_set *set)
{
    msgpack_pack_map(pk, 2);
    char next[80];
    snprintf(next, sizeof next, "%lld:%s", (long long)set->last.step, set->last.key);
    pack_next(pk, set->more ? next : NULL);
    pk_key(pk, "metrics");
    msgpack_pack_map(pk, set->n);
    for (size_t i = 0; i < set->n; i++) {
        const struct series *s = &set->s[i];
        pk_key(pk, s->key);
        msgpack_pack_map(pk, 2);
        pk_key(pk, "steps");
        msgpack_pack_array(pk, s->n);
        for (size_t k = 0; k < s->n; k++)
            msgpack_pack_int64(pk, s->steps[k]);
        pk_key(pk, "values");
        msgpack_pack_array(pk, s->n);
        for (size_t k = 0; k < s->n; k++)
            msgpack_pack_double(pk, s->values[k]);
    }
}

/* The keys a job has, listed (the first ones, as many as fit) and the nearest to the one asked for. */
struct known_keys {
    struct suggestion near;
    char list[256];
    size_t used;
};

static int known_key_cb(void *ctx, const char *key)
{
    struct known_keys *k = ctx;
    suggest_consider(&k->near, key);
    if (k->used < sizeof k->list) {
        int w = snprintf(k->list + k->used, sizeof k->list - k->used, "%s%s", k->used ? ", " : "", key);
        k->used += w > 0 ? (size_t)w : 0;
    }
    return 0;
}

/* E_NOT_FOUND naming "key": a finished job has no metric key (an empty answer would look
 * like a series with no points). */
static int unknown_metric_key(struct conn *c, int64_t id, const char *key, struct dashi_error *err)
{
    struct known_keys k = {.used = 0};
    suggest_init(&k.near, key);
    if (store_metric_keys(&c->d->store, id, known_key_cb, &k, err) != 0)
        return -1;
    const char *near = suggest_best(&k.near);
    return dashi_fail(err, DASHI_E_NOT_FOUND, "key", "job %lld has no metric '%s'%s%s%s (its keys: %s)", (long long)id,
                      key, near ? "; did you mean " : "", near ? near : "", near ? "?" : "",
                      k.used ? k.list : "none");
}

int op_metrics(struct conn *c, const struct request *req, msgpack_packer *pk, struct dashi_error *err)
{
    static const char *const allowed[] = {"id", "key", "limit", "cursor", NULL};
    int64_t id;
    char key[48], cursor[80];
    uint64_t limit;
    struct job_row row;
    struct metric_cursor after;
    if (arg_str(req->args, "key", false, "", key, sizeof key, err) ||
        arg_u64(req->args, "limit", false, DASHI_PAGE_ROWS, 1, DASHI_PAGE_ROWS, &limit, err) ||
        arg_cursor(req->args, cursor, sizeof cursor, err) ||
        (cursor[0] && parse_metric_cursor(cursor, &after, err)) ||
        visible_job_arg(c, req, allowed, &id, &row, err) != 0)
        return -1;
    bool active = row.state == JOB_QUEUED || row.state == JOB_RUNNING; /* its keys may still come */
    job_row_free(&row);
    struct series_set set = {.limit = limit};
    int rc = store_metrics(&c->d->store, id, key[0] ? key : NULL, cursor[0] ? &after : NULL, limit + 1, series_cb,
                           &set, err);
    if (rc == 0 && set.failed)
        rc = dashi_fail(err, DASHI_E_INTERNAL, "", "out of memory");
    if (rc == 0 && key[0] && !cursor[0] && set.n == 0 && !active)
        rc = unknown_metric_key(c, id, key, err);
    if (rc == 0) {
        /* Series are sent as parallel arrays; summary scalars (step -1) come first in their key. */
        pack_ok_begin(pk, req->id);
        pack_series_page(pk, &set);
    }
    for (size_t i = 0; i < set.n; i++) {
        free(set.s[i].steps);
        free(set.s[i].values);
    }
    free(set.s);
    return rc;
}

struct hash_list {
    struct zhash h[DASHI_PAGE_ROWS + 1];
    size_t n;
};

static int hash_cb(void *ctx, const struct zhash *h)
{
    struct hash_list *l = ctx;
    if (l->n == sizeof l->h / sizeof l->h[0])
        return 1;
    l->h[l->n++] = *h;
    return 0;
}

/* A hashes cursor is "TRAJ:STEP" of the last row shown. */
static int parse_hash_cursor(const char *cur, struct zhash *after, struct dashi_error *err)
{
    const char *rest;
    int64_t traj, step;
    if (cursor_i64(cur, &traj, &rest) != 0 || *rest != ':' || cursor_i64(rest + 1, &step, &rest) != 0 || *rest ||
        traj < 0 || traj > UINT32_MAX || step < 0)
        return bad_cursor(err);
    after->traj = (uint32_t)traj;
    after->step = (uint64_t)step;
    return 0;
}

int op_hashes(struct conn *c, const struct request *req, msgpack_packer *pk, struct dashi_error *err)
{
    static const char *const allowed[] = {"id", "limit", "cursor", NULL};
    int64_t id;
    char cursor[48];
    uint64_t limit;
    struct job_row row;
    struct zhash after;
    if (arg_u64(req->args, "limit", false, DASHI_PAGE_ROWS, 1, DASHI_PAGE_ROWS, &limit, err) ||
        arg_cursor(req->args, cursor, sizeof cursor, err) || (cursor[0] && parse_hash_cursor(cursor, &after, err)) ||
        visible_job_arg(c, req, allowed, &id, &row, err) != 0)
        return -1;
    job_row_free(&row);
    struct hash_list *l = calloc(1, sizeof *l);
    if (!l)
        return dashi_fail(err, DASHI_E_INTERNAL, "", "out of memory");
    int rc = store_hashes(&c->d->store, id, cursor[0] ? &after : NULL, limit + 1, hash_cb, l, err);
    if (rc == 0) {
        size_t shown = l->n > limit ? limit : l->n;
        pack_ok_begin(pk, req->id);
        msgpack_pack_map(pk, 2);
        char next[48] = "";
        if (shown)
            snprintf(next, sizeof next, "%u:%llu", l->h[shown - 1].traj, (unsigned long long)l->h[shown - 1].step);
        pack_next(pk, l->n > limit ? next : NULL);
        pk_key(pk, "hashes");
        msgpack_pack_array(pk, shown);
        for (size_t i = 0; i < shown; i++) {
            msgpack_pack_map(pk, 3);
            pk_kv_u64(pk, "traj", l->h[i].traj);
            pk_kv_u64(pk, "step", l->h[i].step);
            pk_kv_str(pk, "hash", l->h[i].hex);
        }
    }
    free(l);
    return rc;
}
