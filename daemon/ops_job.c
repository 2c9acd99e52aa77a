/* Job submission and the job queries. Submission validates everything up front
 * (nothing is queued on bad input), then records and schedules the job. */
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "ops.h"
#include "ops_page.h"
#include "quota.h"

/* The common start of the per-job ops: args limited to `allowed` (which includes "id"),
 * the id, and the job's row if the caller may see it (the caller frees the row). */
static int visible_job_arg(struct conn *c, const struct request *req, const char *const *allowed, int64_t *id,
                           struct job_row *row, struct dashi_error *err)
{
    if (args_only(req->args, allowed, err) || arg_i64(req->args, "id", true, 0, 1, INT64_MAX, id, err))
        return -1;
    return job_get_visible(&c->d->store, *id, c->uid, row, err);
}

/* ---- submit ---- */

struct submit_tx {
    struct store *st;
    struct job_row *row;
    const struct job_plan *plan;
};

static int submit_tx_fn(void *ctx, struct dashi_error *err)
{
    struct submit_tx *t = ctx;
    if (store_job_insert(t->st, t->row, err) != 0)
        return -1;
    for (int i = 0; i < t->plan->ninputs; i++)
        if (store_job_blob_add(t->st, t->row->id, "input", t->plan->inputs[i].name, t->plan->inputs[i].hash, err) != 0)
            return -1;
    return 0;
}

/* Validates args for kind and, if all is well, fills *job (not yet scheduled). Shared by
 * submit and by the re-queueing of jobs at daemon start. */
int validate_job(struct daemon *d, const struct job_kind *kind, const msgpack_object *args, uid_t uid,
                        struct sched_job **out, struct dashi_error *err)
{
    struct job_submit_ctx ctx = {.store = &d->store, .blobs = &d->blobs, .vk = &d->vk, .uid = uid};
    struct sched_job *j = calloc(1, sizeof *j);
    if (!j)
        return dashi_fail(err, DASHI_E_INTERNAL, "", "out of memory");
    j->kind = kind;
    j->uid = uid;
    if (kind->validate(&ctx, args, &j->params, &j->plan, err) != 0) {
        free(j);
        return -1;
    }
    *out = j;
    if (j->plan.require_gpu && d->vk.is_cpu)
        return dashi_fail(err, DASHI_E_NO_GPU, "require_gpu",
                          "the job requires a GPU but this daemon runs on %s, a CPU implementation of Vulkan "
                          "(no GPU was found or --device selected it)",
                          d->vk.device_name);
    if (j->plan.mem_estimate > d->vk.memory_budget)
        return dashi_fail(err, DASHI_E_DEVICE_MEMORY, "",
                          "the job needs about %llu MiB of device memory; the device budget is %llu MiB",
                          (unsigned long long)(j->plan.mem_estimate >> 20),
                          (unsigned long long)(d->vk.memory_budget >> 20));
    return 0;
}

static void sched_job_discard(struct sched_job *j)
{
    if (!j)
        return;
    if (j->params)
        j->kind->free_params(j->params);
    free(j);
}

/* The resolved parameters as msgpack (into sb, initialised here) and as JSON (malloc'd,
 * NULL when they cannot be encoded). */
static char *pack_resolved_params(const struct job_kind *kind, const void *params, msgpack_sbuffer *sb)
{
    msgpack_sbuffer_init(sb);
    msgpack_packer ppk;
    msgpack_packer_init(&ppk, sb, msgpack_sbuffer_write);
    kind->pack_params(params, &ppk);
    msgpack_unpacked pu;
    msgpack_unpacked_init(&pu);
    char *json = NULL;
    if (msgpack_unpack_next(&pu, sb->data, sb->size, NULL) == MSGPACK_UNPACK_SUCCESS)
        json = json_string(&pu.data, -1);
    msgpack_unpacked_destroy(&pu);
    return json;
}

int op_submit(struct conn *c, const struct request *req, msgpack_packer *pk, struct dashi_error *err)
{
    static const char *const allowed[] = {"kind", "args", "priority", "private", "time_limit", NULL};
    struct daemon *d = c->d;
    char kind_name[16];
    int64_t priority;
    bool is_private;
    double time_limit;
    if (args_only(req->args, allowed, err) || arg_str(req->args, "kind", true, NULL, kind_name, sizeof kind_name, err) ||
        arg_i64(req->args, "priority", false, 0, -100, 100, &priority, err) ||
        arg_bool(req->args, "private", false, false, &is_private, err) ||
        arg_f64(req->args, "time_limit", false, 0, 0, 1e9, &time_limit, err))
        return -1;
    const struct job_kind *kind = job_kind_find(kind_name);
    if (!kind) {
        char names[256];
        job_kind_names(names, sizeof names);
        return dashi_fail(err, DASHI_E_BAD_VALUE, "kind", "unknown job kind '%s' (kinds: %s)", kind_name, names);
    }
    const msgpack_object *args = args_find(req->args, "args");
    msgpack_object empty = {.type = MSGPACK_OBJECT_MAP};
    if (!args || args->type == MSGPACK_OBJECT_NIL)
        args = &empty;
    if (args->type != MSGPACK_OBJECT_MAP)
        return dashi_fail(err, DASHI_E_BAD_TYPE, "args", "args must be a map of the job's parameters");

    struct sched_job *j = NULL;
    if (device_check_accepting(&d->health, err) != 0 || validate_job(d, kind, args, c->uid, &j, err) != 0 ||
        quota_check_submit(d, c->uid, &j->plan, err) != 0) {
        sched_job_discard(j);
        return -1;
    }
    j->priority = (int)priority;
    quota_time_limit(d, j, time_limit);

    /* The stored parameters are the resolved ones, defaults included. */
    msgpack_sbuffer psb;
    char *pjson = pack_resolved_params(kind, j->params, &psb);

    struct job_row row;
    memset(&row, 0, sizeof row);
    snprintf(row.kind, sizeof row.kind, "%s", kind->name);
    row.state = JOB_QUEUED;
    row.uid = c->uid;
    snprintf(row.user, sizeof row.user, "%s", c->user);
    row.priority = (int)priority;
    row.is_private = is_private;
    row.time_limit = time_limit;
    row.params_json = pjson;
    row.params_mp = psb.data;
    row.params_mp_len = psb.size;
    row.submitted_at = now_seconds();
    snprintf(row.precision, sizeof row.precision, "%s", j->plan.precision);
    snprintf(row.mode, sizeof row.mode, "%s", j->plan.mode);
    row.total_steps = j->plan.total_steps;
    row.mem_estimate = j->plan.mem_estimate;
    struct submit_tx tx = {.st = &d->store, .row = &row, .plan = &j->plan};
    int rc = pjson ? store_transaction(&d->store, submit_tx_fn, &tx, err)
                   : dashi_fail(err, DASHI_E_INTERNAL, "", "cannot encode the job's parameters");
    free(pjson);
    msgpack_sbuffer_destroy(&psb);
    if (rc != 0) {
        sched_job_discard(j);
        return -1;
    }
    j->id = row.id;
    j->waiting = j->plan.ndeps > 0;
    scheduler_add(&d->sched, j);
    pack_ok_begin(pk, req->id);
    return pack_job_record(pk, &d->store, row.id, c->uid, false, err);
}

int jobs_requeue(struct daemon *d, struct dashi_error *err)
{
    int64_t *ids = NULL;
    size_t n = 0;
    if (store_jobs_in_state(&d->store, JOB_QUEUED, &ids, &n, err) != 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        struct job_row row;
        if (store_job_get(&d->store, ids[i], &row, err) != 0) {
            free(ids);
            return -1;
        }
        struct dashi_error verr;
        dashi_error_clear(&verr);
        const struct job_kind *kind = job_kind_find(row.kind);
        msgpack_unpacked pu;
        msgpack_unpacked_init(&pu);
        struct sched_job *j = NULL;
        int ok = kind && row.params_mp &&
                 msgpack_unpack_next(&pu, row.params_mp, row.params_mp_len, NULL) == MSGPACK_UNPACK_SUCCESS &&
                 validate_job(d, kind, &pu.data, row.uid, &j, &verr) == 0;
        msgpack_unpacked_destroy(&pu);
        if (ok) {
            j->id = row.id;
            j->priority = row.priority;
            quota_time_limit(d, j, row.time_limit);
            j->waiting = j->plan.ndeps > 0;
            /* A resumed job queued again continues from its checkpoint (only a job that
             * ran has one), with the partial outputs it kept. */
            memcpy(j->resume_checkpoint, row.checkpoint, sizeof j->resume_checkpoint);
            j->resume_step = row.checkpoint_step;
            scheduler_add(&d->sched, j);
        } else {
            sched_job_discard(j);
            if (verr.code == DASHI_OK)
                dashi_fail(&verr, DASHI_E_INTERNAL, "", "stored parameters of job %lld cannot be read",
                           (long long)row.id);
            /* What was valid when submitted may not be now (a blob removed, another device). */
            if (store_job_set_state(&d->store, row.id, JOB_FAILED, now_seconds(), &verr, err) != 0) {
                job_row_free(&row);
                free(ids);
                return -1;
            }
        }
        job_row_free(&row);
    }
    free(ids);
    return 0;
}

/* ---- dependencies ---- */

static void fail_dependent(struct daemon *d, int64_t id, const struct dashi_error *why)
{
    struct dashi_error err;
    if (scheduler_cancel(&d->sched, id) != 1)
        return; /* already gone or started */
    if (store_job_set_state(&d->store, id, JOB_FAILED, now_seconds(), why, &err) != 0)
        fprintf(stderr, "dashid: recording the failure of job %lld: %s\n", (long long)id, err.message);
    results_job_ended(d, id);
    jobs_dependency_ended(d, id); /* its own dependents fail in turn */
}

/* Re-validates a waiting job whose dependency `dep` just succeeded. */
static void revalidate(struct daemon *d, int64_t id)
{
    struct dashi_error err;
    dashi_error_clear(&err);
    struct job_row row;
    if (store_job_get(&d->store, id, &row, &err) != 0)
        return;
    const struct job_kind *kind = job_kind_find(row.kind);
    msgpack_unpacked pu;
    msgpack_unpacked_init(&pu);
    struct sched_job *j = NULL;
    int rc = kind && row.params_mp &&
                     msgpack_unpack_next(&pu, row.params_mp, row.params_mp_len, NULL) == MSGPACK_UNPACK_SUCCESS
                 ? validate_job(d, kind, &pu.data, row.uid, &j, &err)
                 : dashi_fail(&err, DASHI_E_INTERNAL, "", "stored parameters cannot be read");
    msgpack_unpacked_destroy(&pu);
    job_row_free(&row);
    if (rc != 0) {
        sched_job_discard(j);
        fail_dependent(d, id, &err);
        return;
    }
    if (j->plan.ndeps > 0) { /* other dependencies are still running */
        sched_job_discard(j);
        return;
    }
    for (int i = 0; i < j->plan.ninputs; i++)
        if (store_job_blob_add(&d->store, id, "input", j->plan.inputs[i].name, j->plan.inputs[i].hash, &err) != 0)
            fprintf(stderr, "dashid: recording inputs of job %lld: %s\n", (long long)id, err.message);
    /* What validation learned from the inputs (a train job's N, a decode's frame count)
     * belongs in the stored parameters too, as if the inputs had existed at submit. */
    msgpack_sbuffer psb;
    char *pjson = pack_resolved_params(kind, j->params, &psb);
    if (!pjson || store_job_set_params(&d->store, id, pjson, psb.data, psb.size, j->plan.total_steps,
                                       j->plan.mem_estimate, &err) != 0)
        fprintf(stderr, "dashid: storing the resolved parameters of job %lld: %s\n", (long long)id,
                pjson ? err.message : "cannot encode them");
    free(pjson);
    msgpack_sbuffer_destroy(&psb);
    if (scheduler_make_ready(&d->sched, id, j->params, &j->plan) == 0)
        j->params = NULL; /* the scheduler owns them now */
    sched_job_discard(j);
}

void jobs_dependency_ended(struct daemon *d, int64_t dep)
{
    int64_t ids[64];
    size_t n = scheduler_dependents(&d->sched, dep, ids, 64);
    if (n == 0)
        return;
    struct job_row row;
    struct dashi_error err;
    if (store_job_get(&d->store, dep, &row, &err) != 0)
        return;
    enum job_state state = row.state;
    job_row_free(&row);
    for (size_t i = 0; i < n; i++) {
        if (state == JOB_SUCCEEDED) {
            revalidate(d, ids[i]);
        } else {
            struct dashi_error why;
            dashi_fail(&why, DASHI_E_STATE, "", "job %lld, whose output it needs, %s", (long long)dep,
                       job_state_name(state));
            fail_dependent(d, ids[i], &why);
        }
    }
}

/* ---- queries ---- */

int op_status(struct conn *c, const struct request *req, msgpack_packer *pk, struct dashi_error *err)
{
    static const char *const allowed[] = {"id", NULL};
    int64_t id;
    struct job_row row;
    if (visible_job_arg(c, req, allowed, &id, &row, err) != 0)
        return -1;
    pack_ok_begin(pk, req->id);
    msgpack_pack_map(pk, 6);
    pk_kv_i64(pk, "id", row.id);
    pk_kv_str(pk, "kind", row.kind);
    pk_kv_str(pk, "state", job_state_name(row.state));
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
    if (args_only(req->args, allowed, err) || arg_i64(req->args, "id", true, 0, 1, INT64_MAX, &id, err))
        return -1;
    pack_ok_begin(pk, req->id);
    return pack_job_record(pk, &c->d->store, id, c->uid, true, err);
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
    static const char *const allowed[] = {"state", "kind", "user", "limit", "cursor", NULL};
    static const char *const states[] = {"queued", "running", "succeeded", "failed", "cancelled", "interrupted", NULL};
    int state;
    char kind[16], user[64], cursor[32];
    uint64_t limit;
    if (args_only(req->args, allowed, err) || arg_enum(req->args, "state", false, -1, states, &state, err) ||
        arg_str(req->args, "kind", false, "", kind, sizeof kind, err) ||
        arg_str(req->args, "user", false, "", user, sizeof user, err) ||
        arg_u64(req->args, "limit", false, 50, 1, DASHI_PAGE_JOBS, &limit, err) ||
        arg_cursor(req->args, cursor, sizeof cursor, err))
        return -1;
    struct job_filter f = {.state = state, .kind = kind[0] ? kind : NULL, .uid = -1, .viewer = c->uid,
                           .limit = limit + 1};
    if (parse_list_cursor(cursor, &f.before_id, err) != 0)
        return -1;
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
    int rc = store_job_list(&c->d->store, &f, list_cb, l, err);
    if (rc == 0) {
        size_t shown = l->n > limit ? limit : l->n;
        pack_ok_begin(pk, req->id);
        msgpack_pack_map(pk, 2);
        char next[24];
        snprintf(next, sizeof next, "%lld", shown ? (long long)l->ids[shown - 1] : 0LL);
        pack_next(pk, l->n > limit ? next : NULL);
        pk_key(pk, "jobs");
        msgpack_pack_array(pk, shown);
        for (size_t i = 0; i < shown && rc == 0; i++)
            rc = pack_job_record(pk, &c->d->store, l->ids[i], c->uid, false, err);
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
    if (waiter_add(c, req->id, id, err) != 0)
        return -1;
    return OP_DEFERRED;
}

int op_cancel(struct conn *c, const struct request *req, msgpack_packer *pk, struct dashi_error *err)
{
    static const char *const allowed[] = {"id", NULL};
    int64_t id;
    struct job_row row;
    if (visible_job_arg(c, req, allowed, &id, &row, err) != 0)
        return -1;
    uid_t owner = row.uid;
    enum job_state state = row.state;
    job_row_free(&row);
    if (c->uid != 0 && c->uid != owner)
        return dashi_fail(err, DASHI_E_PERMISSION, "id", "job %lld belongs to another user; only its owner or root "
                          "may cancel it", (long long)id);
    if (state != JOB_QUEUED && state != JOB_RUNNING)
        return dashi_fail(err, DASHI_E_STATE, "id", "job %lld is %s and cannot be cancelled", (long long)id,
                          job_state_name(state));
    int rc = scheduler_cancel(&c->d->sched, id);
    const char *result = "cancelling";
    if (rc == 1) {
        struct dashi_error why;
        dashi_fail(&why, DASHI_E_CANCELLED, "", "cancelled by %s before it started", c->user);
        if (store_job_set_state(&c->d->store, id, JOB_CANCELLED, now_seconds(), &why, err) != 0)
            return -1;
        results_job_ended(c->d, id);
        jobs_dependency_ended(c->d, id);
        result = "cancelled";
    } else if (rc < 0) {
        return dashi_fail(err, DASHI_E_STATE, "id", "job %lld is not active in the scheduler", (long long)id);
    }
    pack_ok_begin(pk, req->id);
    msgpack_pack_map(pk, 2);
    pk_kv_i64(pk, "id", id);
    pk_kv_str(pk, "state", result);
    return 0;
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
    job_row_free(&row);
    struct series_set set = {.limit = limit};
    int rc = store_metrics(&c->d->store, id, key[0] ? key : NULL, cursor[0] ? &after : NULL, limit + 1, series_cb,
                           &set, err);
    if (rc == 0 && set.failed)
        rc = dashi_fail(err, DASHI_E_INTERNAL, "", "out of memory");
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
