/* SPDX-License-Identifier: MIT */
/* Inputs named either by blob hash or by the job that produces them, and the one check
 * of an input blob (job.h). */
#include <string.h>

#include "job.h"
#include "store_keep.h"

void job_plan_input(struct job_plan *plan, const char *name, const char *hash)
{
    if (!hash || !hash[0] || plan->ninputs == JOB_MAX_INPUTS)
        return;
    snprintf(plan->inputs[plan->ninputs].name, sizeof plan->inputs[0].name, "%s", name);
    snprintf(plan->inputs[plan->ninputs].hash, sizeof plan->inputs[0].hash, "%s", hash);
    plan->ninputs++;
}

int job_params_open(const struct job_submit_ctx *ctx, int64_t id, struct job_params_view *v,
                    const msgpack_object **map, struct dashi_error *err)
{
    if (store_job_get(ctx->store, id, &v->row, err) != 0)
        return -1;
    msgpack_unpacked_init(&v->u);
    size_t off = 0;
    if (!v->row.params_mp ||
        msgpack_unpack_next(&v->u, v->row.params_mp, v->row.params_mp_len, &off) != MSGPACK_UNPACK_SUCCESS ||
        v->u.data.type != MSGPACK_OBJECT_MAP) {
        msgpack_unpacked_destroy(&v->u);
        job_row_free(&v->row);
        return dashi_fail(err, DASHI_E_INTERNAL, "", "job %lld has unreadable parameters", (long long)id);
    }
    *map = &v->u.data;
    return 0;
}

void job_params_close(struct job_params_view *v)
{
    msgpack_unpacked_destroy(&v->u);
    job_row_free(&v->row);
}

/* The blob's metadata; a missing blob is E_NOT_FOUND naming the field, any other store
 * error (E_DB) passes through with the field set. */
static int blob_lookup(const struct job_submit_ctx *ctx, const char *field, const char *hash, struct blob_meta *m,
                       struct dashi_error *err)
{
    if (store_blob_get(ctx->store, hash, m, err) == 0)
        return 0;
    if (err->code == DASHI_E_NOT_FOUND)
        return dashi_fail(err, DASHI_E_NOT_FOUND, field, "%s: no blob %s (upload it with `dashi put`)", field, hash);
    snprintf(err->field, sizeof err->field, "%s", field);
    return -1;
}

static void shape_text(const struct npy_info *info, char *buf, size_t cap)
{
    size_t used = (size_t)snprintf(buf, cap, "%s (", npy_dtype_name(info->dtype));
    for (int i = 0; i < info->ndim && used < cap; i++)
        used += (size_t)snprintf(buf + used, cap - used, "%s%llu", i ? ", " : "", (unsigned long long)info->shape[i]);
    if (used < cap)
        snprintf(buf + used, cap - used, "%s)", info->ndim == 1 ? "," : "");
}

int job_blob_check(const struct job_submit_ctx *ctx, const char *field, const char *hash, struct blob_want want,
                   const char *what, struct blob_meta *m, struct dashi_error *err)
{
    if (blob_lookup(ctx, field, hash, m, err) != 0)
        return -1;
    if (m->info.dtype != want.dtype || (want.ndims && !(want.ndims & (1u << m->info.ndim)))) {
        char got[96];
        shape_text(&m->info, got, sizeof got);
        return dashi_fail(err, DASHI_E_BAD_VALUE, field, "%s must be %s, got %s", field, what, got);
    }
    if (want.finite && !m->all_finite)
        return dashi_fail(err, DASHI_E_BAD_VALUE, field, "%s contains NaN or Inf", field);
    return 0;
}

/* The outputs of one job, collected so that a list of wanted names can be tried in order. */
struct output_list {
    struct {
        char name[32];
        char hash[DASHI_HASH_HEX + 1];
    } items[32];
    int n;
};

static int collect_output(void *ctx, const char *name, const char *hash)
{
    struct output_list *l = ctx;
    if (l->n == (int)(sizeof l->items / sizeof l->items[0]))
        return 1;
    snprintf(l->items[l->n].name, sizeof l->items[0].name, "%s", name);
    snprintf(l->items[l->n].hash, sizeof l->items[0].hash, "%s", hash);
    l->n++;
    return 0;
}

/* `wanted` is one output name or several separated by commas; the first of them that
 * the job has wins (e.g. "z0,z_final": a train job's first state, else a rollout's
 * final state). */
static bool pick_output(const struct output_list *l, const char *wanted, char hash[DASHI_HASH_HEX + 1])
{
    for (const char *p = wanted; *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        for (int i = 0; i < l->n; i++)
            if (strlen(l->items[i].name) == len && strncmp(l->items[i].name, p, len) == 0) {
                memcpy(hash, l->items[i].hash, DASHI_HASH_HEX + 1);
                return true;
            }
        p += len + (end ? 1 : 0);
    }
    return false;
}

/* Adds id to a job list of the plan (ids, *n of cap) unless it is there already. */
static int add_job(int64_t *ids, int *n, int cap, int64_t id, const char *name, struct dashi_error *err)
{
    for (int i = 0; i < *n; i++)
        if (ids[i] == id)
            return 0;
    if (*n == cap)
        return dashi_fail(err, DASHI_E_BAD_VALUE, name, "a job may depend on at most %d other jobs", cap);
    ids[(*n)++] = id;
    return 0;
}

static int add_dep(struct job_plan *plan, int64_t id, const char *name, struct dashi_error *err)
{
    return add_job(plan->deps, &plan->ndeps, JOB_MAX_DEPS, id, name, err);
}

static int add_resolved(struct job_plan *plan, int64_t id, const char *name, struct dashi_error *err)
{
    return add_job(plan->resolved, &plan->nresolved, (int)(sizeof plan->resolved / sizeof plan->resolved[0]), id,
                   name, err);
}

/* The wanted output of job id is not among its outputs: E_NOT_FOUND saying why, naming the
 * output a keep rule released and the job that consumed it last. */
static int released_or_missing(const struct job_submit_ctx *ctx, const char *name, int64_t id, const char *kind,
                               const char *output, struct dashi_error *err)
{
    struct released_output r;
    int found = store_released_output(ctx->store, id, output, &r, err);
    if (found < 0) {
        snprintf(err->field, sizeof err->field, "%s", name);
        return -1;
    }
    if (found)
        return dashi_fail(err, DASHI_E_NOT_FOUND, name,
                          "%s: the output '%s' of job %lld (%s) was released (keep %s; consumed by job %lld): "
                          "submit that job again to make it", name, r.name, (long long)id, kind, r.rule,
                          (long long)r.consumed_by);
    return dashi_fail(err, DASHI_E_NOT_FOUND, name, "%s: job %lld (%s) has no output '%s'", name, (long long)id, kind,
                      output);
}

int job_input_ref(const struct job_submit_ctx *ctx, const msgpack_object *args, const char *name,
                  const char *output, bool required, char hash[DASHI_HASH_HEX + 1], int64_t *job_id,
                  struct job_plan *plan, struct dashi_error *err)
{
    hash[0] = 0;
    *job_id = 0;
    const msgpack_object *v = args_find(args, name);
    if (!v || v->type == MSGPACK_OBJECT_NIL) {
        if (required)
            return dashi_fail(err, DASHI_E_MISSING_FIELD, name, "%s is required (a blob hash or a job id)", name);
        return 0;
    }
    if (v->type == MSGPACK_OBJECT_STR) {
        struct blob_meta meta;
        return arg_hash(args, name, true, hash, err) || blob_lookup(ctx, name, hash, &meta, err) ? -1 : 0;
    }
    int64_t id;
    if (v->type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
        arg_i64(args, name, true, 0, 1, INT64_MAX, &id, err) != 0)
        return dashi_fail(err, DASHI_E_BAD_TYPE, name, "%s must be a blob hash (64 hex digits) or a job id", name);
    struct job_row row;
    if (store_job_get(ctx->store, id, &row, err) != 0) {
        if (err->code == DASHI_E_NOT_FOUND)
            return dashi_fail(err, DASHI_E_NOT_FOUND, name, "%s: no job %lld", name, (long long)id);
        snprintf(err->field, sizeof err->field, "%s", name); /* a store error passes through */
        return -1;
    }
    if (row.is_private && ctx->uid != 0 && ctx->uid != row.uid) {
        job_row_free(&row); /* another user's private job: as if it did not exist */
        return dashi_fail(err, DASHI_E_NOT_FOUND, name, "%s: no job %lld", name, (long long)id);
    }
    enum job_state state = row.state;
    char kind[sizeof row.kind];
    snprintf(kind, sizeof kind, "%s", row.kind);
    job_row_free(&row);
    *job_id = id;
    if (state == JOB_QUEUED || state == JOB_RUNNING || state == JOB_INTERRUPTED) /* interrupted: resumable */
        return add_dep(plan, id, name, err);
    if (state != JOB_SUCCEEDED)
        return dashi_fail(err, DASHI_E_STATE, name, "%s: job %lld is %s, so its %s will never exist", name,
                          (long long)id, job_state_name(state), output);
    struct output_list outs = {.n = 0};
    if (store_job_blobs(ctx->store, id, "output", collect_output, &outs, err) != 0)
        return -1;
    if (!pick_output(&outs, output, hash))
        return released_or_missing(ctx, name, id, kind, output, err);
    return add_resolved(plan, id, name, err);
}
