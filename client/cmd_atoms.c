/* SPDX-License-Identifier: MIT */
/* The atoms queries on the command line: argument parsing into the ops' maps, and the
 * text, JSON and DOT renderings of their answers. */
#include "cmd_atoms.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd_lineage_png.h"
#include "output.h"

/* The request's arguments: id plus up to 8 integer or string entries. */
struct req_args {
    int64_t id;
    int n;
    const char *keys[8];
    const char *strs[8];
    int64_t ints[8];
};

static void add_int(struct req_args *a, const char *k, int64_t v)
{
    a->keys[a->n] = k;
    a->strs[a->n] = NULL;
    a->ints[a->n++] = v;
}

static void add_str(struct req_args *a, const char *k, const char *v)
{
    a->keys[a->n] = k;
    a->strs[a->n++] = v;
}

static void pack_args(msgpack_packer *pk, void *ctx)
{
    const struct req_args *a = ctx;
    msgpack_pack_map(pk, 1 + (size_t)a->n);
    pk_kv_i64(pk, "id", a->id);
    for (int i = 0; i < a->n; i++) {
        if (a->strs[i])
            pk_kv_str(pk, a->keys[i], a->strs[i]);
        else
            pk_kv_i64(pk, a->keys[i], a->ints[i]);
    }
}

static int parse_int(const char *s, const char *field, int64_t min, int64_t *out, struct dashi_error *err)
{
    char *end;
    errno = 0;
    long long v = s ? strtoll(s, &end, 10) : 0;
    if (!s || !*s || *end || errno || v < min)
        return dashi_fail(err, DASHI_E_BAD_VALUE, field, "--%s needs an integer >= %lld", field, (long long)min);
    *out = v;
    return 0;
}

/* Optional integer option into the request. */
static int opt_int(cmd_opt_fn opt, const void *ctx, const char *name, int64_t min, struct req_args *a,
                   struct dashi_error *err)
{
    const char *v = opt(ctx, name);
    if (!v)
        return 0;
    int64_t x;
    if (parse_int(v, name, min, &x, err) != 0)
        return -1;
    add_int(a, name, x);
    return 0;
}

static int64_t i64_of(const msgpack_object *o)
{
    if (!o)
        return 0;
    if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
        return (int64_t)o->via.u64;
    if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
        return o->via.i64;
    return 0;
}

static double f64_of(const msgpack_object *o)
{
    if (!o)
        return 0;
    if (o->type == MSGPACK_OBJECT_FLOAT64 || o->type == MSGPACK_OBJECT_FLOAT32)
        return o->via.f64;
    return (double)i64_of(o);
}

static const char *str_of(const msgpack_object *o, char *buf, size_t cap)
{
    if (o && o->type == MSGPACK_OBJECT_STR)
        snprintf(buf, cap, "%.*s", (int)o->via.str.size, o->via.str.ptr);
    else
        snprintf(buf, cap, "?");
    return buf;
}

static void print_atoms(const msgpack_object *r)
{
    const msgpack_object *list = map_get(r, "atoms");
    printf("job %lld: %lld atoms over %lld steps\n", (long long)i64_of(map_get(r, "job")),
           (long long)i64_of(map_get(r, "atoms_total")), (long long)i64_of(map_get(r, "steps")));
    printf("%6s %5s %4s %12s %8s %8s %8s %8s %6s\n", "STEP", "IDX", "SIGN", "GAMMA", "CX", "CY", "EPS", "ELONG",
           "CELLS");
    for (uint32_t i = 0; list && list->type == MSGPACK_OBJECT_ARRAY && i < list->via.array.size; i++) {
        const msgpack_object *a = &list->via.array.ptr[i];
        printf("%6lld %5lld %4s %12.6g %8.4f %8.4f %8.4f %8.3f %6lld\n", (long long)i64_of(map_get(a, "step")),
               (long long)i64_of(map_get(a, "idx")), i64_of(map_get(a, "sigma")) > 0 ? "+" : "-",
               f64_of(map_get(a, "gamma")), f64_of(map_get(a, "cx")), f64_of(map_get(a, "cy")),
               f64_of(map_get(a, "eps")), f64_of(map_get(a, "elongation")), (long long)i64_of(map_get(a, "cells")));
    }
}

static void node_name(char *buf, size_t cap, int64_t step, int64_t idx)
{
    snprintf(buf, cap, "%lld:%lld", (long long)step, (long long)idx);
}

static void print_edges(const msgpack_object *edges)
{
    for (uint32_t i = 0; edges && edges->type == MSGPACK_OBJECT_ARRAY && i < edges->via.array.size; i++) {
        const msgpack_object *e = &edges->via.array.ptr[i];
        char kind[16], from[48], to[48];
        int64_t ps = i64_of(map_get(e, "parent_step")), pi = i64_of(map_get(e, "parent_idx"));
        int64_t cs = i64_of(map_get(e, "child_step")), ci = i64_of(map_get(e, "child_idx"));
        if (pi < 0)
            snprintf(from, sizeof from, "(birth)");
        else
            node_name(from, sizeof from, ps, pi);
        if (ci < 0)
            snprintf(to, sizeof to, "(death)");
        else
            node_name(to, sizeof to, cs, ci);
        printf("%-12s -> %-12s %-12s %.6f\n", from, to, str_of(map_get(e, "kind"), kind, sizeof kind),
               f64_of(map_get(e, "fraction")));
    }
}

/* Graphviz: nodes are atoms "STEP:IDX", births and deaths small points; time runs left
 * to right (rank by step). */
static void print_dot(const msgpack_object *r)
{
    const msgpack_object *edges = map_get(r, "edges");
    printf("digraph lineage {\n  rankdir=LR;\n  node [shape=ellipse, fontsize=10];\n");
    for (uint32_t i = 0; edges && edges->type == MSGPACK_OBJECT_ARRAY && i < edges->via.array.size; i++) {
        const msgpack_object *e = &edges->via.array.ptr[i];
        char kind[16], from[48], to[48];
        int64_t ps = i64_of(map_get(e, "parent_step")), pi = i64_of(map_get(e, "parent_idx"));
        int64_t cs = i64_of(map_get(e, "child_step")), ci = i64_of(map_get(e, "child_idx"));
        if (pi < 0) {
            snprintf(from, sizeof from, "birth_%lld_%lld", (long long)cs, (long long)ci);
            printf("  \"%s\" [shape=point];\n", from);
        } else {
            node_name(from, sizeof from, ps, pi);
        }
        if (ci < 0) {
            snprintf(to, sizeof to, "death_%lld_%lld", (long long)ps, (long long)pi);
            printf("  \"%s\" [shape=point];\n", to);
        } else {
            node_name(to, sizeof to, cs, ci);
        }
        printf("  \"%s\" -> \"%s\" [label=\"%s %.3g\"];\n", from, to, str_of(map_get(e, "kind"), kind, sizeof kind),
               f64_of(map_get(e, "fraction")));
    }
    printf("}\n");
}

static void print_events(const msgpack_object *r)
{
    const msgpack_object *totals = map_get(r, "totals");
    printf("%-13s %8s %8s\n", "KIND", "EVENTS", "EDGES");
    for (uint32_t i = 0; totals && totals->type == MSGPACK_OBJECT_MAP && i < totals->via.map.size; i++) {
        char kind[16];
        const msgpack_object *v = &totals->via.map.ptr[i].val;
        printf("%-13s %8lld %8lld\n", str_of(&totals->via.map.ptr[i].key, kind, sizeof kind),
               (long long)i64_of(map_get(v, "events")), (long long)i64_of(map_get(v, "edges")));
    }
    printf("\n");
    print_edges(map_get(r, "edges"));
}

static void print_audit(const msgpack_object *r)
{
    const msgpack_object *sum = map_get(r, "summary"), *rows = map_get(r, "rows");
    printf("%-13s %8s %14s %14s %14s\n", "EVENT", "NODES", "SUM|RES|", "MAX|RES|", "SUM SIGNED");
    for (uint32_t i = 0; sum && sum->type == MSGPACK_OBJECT_MAP && i < sum->via.map.size; i++) {
        char ev[16];
        const msgpack_object *v = &sum->via.map.ptr[i].val;
        printf("%-13s %8lld %14.6g %14.6g %14.6g\n", str_of(&sum->via.map.ptr[i].key, ev, sizeof ev),
               (long long)i64_of(map_get(v, "nodes")), f64_of(map_get(v, "abs_residual_sum")),
               f64_of(map_get(v, "abs_residual_max")), f64_of(map_get(v, "signed_residual_sum")));
    }
    printf("\n%6s %5s %-13s %14s %14s\n", "STEP", "IDX", "EVENT", "RESIDUAL", "SIGNED");
    for (uint32_t i = 0; rows && rows->type == MSGPACK_OBJECT_ARRAY && i < rows->via.array.size; i++) {
        const msgpack_object *a = &rows->via.array.ptr[i];
        char ev[16];
        printf("%6lld %5lld %-13s %14.6g %14.6g\n", (long long)i64_of(map_get(a, "step")),
               (long long)i64_of(map_get(a, "idx")), str_of(map_get(a, "event"), ev, sizeof ev),
               f64_of(map_get(a, "residual")), f64_of(map_get(a, "signed_residual")));
    }
}

/* --atom STEP:IDX */
static int parse_atom(const char *s, struct req_args *a, struct dashi_error *err)
{
    const char *colon = s ? strchr(s, ':') : NULL;
    char step[32];
    if (!colon || (size_t)(colon - s) >= sizeof step)
        return dashi_fail(err, DASHI_E_MISSING_FIELD, "atom", "lineage needs --atom STEP:IDX (e.g. --atom 12:0)");
    memcpy(step, s, (size_t)(colon - s));
    step[colon - s] = 0;
    int64_t st, idx;
    if (parse_int(step, "atom", 0, &st, err) || parse_int(colon + 1, "atom", 0, &idx, err))
        return -1;
    add_int(a, "step", st);
    add_int(a, "idx", idx);
    return 0;
}

/* The key of each command's rows in its reply. */
static const char *rows_key(const char *cmd)
{
    if (strcmp(cmd, "atoms") == 0)
        return "atoms";
    return strcmp(cmd, "audit") == 0 ? "rows" : "edges";
}

/* Keeps the first limit rows under key; true when there were more. */
static bool trim_rows(const msgpack_object *result, const char *key, int64_t limit)
{
    msgpack_object *rows = (msgpack_object *)map_get(result, key); /* our own copy of the reply */
    if (!rows || rows->type != MSGPACK_OBJECT_ARRAY || rows->via.array.size <= (uint64_t)limit)
        return false;
    rows->via.array.size = (uint32_t)limit;
    return true;
}

int cmd_atoms_run(struct dashi_client *c, const char *cmd, int64_t id, bool json, cmd_opt_fn opt, const void *ctx,
                  struct dashi_error *err)
{
    struct req_args a = {.id = id};
    bool dot = false;
    const char *png = NULL;
    int64_t limit = 0; /* 0: every row */
    if (opt(ctx, "offset"))
        return dashi_fail(err, DASHI_E_BAD_VALUE, "offset",
                          "--offset is gone: dashi follows the pages and prints every row (--limit N: the first N)");
    if (opt(ctx, "limit") && parse_int(opt(ctx, "limit"), "limit", 1, &limit, err))
        return -1;
    /* Pages as large as the daemon serves, or as --limit asks (docs/protocol.md "Paging"). */
    add_int(&a, "limit", limit && limit < DASHI_PAGE_ROWS ? limit : DASHI_PAGE_ROWS);
    if (strcmp(cmd, "atoms") == 0) {
        if (opt_int(opt, ctx, "step", 0, &a, err))
            return -1;
    } else if (strcmp(cmd, "lineage") == 0) {
        if (parse_atom(opt(ctx, "atom"), &a, err) || opt_int(opt, ctx, "depth", 1, &a, err))
            return -1;
        if (opt(ctx, "ancestors") && opt(ctx, "descendants"))
            return dashi_fail(err, DASHI_E_BAD_VALUE, "ancestors", "give --ancestors or --descendants, not both");
        add_str(&a, "direction", opt(ctx, "ancestors") ? "ancestors" : "descendants");
        dot = opt(ctx, "dot") != NULL;
        png = opt(ctx, "png");
        if (png && dot)
            return dashi_fail(err, DASHI_E_BAD_VALUE, "png", "give --png FILE or --dot, not both");
        if (png && !*png)
            return dashi_fail(err, DASHI_E_MISSING_FIELD, "png", "--png needs a file name (e.g. --png lineage.png)");
    } else if (strcmp(cmd, "events") == 0) {
        const char *kind = opt(ctx, "kind");
        if (kind)
            add_str(&a, "kind", kind);
    }
    msgpack_unpacked resp;
    msgpack_unpacked_init(&resp);
    const msgpack_object *result;
    /* One row past --limit tells whether the rows went on (the picture says so). */
    if (client_call_all(c, cmd, pack_args, &a, rows_key(cmd), limit ? (uint64_t)limit + 1 : 0, &resp, &result,
                        err) != 0) {
        msgpack_unpacked_destroy(&resp);
        return -1;
    }
    bool more = limit && trim_rows(result, rows_key(cmd), limit);
    if (png) {
        int rc = cmd_lineage_png(c, id, result, more, png, json, err);
        msgpack_unpacked_destroy(&resp);
        return rc;
    }
    if (json)
        print_json(result);
    else if (dot)
        print_dot(result);
    else if (strcmp(cmd, "atoms") == 0)
        print_atoms(result);
    else if (strcmp(cmd, "lineage") == 0)
        print_edges(map_get(result, "edges"));
    else if (strcmp(cmd, "events") == 0)
        print_events(result);
    else
        print_audit(result);
    msgpack_unpacked_destroy(&resp);
    return 0;
}
