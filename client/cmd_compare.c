/* SPDX-License-Identifier: MIT */
/* `dashi compare JOB1 JOB2`: what differs between two jobs. Parameters come from the
 * records' params, metric deltas from their summary scalars, and the hash verdict from
 * the state hashes both recorded at the same (trajectory, step). */
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

/* Keys of map a, then those of b that a lacks, each once: calls fn for each. */
typedef void (*key_fn)(msgpack_packer *pk, const msgpack_object *key, const msgpack_object *va,
                       const msgpack_object *vb, void *ctx);

static const msgpack_object *map_get_obj(const msgpack_object *map, const msgpack_object *key)
{
    if (!map || map->type != MSGPACK_OBJECT_MAP || key->type != MSGPACK_OBJECT_STR)
        return NULL;
    for (uint32_t i = 0; i < map->via.map.size; i++)
        if (msgpack_object_equal(map->via.map.ptr[i].key, *key))
            return &map->via.map.ptr[i].val;
    return NULL;
}

static void each_key(msgpack_packer *pk, const msgpack_object *a, const msgpack_object *b, key_fn fn, void *ctx)
{
    for (uint32_t i = 0; a && a->type == MSGPACK_OBJECT_MAP && i < a->via.map.size; i++)
        fn(pk, &a->via.map.ptr[i].key, &a->via.map.ptr[i].val, map_get_obj(b, &a->via.map.ptr[i].key), ctx);
    for (uint32_t i = 0; b && b->type == MSGPACK_OBJECT_MAP && i < b->via.map.size; i++)
        if (!map_get_obj(a, &b->via.map.ptr[i].key))
            fn(pk, &b->via.map.ptr[i].key, NULL, &b->via.map.ptr[i].val, ctx);
}

static void pack_or_nil(msgpack_packer *pk, const msgpack_object *o)
{
    if (o)
        msgpack_pack_object(pk, *o);
    else
        msgpack_pack_nil(pk);
}

/* Counting pass (pk NULL) then packing pass, so maps get their sizes up front. */
static void param_fn(msgpack_packer *pk, const msgpack_object *key, const msgpack_object *va,
                     const msgpack_object *vb, void *ctx)
{
    if (same_object(va, vb))
        return;
    if (!pk) {
        (*(uint32_t *)ctx)++;
        return;
    }
    msgpack_pack_object(pk, *key);
    msgpack_pack_array(pk, 2);
    pack_or_nil(pk, va);
    pack_or_nil(pk, vb);
}

static void metric_fn(msgpack_packer *pk, const msgpack_object *key, const msgpack_object *va,
                      const msgpack_object *vb, void *ctx)
{
    if (!pk) {
        (*(uint32_t *)ctx)++;
        return;
    }
    double a, b;
    bool both = as_double(va, &a) && as_double(vb, &b);
    msgpack_pack_object(pk, *key);
    msgpack_pack_map(pk, 4);
    pk_key(pk, "a");
    pack_or_nil(pk, va);
    pk_key(pk, "b");
    pack_or_nil(pk, vb);
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

/* Hashes recorded by both jobs at the same (traj, step); the first that differs. */
struct hash_verdict {
    uint64_t common, differ;
    int64_t first_traj, first_step;
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

static void compare_hashes(const msgpack_object *ha, const msgpack_object *hb, struct hash_verdict *v)
{
    memset(v, 0, sizeof *v);
    v->first_traj = v->first_step = -1;
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
                }
            }
            i++;
            k++;
        }
    }
}

static void print_text(const msgpack_object *doc)
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
    const msgpack_object *h = map_get(doc, "hashes");
    double common, differ, step;
    as_double(map_get(h, "compared"), &common);
    as_double(map_get(h, "differ"), &differ);
    if (common == 0)
        printf("hashes: no state hashes recorded at the same steps\n");
    else if (differ == 0)
        printf("hashes: agree at all %.0f common steps\n", common);
    else if (as_double(map_get(map_get(h, "first_difference"), "step"), &step))
        printf("hashes: differ at %.0f of %.0f common steps, first at step %.0f\n", differ, common, step);
}

int cmd_compare(struct dashi_client *c, const struct cmd_args *a, struct dashi_error *err)
{
    int64_t ids[2];
    if (a->npos != 2)
        return dashi_fail(err, DASHI_E_MISSING_FIELD, "id", "usage: dashi compare JOB1 JOB2");
    if (cmd_parse_id(a->pos[0], &ids[0], err) != 0 || cmd_parse_id(a->pos[1], &ids[1], err) != 0)
        return -1;
    struct cmd_result rec[2], hashes[2];
    for (int i = 0; i < 2; i++) {
        cmd_result_init(&rec[i]);
        cmd_result_init(&hashes[i]);
    }
    int rc = 0;
    for (int i = 0; i < 2 && rc == 0; i++) {
        rc = cmd_call_id(c, "show", ids[i], NULL, &rec[i], err);
        if (rc == 0)
            rc = cmd_call_id(c, "hashes", ids[i], NULL, &hashes[i], err);
    }
    const msgpack_object *r[2] = {rec[0].obj, rec[1].obj}, *h[2] = {hashes[0].obj, hashes[1].obj};
    if (rc == 0) {
        /* The comparison as one msgpack document, printed as JSON or as text. */
        msgpack_sbuffer sb;
        msgpack_sbuffer_init(&sb);
        msgpack_packer pk;
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
        const msgpack_object *pa = map_get(r[0], "params"), *pb = map_get(r[1], "params");
        const msgpack_object *ma = map_get(r[0], "metrics"), *mb = map_get(r[1], "metrics");
        uint32_t nparams = 0, nmetrics = 0;
        each_key(NULL, pa, pb, param_fn, &nparams);
        each_key(NULL, ma, mb, metric_fn, &nmetrics);
        struct hash_verdict v;
        compare_hashes(map_get(h[0], "hashes"), map_get(h[1], "hashes"), &v);
        msgpack_pack_map(&pk, 5);
        pk_key(&pk, "jobs");
        msgpack_pack_array(&pk, 2);
        msgpack_pack_int64(&pk, ids[0]);
        msgpack_pack_int64(&pk, ids[1]);
        pk_key(&pk, "kinds_agree");
        if (same_object(map_get(r[0], "kind"), map_get(r[1], "kind")))
            msgpack_pack_true(&pk);
        else
            msgpack_pack_false(&pk);
        pk_key(&pk, "params");
        msgpack_pack_map(&pk, nparams);
        each_key(&pk, pa, pb, param_fn, NULL);
        pk_key(&pk, "metrics");
        msgpack_pack_map(&pk, nmetrics);
        each_key(&pk, ma, mb, metric_fn, NULL);
        pk_key(&pk, "hashes");
        msgpack_pack_map(&pk, 4);
        pk_kv_i64(&pk, "compared", (int64_t)v.common);
        pk_kv_i64(&pk, "differ", (int64_t)v.differ);
        pk_key(&pk, "agree");
        if (v.common == 0)
            msgpack_pack_nil(&pk); /* nothing to compare is not agreement */
        else if (v.differ == 0)
            msgpack_pack_true(&pk);
        else
            msgpack_pack_false(&pk);
        pk_key(&pk, "first_difference");
        if (v.differ) {
            msgpack_pack_map(&pk, 2);
            pk_kv_i64(&pk, "traj", v.first_traj);
            pk_kv_i64(&pk, "step", v.first_step);
        } else {
            msgpack_pack_nil(&pk);
        }
        msgpack_unpacked doc;
        msgpack_unpacked_init(&doc);
        if (msgpack_unpack_next(&doc, sb.data, sb.size, NULL) != MSGPACK_UNPACK_SUCCESS) {
            rc = dashi_fail(err, DASHI_E_INTERNAL, "", "cannot unpack the comparison");
        } else if (a->json) {
            json_write(stdout, &doc.data, 2);
            fputc('\n', stdout);
        } else {
            print_text(&doc.data);
        }
        msgpack_unpacked_destroy(&doc);
        msgpack_sbuffer_destroy(&sb);
    }
    for (int i = 0; i < 2; i++) {
        cmd_result_free(&rec[i]);
        cmd_result_free(&hashes[i]);
    }
    return rc;
}
