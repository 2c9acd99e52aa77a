/* Queries over an atoms job's tables (docs/protocol.md "Atoms and lineage"): atoms,
 * lineage, events, audit. Lists are pages of at most `limit` rows (≤ DASHI_MAX_ITEMS, the
 * protocol's array limit) with `truncated` and `next_offset` for the next page. */
#include <stdlib.h>
#include <string.h>

#include "ops.h"
#include "store_atoms.h"
#include "lineage_thread.h"

#define PAGE_DEFAULT 1000

/* The common arguments: a visible job id and the page. */
static int job_and_page(struct conn *c, const struct request *req, const char *const *allowed, int64_t *id,
                        uint64_t *offset, uint64_t *limit, struct dashi_error *err)
{
    struct job_row row;
    if (args_only(req->args, allowed, err) || arg_i64(req->args, "id", true, 0, 1, INT64_MAX, id, err) ||
        arg_u64(req->args, "offset", false, 0, 0, INT64_MAX, offset, err) ||
        arg_u64(req->args, "limit", false, PAGE_DEFAULT, 1, DASHI_MAX_ITEMS, limit, err) ||
        job_get_visible(&c->d->store, *id, c->uid, &row, err))
        return -1;
    bool is_atoms = strcmp(row.kind, "atoms") == 0;
    job_row_free(&row);
    if (!is_atoms)
        return dashi_fail(err, DASHI_E_BAD_VALUE, "id", "job %lld is not an atoms job", (long long)*id);
    return 0;
}

/* Rows gathered before packing (the array length goes first). */
struct rows {
    void *v;
    size_t n, cap, size;
    bool failed;
};

static void *rows_push(struct rows *r)
{
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 64;
        void *p = realloc(r->v, cap * r->size);
        if (!p) {
            r->failed = true;
            return NULL;
        }
        r->v = p;
        r->cap = cap;
    }
    return (char *)r->v + r->n++ * r->size;
}

static int atom_cb(void *ctx, const struct atom_row *a)
{
    struct atom_row *dst = rows_push(ctx);
    if (!dst)
        return 1;
    *dst = *a;
    return 0;
}

/* Lineage rows keep their kind as a code so the strings need not outlive the callback. */
struct edge {
    struct lineage_row r;
    int kind;
};

static int edge_cb(void *ctx, const struct lineage_row *l)
{
    struct edge *dst = rows_push(ctx);
    if (!dst)
        return 1;
    dst->r = *l;
    dst->kind = lineage_kind_from_name(l->kind);
    dst->r.kind = NULL;
    return 0;
}

struct audit_item {
    struct audit_row r;
    int event;
};

static int audit_cb(void *ctx, const struct audit_row *a)
{
    struct audit_item *dst = rows_push(ctx);
    if (!dst)
        return 1;
    dst->r = *a;
    dst->event = lineage_kind_from_name(a->event);
    dst->r.event = NULL;
    return 0;
}

static int oom(struct rows *r, struct dashi_error *err)
{
    free(r->v);
    return dashi_fail(err, DASHI_E_INTERNAL, "", "out of memory");
}

/* Packs {"truncated", "next_offset"} entries for a page fetched with limit + 1 rows. */
static void pack_page(msgpack_packer *pk, size_t got, uint64_t offset, uint64_t limit)
{
    pk_kv_bool(pk, "truncated", got > limit);
    if (got > limit)
        pk_kv_u64(pk, "next_offset", offset + limit);
    else
        pk_kv_nil(pk, "next_offset");
}

static void pack_edge(msgpack_packer *pk, const struct edge *e)
{
    msgpack_pack_map(pk, 6);
    pk_kv_i64(pk, "parent_step", e->r.parent_step);
    pk_kv_i64(pk, "parent_idx", e->r.parent_idx);
    pk_kv_i64(pk, "child_step", e->r.child_step);
    pk_kv_i64(pk, "child_idx", e->r.child_idx);
    pk_kv_str(pk, "kind", e->kind >= 0 ? lineage_kind_name((enum lineage_kind)e->kind) : "?");
    pk_kv_f64(pk, "fraction", e->r.fraction);
}

int op_atoms(struct conn *c, const struct request *req, msgpack_packer *pk, struct dashi_error *err)
{
    static const char *const allowed[] = {"id", "step", "offset", "limit", NULL};
    int64_t id, step, total = 0, steps = 0;
    uint64_t offset, limit;
    if (job_and_page(c, req, allowed, &id, &offset, &limit, err) ||
        arg_i64(req->args, "step", false, -1, -1, INT64_MAX, &step, err))
        return -1;
    struct rows r = {.size = sizeof(struct atom_row)};
    if (store_atoms_count(&c->d->store, id, &total, &steps, err) ||
        store_atoms_query(&c->d->store, id, step, offset, limit + 1, atom_cb, &r, err)) {
        free(r.v);
        return -1;
    }
    if (r.failed)
        return oom(&r, err);
    size_t shown = r.n > limit ? limit : r.n;
    pack_ok_begin(pk, req->id);
    msgpack_pack_map(pk, 6);
    pk_kv_i64(pk, "job", id);
    pk_kv_i64(pk, "atoms_total", total);
    pk_kv_i64(pk, "steps", steps);
    pack_page(pk, r.n, offset, limit);
    pk_key(pk, "atoms");
    msgpack_pack_array(pk, shown);
    for (size_t k = 0; k < shown; k++) {
        const struct atom_row *a = (const struct atom_row *)r.v + k;
        msgpack_pack_map(pk, 10);
        pk_kv_i64(pk, "step", a->step);
        pk_kv_i64(pk, "idx", a->idx);
        pk_kv_i64(pk, "sigma", a->sigma);
        pk_kv_f64(pk, "gamma", a->gamma);
        pk_kv_f64(pk, "cx", a->cx);
        pk_kv_f64(pk, "cy", a->cy);
        pk_kv_f64(pk, "eps", a->eps);
        pk_kv_f64(pk, "orientation", a->orientation);
        pk_kv_f64(pk, "elongation", a->elongation);
        pk_kv_i64(pk, "cells", a->cells);
    }
    free(r.v);
    return 0;
}

int op_lineage(struct conn *c, const struct request *req, msgpack_packer *pk, struct dashi_error *err)
{
    static const char *const allowed[] = {"id", "step", "idx", "direction", "depth", "offset", "limit", NULL};
    static const char *const directions[] = {"descendants", "ancestors", NULL};
    int64_t id, step, idx, depth;
    uint64_t offset, limit;
    int dir;
    if (job_and_page(c, req, allowed, &id, &offset, &limit, err) ||
        arg_i64(req->args, "step", true, 0, 0, INT64_MAX, &step, err) ||
        arg_i64(req->args, "idx", true, 0, 0, INT64_MAX, &idx, err) ||
        arg_enum(req->args, "direction", false, 0, directions, &dir, err) ||
        arg_i64(req->args, "depth", false, 1000000, 1, INT64_MAX, &depth, err))
        return -1;
    if (offset != 0)
        return dashi_fail(err, DASHI_E_BAD_VALUE, "offset", "lineage walks are not paged: narrow them with depth");
    struct rows r = {.size = sizeof(struct edge)};
    if (store_lineage_walk(&c->d->store, id, step, idx, dir == 1, depth, limit + 1, edge_cb, &r, err)) {
        free(r.v);
        return -1;
    }
    if (r.failed)
        return oom(&r, err);
    size_t shown = r.n > limit ? limit : r.n;
    pack_ok_begin(pk, req->id);
    msgpack_pack_map(pk, 6);
    pk_kv_i64(pk, "job", id);
    pk_key(pk, "atom");
    msgpack_pack_map(pk, 2);
    pk_kv_i64(pk, "step", step);
    pk_kv_i64(pk, "idx", idx);
    pk_kv_str(pk, "direction", directions[dir]);
    pk_kv_bool(pk, "truncated", r.n > limit);
    pk_kv_i64(pk, "depth", depth);
    pk_key(pk, "edges");
    msgpack_pack_array(pk, shown);
    for (size_t k = 0; k < shown; k++)
        pack_edge(pk, (const struct edge *)r.v + k);
    free(r.v);
    return 0;
}

struct total {
    char kind[16];
    int64_t events, edges;
};

static int total_cb(void *ctx, const char *kind, int64_t events, int64_t edges)
{
    struct total *t = rows_push(ctx);
    if (!t)
        return 1;
    snprintf(t->kind, sizeof t->kind, "%s", kind);
    t->events = events;
    t->edges = edges;
    return 0;
}

int op_events(struct conn *c, const struct request *req, msgpack_packer *pk, struct dashi_error *err)
{
    static const char *const allowed[] = {"id", "kind", "offset", "limit", NULL};
    static const char *const kinds[] = {"all", "continuation", "split", "merge", "birth", "death", NULL};
    int64_t id;
    uint64_t offset, limit;
    int kind;
    if (job_and_page(c, req, allowed, &id, &offset, &limit, err) ||
        arg_enum(req->args, "kind", false, 0, kinds, &kind, err))
        return -1;
    struct rows t = {.size = sizeof(struct total)}, r = {.size = sizeof(struct edge)};
    if (store_lineage_totals(&c->d->store, id, total_cb, &t, err) ||
        store_lineage_query(&c->d->store, id, kind ? kinds[kind] : NULL, offset, limit + 1, edge_cb, &r, err)) {
        free(t.v);
        free(r.v);
        return -1;
    }
    if (t.failed || r.failed) {
        free(t.v);
        return oom(&r, err);
    }
    size_t shown = r.n > limit ? limit : r.n;
    pack_ok_begin(pk, req->id);
    msgpack_pack_map(pk, 5);
    pk_kv_i64(pk, "job", id);
    /* Every kind is present, zero when absent, so scripts can index it. */
    pk_key(pk, "totals");
    msgpack_pack_map(pk, LINEAGE_KIND_COUNT);
    for (int k = 0; k < LINEAGE_KIND_COUNT; k++) {
        const char *name = lineage_kind_name((enum lineage_kind)k);
        int64_t events = 0, edges = 0;
        for (size_t q = 0; q < t.n; q++) {
            const struct total *x = (const struct total *)t.v + q;
            if (strcmp(x->kind, name) == 0) {
                events = x->events;
                edges = x->edges;
            }
        }
        pk_key(pk, name);
        msgpack_pack_map(pk, 2);
        pk_kv_i64(pk, "events", events);
        pk_kv_i64(pk, "edges", edges);
    }
    pack_page(pk, r.n, offset, limit);
    pk_key(pk, "edges");
    msgpack_pack_array(pk, shown);
    for (size_t k = 0; k < shown; k++)
        pack_edge(pk, (const struct edge *)r.v + k);
    free(t.v);
    free(r.v);
    return 0;
}

struct summary {
    char event[16];
    int64_t rows;
    double sum_abs, max_abs, sum_signed;
};

static int summary_cb(void *ctx, const char *event, int64_t rows, double sum_abs, double max_abs, double sum_signed)
{
    struct summary *s = rows_push(ctx);
    if (!s)
        return 1;
    snprintf(s->event, sizeof s->event, "%s", event);
    s->rows = rows;
    s->sum_abs = sum_abs;
    s->max_abs = max_abs;
    s->sum_signed = sum_signed;
    return 0;
}

int op_audit(struct conn *c, const struct request *req, msgpack_packer *pk, struct dashi_error *err)
{
    static const char *const allowed[] = {"id", "offset", "limit", NULL};
    int64_t id;
    uint64_t offset, limit;
    if (job_and_page(c, req, allowed, &id, &offset, &limit, err))
        return -1;
    struct rows s = {.size = sizeof(struct summary)}, r = {.size = sizeof(struct audit_item)};
    if (store_audit_summary(&c->d->store, id, summary_cb, &s, err) ||
        store_audit_query(&c->d->store, id, offset, limit + 1, audit_cb, &r, err)) {
        free(s.v);
        free(r.v);
        return -1;
    }
    if (s.failed || r.failed) {
        free(s.v);
        return oom(&r, err);
    }
    size_t shown = r.n > limit ? limit : r.n;
    pack_ok_begin(pk, req->id);
    msgpack_pack_map(pk, 5);
    pk_kv_i64(pk, "job", id);
    pk_key(pk, "summary");
    msgpack_pack_map(pk, s.n);
    for (size_t k = 0; k < s.n; k++) {
        const struct summary *x = (const struct summary *)s.v + k;
        pk_key(pk, x->event);
        msgpack_pack_map(pk, 4);
        pk_kv_i64(pk, "nodes", x->rows);
        pk_kv_f64(pk, "abs_residual_sum", x->sum_abs);
        pk_kv_f64(pk, "abs_residual_max", x->max_abs);
        pk_kv_f64(pk, "signed_residual_sum", x->sum_signed);
    }
    pack_page(pk, r.n, offset, limit);
    pk_key(pk, "rows");
    msgpack_pack_array(pk, shown);
    for (size_t k = 0; k < shown; k++) {
        const struct audit_item *a = (const struct audit_item *)r.v + k;
        msgpack_pack_map(pk, 5);
        pk_kv_i64(pk, "step", a->r.step);
        pk_kv_i64(pk, "idx", a->r.idx);
        pk_kv_str(pk, "event", a->event >= 0 ? lineage_kind_name((enum lineage_kind)a->event) : "?");
        pk_kv_f64(pk, "residual", a->r.residual);
        pk_kv_f64(pk, "signed_residual", a->r.signed_residual);
    }
    free(s.v);
    free(r.v);
    return 0;
}
