/* SPDX-License-Identifier: MIT */
/* `dashi compare JOB1 JOB2 [JOB...]`: what differs between runs. Parameters come from
 * the records' params, metrics from their summary scalars, and the hash verdict from the
 * state hashes each run recorded at the steps of the first. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd_analysis.h"
#include "json.h"

static bool same_object(const msgpack_object *a, const msgpack_object *b)
{
    if (!a || !b)
        return a == b;
    return msgpack_object_equal(*a, *b);
}

static bool as_double(const msgpack_object *o, double *v)
{
    if (!o)
        return false;
    switch (o->type) {
    case MSGPACK_OBJECT_POSITIVE_INTEGER: *v = (double)o->via.u64; return true;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER: *v = (double)o->via.i64; return true;
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64: *v = o->via.f64; return true;
    default: return false;
    }
}

static const msgpack_object *map_get_obj(const msgpack_object *map, const msgpack_object *key)
{
    if (!map || map->type != MSGPACK_OBJECT_MAP || key->type != MSGPACK_OBJECT_STR)
        return NULL;
    for (uint32_t i = 0; i < map->via.map.size; i++)
        if (msgpack_object_equal(map->via.map.ptr[i].key, *key))
            return &map->via.map.ptr[i].val;
    return NULL;
}

static void pack_or_nil(msgpack_packer *pk, const msgpack_object *o)
{
    if (o)
        msgpack_pack_object(pk, *o);
    else
        msgpack_pack_nil(pk);
}

/* The keys of the n maps, each once, in the order they first appear; at most max. */
static size_t union_keys(const msgpack_object *const *maps, size_t n, const msgpack_object **keys, size_t max)
{
    size_t nkeys = 0;
    for (size_t r = 0; r < n; r++)
        for (uint32_t i = 0; maps[r] && maps[r]->type == MSGPACK_OBJECT_MAP && i < maps[r]->via.map.size; i++) {
            const msgpack_object *k = &maps[r]->via.map.ptr[i].key;
            bool seen = false;
            for (size_t q = 0; q < nkeys && !seen; q++)
                seen = msgpack_object_equal(*keys[q], *k);
            if (!seen && nkeys < max)
                keys[nkeys++] = k;
        }
    return nkeys;
}

size_t cmd_differing_params(const msgpack_object *const *recs, size_t n, const msgpack_object **keys, size_t max)
{
    const msgpack_object **params = malloc((n ? n : 1) * sizeof *params), *all[CMD_MAX_KEYS];
    if (!params)
        return 0;
    for (size_t r = 0; r < n; r++)
        params[r] = map_get(recs[r], "params");
    size_t nall = union_keys(params, n, all, CMD_MAX_KEYS), nkeys = 0;
    for (size_t k = 0; k < nall; k++) {
        bool differ = false;
        for (size_t r = 1; r < n && !differ; r++)
            differ = !same_object(map_get_obj(params[0], all[k]), map_get_obj(params[r], all[k]));
        if (differ && nkeys < max)
            keys[nkeys++] = all[k];
    }
    free(params);
    return nkeys;
}

/* "params": each differing parameter with its value in every run (nil where absent). */
static void pack_params(msgpack_packer *pk, const msgpack_object *const *recs, size_t n)
{
    const msgpack_object *keys[CMD_MAX_KEYS];
    size_t nkeys = cmd_differing_params(recs, n, keys, CMD_MAX_KEYS);
    pk_key(pk, "params");
    msgpack_pack_map(pk, nkeys);
    for (size_t k = 0; k < nkeys; k++) {
        msgpack_pack_object(pk, *keys[k]);
        msgpack_pack_array(pk, n);
        for (size_t r = 0; r < n; r++)
            pack_or_nil(pk, map_get_obj(map_get(recs[r], "params"), keys[k]));
    }
}

/* One summary metric over the runs: its values, their range, and for two runs the
 * change from a to b (delta, and relative to |a|). */
static void pack_metric(msgpack_packer *pk, const msgpack_object *const *vals, size_t n)
{
    double lo = INFINITY, hi = -INFINITY, v;
    for (size_t r = 0; r < n; r++)
        if (as_double(vals[r], &v) && isfinite(v)) {
            lo = fmin(lo, v);
            hi = fmax(hi, v);
        }
    msgpack_pack_map(pk, n == 2 ? 7 : 3);
    pk_key(pk, "values");
    msgpack_pack_array(pk, n);
    for (size_t r = 0; r < n; r++)
        pack_or_nil(pk, vals[r]);
    pk_key(pk, "min");
    if (lo <= hi)
        msgpack_pack_double(pk, lo);
    else
        msgpack_pack_nil(pk);
    pk_key(pk, "max");
    if (lo <= hi)
        msgpack_pack_double(pk, hi);
    else
        msgpack_pack_nil(pk);
    if (n != 2)
        return;
    double a, b;
    bool both = as_double(vals[0], &a) && as_double(vals[1], &b);
    pk_key(pk, "a");
    pack_or_nil(pk, vals[0]);
    pk_key(pk, "b");
    pack_or_nil(pk, vals[1]);
    pk_key(pk, "delta");
    if (both && isfinite(b - a))
        msgpack_pack_double(pk, b - a);
    else
        msgpack_pack_nil(pk);
    pk_key(pk, "relative");
    if (both && a != 0 && isfinite((b - a) / fabs(a)))
        msgpack_pack_double(pk, (b - a) / fabs(a));
    else
        msgpack_pack_nil(pk);
}

static void pack_metrics(msgpack_packer *pk, const msgpack_object *const *recs, size_t n)
{
    const msgpack_object *maps[CMD_MAX_RUNS], *keys[CMD_MAX_KEYS], *vals[CMD_MAX_RUNS];
    for (size_t r = 0; r < n; r++)
        maps[r] = map_get(recs[r], "metrics");
    size_t nkeys = union_keys(maps, n, keys, CMD_MAX_KEYS);
    pk_key(pk, "metrics");
    msgpack_pack_map(pk, nkeys);
    for (size_t k = 0; k < nkeys; k++) {
        msgpack_pack_object(pk, *keys[k]);
        for (size_t r = 0; r < n; r++)
            vals[r] = map_get_obj(maps[r], keys[k]);
        pack_metric(pk, vals, n);
    }
}

/* Hashes recorded by both jobs at the same (traj, step); the first that differs. */
struct hash_verdict {
    uint64_t common, differ;
    int64_t first_traj, first_step;
    size_t first_run; /* the run (index) of the first difference */
};

static bool hash_key(const msgpack_object *h, int64_t *traj, int64_t *step)
{
    double t, s;
    if (!as_double(map_get(h, "traj"), &t) || !as_double(map_get(h, "step"), &s))
        return false;
    *traj = (int64_t)t;
    *step = (int64_t)s;
    return true;
}

/* Adds to v the hashes run b recorded at the steps of run a. */
static void compare_hashes(const msgpack_object *ha, const msgpack_object *hb, size_t run_b, struct hash_verdict *v)
{
    if (!ha || !hb || ha->type != MSGPACK_OBJECT_ARRAY || hb->type != MSGPACK_OBJECT_ARRAY)
        return;
    /* Both lists come in (traj, step) order from the daemon: merge them. */
    uint32_t i = 0, k = 0;
    while (i < ha->via.array.size && k < hb->via.array.size) {
        int64_t ta, sa, tb, sb;
        if (!hash_key(&ha->via.array.ptr[i], &ta, &sa)) {
            i++;
            continue;
        }
        if (!hash_key(&hb->via.array.ptr[k], &tb, &sb)) {
            k++;
            continue;
        }
        if (ta < tb || (ta == tb && sa < sb)) {
            i++;
        } else if (tb < ta || (ta == tb && sb < sa)) {
            k++;
        } else {
            v->common++;
            if (!same_object(map_get(&ha->via.array.ptr[i], "hash"), map_get(&hb->via.array.ptr[k], "hash"))) {
                if (v->differ++ == 0) {
                    v->first_traj = ta;
                    v->first_step = sa;
                    v->first_run = run_b;
                }
            }
            i++;
            k++;
        }
    }
}

static void print_hash_verdict(const msgpack_object *doc)
{
    const msgpack_object *h = map_get(doc, "hashes");
    double common = 0, differ = 0, step, job;
    as_double(map_get(h, "compared"), &common);
    as_double(map_get(h, "differ"), &differ);
    const msgpack_object *first = map_get(h, "first_difference");
    if (common == 0)
        printf("hashes: no state hashes recorded at the same steps\n");
    else if (differ == 0)
        printf("hashes: agree at all %.0f common steps\n", common);
    else if (as_double(map_get(first, "step"), &step) && as_double(map_get(first, "job"), &job))
        printf("hashes: differ at %.0f of %.0f common steps, first at step %.0f (job %.0f)\n", differ, common, step,
               job);
}

/* Two runs: each difference as "a -> b". */
static void print_pair(const msgpack_object *doc)
{
    const msgpack_object *jobs = map_get(doc, "jobs");
    printf("job %llu vs job %llu\n", (unsigned long long)jobs->via.array.ptr[0].via.u64,
           (unsigned long long)jobs->via.array.ptr[1].via.u64);
    const msgpack_object *params = map_get(doc, "params");
    printf("parameters that differ: %s\n", params->via.map.size ? "" : "none");
    for (uint32_t i = 0; i < params->via.map.size; i++) {
        const msgpack_object_kv *kv = &params->via.map.ptr[i];
        printf("  %-20.*s ", (int)kv->key.via.str.size, kv->key.via.str.ptr);
        json_write(stdout, &kv->val.via.array.ptr[0], -1);
        fputs(" -> ", stdout);
        json_write(stdout, &kv->val.via.array.ptr[1], -1);
        fputc('\n', stdout);
    }
    const msgpack_object *metrics = map_get(doc, "metrics");
    printf("summary metrics (b - a):%s\n", metrics->via.map.size ? "" : " none");
    for (uint32_t i = 0; i < metrics->via.map.size; i++) {
        const msgpack_object_kv *kv = &metrics->via.map.ptr[i];
        printf("  %-24.*s ", (int)kv->key.via.str.size, kv->key.via.str.ptr);
        json_write(stdout, map_get(&kv->val, "a"), -1);
        fputs(" -> ", stdout);
        json_write(stdout, map_get(&kv->val, "b"), -1);
        double d, r;
        if (as_double(map_get(&kv->val, "delta"), &d))
            printf("  delta %.6g", d);
        if (as_double(map_get(&kv->val, "relative"), &r))
            printf(" (%+.3g%%)", 100 * r);
        fputc('\n', stdout);
    }
}

#define COMPARE_CELL 14

/* A row of the N-way text: a label, then one value per run. */
static void print_row(const msgpack_object_kv *kv, const msgpack_object *values)
{
    printf("  %-22.*s", (int)kv->key.via.str.size, kv->key.via.str.ptr);
    for (uint32_t r = 0; values && values->type == MSGPACK_OBJECT_ARRAY && r < values->via.array.size; r++) {
        const msgpack_object *v = &values->via.array.ptr[r];
        if (v->type == MSGPACK_OBJECT_FLOAT64 || v->type == MSGPACK_OBJECT_FLOAT32) {
            printf(" %*.6g", COMPARE_CELL, v->via.f64);
            continue;
        }
        char *cell = json_string(v, -1);
        printf(" %*s", COMPARE_CELL, cell ? cell : "?");
        free(cell);
    }
    fputc('\n', stdout);
}

/* More runs: one column per run. */
static void print_columns(const msgpack_object *doc)
{
    const msgpack_object *jobs = map_get(doc, "jobs"), *params = map_get(doc, "params"),
                         *metrics = map_get(doc, "metrics");
    printf("  %-22s", "job");
    for (uint32_t r = 0; r < jobs->via.array.size; r++)
        printf(" %*llu", COMPARE_CELL, (unsigned long long)jobs->via.array.ptr[r].via.u64);
    printf("\nparameters that differ:%s\n", params->via.map.size ? "" : " none");
    for (uint32_t i = 0; i < params->via.map.size; i++)
        print_row(&params->via.map.ptr[i], &params->via.map.ptr[i].val);
    printf("summary metrics:%s\n", metrics->via.map.size ? "" : " none");
    for (uint32_t i = 0; i < metrics->via.map.size; i++)
        print_row(&metrics->via.map.ptr[i], map_get(&metrics->via.map.ptr[i].val, "values"));
}

static void pack_hashes(msgpack_packer *pk, const struct hash_verdict *v, const int64_t *ids)
{
    pk_key(pk, "hashes");
    msgpack_pack_map(pk, 4);
    pk_kv_i64(pk, "compared", (int64_t)v->common);
    pk_kv_i64(pk, "differ", (int64_t)v->differ);
    pk_key(pk, "agree");
    if (v->common == 0)
        msgpack_pack_nil(pk); /* nothing to compare is not agreement */
    else if (v->differ == 0)
        msgpack_pack_true(pk);
    else
        msgpack_pack_false(pk);
    pk_key(pk, "first_difference");
    if (v->differ) {
        msgpack_pack_map(pk, 3);
        pk_kv_i64(pk, "job", ids[v->first_run]);
        pk_kv_i64(pk, "traj", v->first_traj);
        pk_kv_i64(pk, "step", v->first_step);
    } else {
        msgpack_pack_nil(pk);
    }
}

/* The comparison of n runs as one msgpack document (into sb). */
static void pack_comparison(msgpack_packer *pk, const int64_t *ids, const msgpack_object *const *recs,
                            const msgpack_object *const *hashes, size_t n)
{
    bool kinds_agree = true;
    struct hash_verdict v = {.first_traj = -1, .first_step = -1};
    for (size_t r = 1; r < n; r++) {
        kinds_agree = kinds_agree && same_object(map_get(recs[0], "kind"), map_get(recs[r], "kind"));
        compare_hashes(map_get(hashes[0], "hashes"), map_get(hashes[r], "hashes"), r, &v);
    }
    msgpack_pack_map(pk, 5);
    pk_key(pk, "jobs");
    msgpack_pack_array(pk, n);
    for (size_t r = 0; r < n; r++)
        msgpack_pack_int64(pk, ids[r]);
    pk_kv_bool(pk, "kinds_agree", kinds_agree);
    pack_params(pk, recs, n);
    pack_metrics(pk, recs, n);
    pack_hashes(pk, &v, ids);
}

int cmd_compare(struct dashi_client *c, const struct cmd_args *a, struct dashi_error *err)
{
    size_t n = (size_t)a->npos;
    if (n < 2 || n > CMD_MAX_RUNS)
        return dashi_fail(err, DASHI_E_MISSING_FIELD, "id", "usage: dashi compare JOB1 JOB2 [JOB...] (2 to %d jobs)",
                          CMD_MAX_RUNS);
    int64_t ids[CMD_MAX_RUNS];
    struct cmd_result rec[CMD_MAX_RUNS], hashes[CMD_MAX_RUNS];
    const msgpack_object *r[CMD_MAX_RUNS], *h[CMD_MAX_RUNS];
    for (size_t i = 0; i < n; i++) {
        cmd_result_init(&rec[i]);
        cmd_result_init(&hashes[i]);
    }
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        rc = cmd_parse_id(a->pos[i], &ids[i], err);
        if (rc == 0)
            rc = cmd_call_id(c, "show", ids[i], NULL, &rec[i], err);
        if (rc == 0)
            rc = cmd_call_id(c, "hashes", ids[i], NULL, &hashes[i], err);
        r[i] = rec[i].obj;
        h[i] = hashes[i].obj;
    }
    if (rc == 0) {
        msgpack_sbuffer sb;
        msgpack_sbuffer_init(&sb);
        msgpack_packer pk;
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
        pack_comparison(&pk, ids, r, h, n);
        msgpack_unpacked doc;
        msgpack_unpacked_init(&doc);
        if (msgpack_unpack_next(&doc, sb.data, sb.size, NULL) != MSGPACK_UNPACK_SUCCESS) {
            rc = dashi_fail(err, DASHI_E_INTERNAL, "", "cannot unpack the comparison");
        } else if (a->json) {
            json_write(stdout, &doc.data, 2);
            fputc('\n', stdout);
        } else {
            if (n == 2)
                print_pair(&doc.data);
            else
                print_columns(&doc.data);
            print_hash_verdict(&doc.data);
        }
        msgpack_unpacked_destroy(&doc);
        msgpack_sbuffer_destroy(&sb);
    }
    for (size_t i = 0; i < n; i++) {
        cmd_result_free(&rec[i]);
        cmd_result_free(&hashes[i]);
    }
    return rc;
}
