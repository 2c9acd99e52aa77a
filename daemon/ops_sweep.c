/* SPDX-License-Identifier: MIT */
/* The sweep op: the Cartesian product of some parameters' values, submitted as one group
 * of jobs of one kind (docs/protocol.md "sweep"). Every run is checked as a submission
 * would be before any is queued, so a bad key or value queues nothing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "ops.h"
#include "quota.h"
#include "slurm_submit.h"
#include "store_tags.h"

#define SWEEP_RUNS_MAX 1000 /* runs in one sweep */
#define SWEEP_KEYS_MAX 16   /* varied parameters */

struct sweep {
    const msgpack_object *base; /* the args every run shares */
    const msgpack_object_kv *vary;
    uint32_t nvary;
    size_t runs;
    msgpack_object_kv *kv; /* one run's args: base (less the varied keys) and one value of each */
    msgpack_object args;
};

static bool base_has_key(const msgpack_object *base, const msgpack_object *key)
{
    for (uint32_t i = 0; i < base->via.map.size; i++)
        if (msgpack_object_equal(base->via.map.ptr[i].key, *key))
            return true;
    return false;
}

/* The `vary` map: 1..SWEEP_KEYS_MAX parameter names, each with a non-empty array of
 * values, not also in args; the product at most SWEEP_RUNS_MAX. */
static int parse_vary(const msgpack_object *args, struct sweep *sw, struct dashi_error *err)
{
    const msgpack_object *v = args_find(args, "vary");
    if (!v || v->type == MSGPACK_OBJECT_NIL)
        return dashi_fail(err, DASHI_E_MISSING_FIELD, "vary", "a sweep needs vary: {PARAM: [VALUE, ...], ...}");
    if (v->type != MSGPACK_OBJECT_MAP || v->via.map.size == 0)
        return dashi_fail(err, DASHI_E_BAD_TYPE, "vary", "vary must be a non-empty map of parameter names to arrays");
    if (v->via.map.size > SWEEP_KEYS_MAX)
        return dashi_fail(err, DASHI_E_TOO_LARGE, "vary", "at most %d varied parameters, got %u", SWEEP_KEYS_MAX,
                          v->via.map.size);
    sw->runs = 1;
    for (uint32_t i = 0; i < v->via.map.size; i++) {
        const msgpack_object_kv *kv = &v->via.map.ptr[i];
        if (kv->key.type != MSGPACK_OBJECT_STR)
            return dashi_fail(err, DASHI_E_BAD_TYPE, "vary", "vary's keys are parameter names");
        int klen = (int)(kv->key.via.str.size < 48 ? kv->key.via.str.size : 48);
        if (kv->val.type != MSGPACK_OBJECT_ARRAY || kv->val.via.array.size == 0)
            return dashi_fail(err, DASHI_E_BAD_VALUE, "vary", "vary.%.*s must be a non-empty array of values", klen,
                              kv->key.via.str.ptr);
        if (base_has_key(sw->base, &kv->key))
            return dashi_fail(err, DASHI_E_BAD_VALUE, "vary", "%.*s is both varied and given in args", klen,
                              kv->key.via.str.ptr);
        if (kv->val.via.array.size > SWEEP_RUNS_MAX || sw->runs * kv->val.via.array.size > SWEEP_RUNS_MAX)
            return dashi_fail(err, DASHI_E_TOO_LARGE, "vary", "a sweep holds at most %d runs", SWEEP_RUNS_MAX);
        sw->runs *= kv->val.via.array.size;
    }
    sw->vary = v->via.map.ptr;
    sw->nvary = v->via.map.size;
    return 0;
}

/* Points sw->args at run k's arguments (the first varied parameter changes slowest). */
static void run_args(struct sweep *sw, size_t k)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < sw->base->via.map.size; i++)
        sw->kv[n++] = sw->base->via.map.ptr[i];
    size_t rest = k;
    for (uint32_t i = sw->nvary; i-- > 0;) {
        const msgpack_object *values = &sw->vary[i].val;
        sw->kv[n + i].key = sw->vary[i].key;
        sw->kv[n + i].val = values->via.array.ptr[rest % values->via.array.size];
        rest /= values->via.array.size;
    }
    sw->args.type = MSGPACK_OBJECT_MAP;
    sw->args.via.map.size = n + sw->nvary;
    sw->args.via.map.ptr = sw->kv;
}

/* err's message prefixed with which run it is ("run 3 of 6 (seed=1, cs=0.2): ..."). */
static int fail_in_run(struct sweep *sw, size_t k, struct dashi_error *err)
{
    char which[160];
    size_t used = (size_t)snprintf(which, sizeof which, "run %zu of %zu (", k + 1, sw->runs);
    for (uint32_t i = 0; i < sw->nvary && used < sizeof which; i++) {
        const msgpack_object_kv *kv = &sw->kv[sw->base->via.map.size + i];
        char *value = json_string(&kv->val, -1);
        used += (size_t)snprintf(which + used, sizeof which - used, "%s%.*s=%s", i ? ", " : "",
                                 (int)(kv->key.via.str.size < 32 ? kv->key.via.str.size : 32), kv->key.via.str.ptr,
                                 value ? value : "?");
        free(value);
    }
    char message[sizeof which + sizeof err->message + 4];
    snprintf(message, sizeof message, "%s): %s", which, err->message);
    size_t keep = strnlen(message, sizeof err->message - 1); /* cut at the message's room */
    memcpy(err->message, message, keep);
    err->message[keep] = '\0';
    return -1;
}

/* Cancels what a sweep queued before a later run was refused (the device was lost, a
 * limit was reached in between): a sweep is queued whole or not at all. */
static void cancel_queued(struct conn *c, const int64_t *ids, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct dashi_error ignored;
        bool ended;
        jobs_cancel(c->d, c->uid, c->user, ids[i], &ended, &ignored);
    }
}

static int check_runs(struct conn *c, struct sweep *sw, const struct job_submission *base, struct dashi_error *err)
{
    if (quota_check_jobs(c->d, c->uid, sw->runs, err) != 0)
        return -1;
    for (size_t k = 0; k < sw->runs; k++) {
        run_args(sw, k);
        struct job_submission s = *base;
        s.args = &sw->args;
        if (jobs_check(c->d, &s, err) != 0)
            return fail_in_run(sw, k, err);
    }
    return 0;
}

/* The sweep's group, named by its varied parameters. */
static int create_group(struct conn *c, const struct sweep *sw, struct submission_args *sub, struct dashi_error *err)
{
    char *vary_json = json_string(&(msgpack_object){.type = MSGPACK_OBJECT_MAP,
                                                    .via.map = {.size = sw->nvary, .ptr = (msgpack_object_kv *)sw->vary}},
                                  -1);
    int rc = vary_json ? store_group_create(&c->d->store, c->uid, sub->labels.name, sub->kind_name, vary_json,
                                            now_seconds(), &sub->labels.group, err)
                       : dashi_fail(err, DASHI_E_INTERNAL, "", "out of memory");
    free(vary_json);
    return rc;
}

static int queue_runs(struct conn *c, struct sweep *sw, struct submission_args *sub, int64_t *ids,
                      struct dashi_error *err)
{
    int rc = 0;
    for (size_t k = 0; k < sw->runs && rc == 0; k++) {
        run_args(sw, k);
        struct job_submission s = sub->s;
        s.args = &sw->args;
        if (jobs_submit(c->d, &s, &ids[k], err) != 0) {
            cancel_queued(c, ids, k);
            rc = fail_in_run(sw, k, err);
        }
    }
    return rc;
}

/* slurm_submit's view of run k. */
static void slurm_run_args(void *ctx, size_t k, struct job_submission *s)
{
    struct sweep *sw = ctx;
    run_args(sw, k);
    s->args = &sw->args;
}

static int submit_to_slurm(struct conn *c, const struct request *req, struct sweep *sw, struct submission_args *sub,
                           const struct slurm_request *slurm, struct dashi_error *err)
{
    struct slurm_runs runs = {.base = &sub->s, .n = sw->runs, .args_of = slurm_run_args, .ctx = sw, .sweep = true,
                              .group = sub->labels.group, .name = sub->labels.name[0] ? sub->labels.name : NULL};
    return slurm_submit(c, req, slurm, &runs, err);
}

int op_sweep(struct conn *c, const struct request *req, msgpack_packer *pk, struct dashi_error *err)
{
    static const char *const allowed[] = {"kind", "args", "vary", "priority", "private", "time_limit", "reuse",
                                          "name", "tags", "executor", "slurm_args", NULL};
    struct submission_args *sub = calloc(1, sizeof *sub);
    struct slurm_request *slurm = calloc(1, sizeof *slurm);
    struct sweep sw = {0};
    int64_t *ids = NULL;
    int rc = -1;
    if (!sub || !slurm) {
        dashi_fail(err, DASHI_E_INTERNAL, "", "out of memory");
        goto done;
    }
    if (args_only(req->args, allowed, err) || submission_from_args(c, req->args, sub, err) != 0 ||
        slurm_request_parse(req->args, slurm, err) != 0 || (slurm->on && slurm_submit_ready(c->d, &sub->s, err) != 0))
        goto done;
    sw.base = sub->s.args;
    if (parse_vary(req->args, &sw, err) != 0)
        goto done;
    sw.kv = calloc(sw.base->via.map.size + sw.nvary, sizeof *sw.kv);
    ids = calloc(sw.runs, sizeof *ids);
    if (!sw.kv || !ids) {
        dashi_fail(err, DASHI_E_INTERNAL, "", "out of memory");
        goto done;
    }
    if (check_runs(c, &sw, &sub->s, err) != 0 || create_group(c, &sw, sub, err) != 0)
        goto done;
    if (slurm->on) { /* one array; answered once sbatch has */
        rc = submit_to_slurm(c, req, &sw, sub, slurm, err);
        goto done;
    }
    if (queue_runs(c, &sw, sub, ids, err) != 0)
        goto done;
    pack_ok_begin(pk, req->id);
    msgpack_pack_map(pk, 3);
    pk_kv_i64(pk, "group", sub->labels.group);
    pk_kv_str(pk, "name", sub->labels.name[0] ? sub->labels.name : NULL);
    pk_key(pk, "jobs");
    msgpack_pack_array(pk, sw.runs);
    for (size_t k = 0; k < sw.runs; k++)
        msgpack_pack_int64(pk, ids[k]);
    rc = 0;
done:
    free(sw.kv);
    free(ids);
    free(sub);
    free(slurm);
    return rc;
}
