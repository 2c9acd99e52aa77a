/* SPDX-License-Identifier: MIT */
/* Queries over an atoms job's tables (docs/protocol.md "Atoms and lineage"): atoms,
 * lineage, events, audit. Their rows are pages ("Paging"): at most `limit` rows
 * (≤ DASHI_PAGE_ROWS) after the row named by `cursor`, and `next`, the cursor of the
 * last row shown when more follow. A cursor is the op's tag and the row's key
 * (store_atoms.h), so a deep page costs what the first does. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "ops.h"
#include "ops_page.h"
#include "store_atoms.h"
#include "lineage_thread.h"

#define PAGE_DEFAULT 1000

/* What a page request asks for: up to limit rows after `after` (when has_after). */
struct page_req {
    uint64_t limit;
    bool has_after;
    struct row_key after;
};

static const struct row_key *page_after(const struct page_req *pr) { return pr->has_after ? &pr->after : NULL; }

/* How an op's rows page: the cursor's tag and key length, the rows' type (size and
 * where its key lies), the reply's key for them and how one is packed. */
struct page_kind {
    const char *tag;
    int key_len;
    size_t row_size, key_at;
    const char *rows_name;
    void (*pack_row)(msgpack_packer *pk, const void *row);
};

/* The common arguments: a visible atoms job's id and the page (limit, cursor). */
static int job_and_page(struct conn *c, const struct request *req, const char *const *allowed,
                        const struct page_kind *kind, int64_t *id, struct page_req *pr, struct dashi_error *err)
{
    char cursor[TAGGED_CURSOR_MAX];
    struct job_row row;
    if (args_only(req->args, allowed, err) || arg_i64(req->args, "id", true, 0, 1, INT64_MAX, id, err) ||
        arg_u64(req->args, "limit", false, PAGE_DEFAULT, 1, DASHI_PAGE_ROWS, &pr->limit, err) ||
        arg_cursor(req->args, cursor, sizeof cursor, err))
        return -1;
    memset(&pr->after, 0, sizeof pr->after);
    pr->has_after = cursor[0] != 0;
    if (pr->has_after && cursor_parse(cursor, kind->tag, pr->after.v, kind->key_len, err))
        return -1;
    if (job_get_visible(&c->d->store, *id, c->uid, &row, err))
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

/* The store's rows are plain values (kinds as codes), so a copy keeps them. */
static int keep_row(struct rows *r, const void *row)
{
    void *dst = rows_push(r);
    if (!dst)
        return 1;
    memcpy(dst, row, r->size);
    return 0;
}

static int atom_cb(void *ctx, const struct atom_row *a) { return keep_row(ctx, a); }
static int edge_cb(void *ctx, const struct lineage_row *e) { return keep_row(ctx, e); }
static int audit_cb(void *ctx, const struct audit_row *a) { return keep_row(ctx, a); }

static int oom(struct rows *r, struct dashi_error *err)
{
    free(r->v);
    return dashi_fail(err, DASHI_E_INTERNAL, "", "out of memory");
}

static const char *kind_name(int kind) { return kind >= 0 ? lineage_kind_name((enum lineage_kind)kind) : "?"; }

/* Packs "next" and, under the kind's name, the rows of a page fetched with limit + 1. */
static void pack_page(msgpack_packer *pk, const struct page_kind *kind, const struct rows *r, uint64_t limit)
{
    size_t shown = r->n > limit ? limit : r->n;
    char next[TAGGED_CURSOR_MAX];
    if (r->n > limit) {
        const char *last = (const char *)r->v + (shown - 1) * r->size;
        cursor_format(next, kind->tag, ((const struct row_key *)(last + kind->key_at))->v, kind->key_len);
    }
    pack_next(pk, r->n > limit ? next : NULL);
    pk_key(pk, kind->rows_name);
    msgpack_pack_array(pk, shown);
    for (size_t k = 0; k < shown; k++)
        kind->pack_row(pk, (const char *)r->v + k * r->size);
}

static void pack_atom(msgpack_packer *pk, const void *row)
{
    const struct atom_row *a = row;
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

static void pack_edge(msgpack_packer *pk, const void *row)
{
    const struct lineage_row *e = row;
    msgpack_pack_map(pk, 6);
    pk_kv_i64(pk, "parent_step", e->parent_step);
    pk_kv_i64(pk, "parent_idx", e->parent_idx);
    pk_kv_i64(pk, "child_step", e->child_step);
    pk_kv_i64(pk, "child_idx", e->child_idx);
    pk_kv_str(pk, "kind", kind_name(e->kind));
    pk_kv_f64(pk, "fraction", e->fraction);
}

static void pack_audit(msgpack_packer *pk, const void *row)
{
    const struct audit_row *a = row;
    msgpack_pack_map(pk, 5);
    pk_kv_i64(pk, "step", a->step);
    pk_kv_i64(pk, "idx", a->idx);
    pk_kv_str(pk, "event", kind_name(a->event));
    pk_kv_f64(pk, "residual", a->residual);
    pk_kv_f64(pk, "signed_residual", a->signed_residual);
}

static const struct page_kind atoms_page = {"atoms", ATOMS_KEY_LEN, sizeof(struct atom_row),
                                            offsetof(struct atom_row, key), "atoms", pack_atom};
static const struct page_kind lineage_page = {"lineage", WALK_KEY_LEN, sizeof(struct lineage_row),
                                              offsetof(struct lineage_row, key), "edges", pack_edge};
static const struct page_kind events_page = {"events", EVENTS_KEY_LEN, sizeof(struct lineage_row),
                                             offsetof(struct lineage_row, key), "edges", pack_edge};
static const struct page_kind audit_page = {"audit", AUDIT_KEY_LEN, sizeof(struct audit_row),
                                            offsetof(struct audit_row, key), "rows", pack_audit};

/* The tracked steps nearest to step, as words for a message: "0 and 20", "20", "none". */
static void nearest_steps(const struct atoms_near *near, char *buf, size_t cap)
{
    if (near->below >= 0 && near->above >= 0)
        snprintf(buf, cap, "%lld and %lld", (long long)near->below, (long long)near->above);
    else if (near->below >= 0 || near->above >= 0)
        snprintf(buf, cap, "%lld", (long long)(near->below >= 0 ? near->below : near->above));
    else
        snprintf(buf, cap, "none: the job has no atoms");
}

/* E_NOT_FOUND naming "step" or "idx" unless atom (step, idx) exists (idx < 0: unless step
 * holds atoms): a step or atom the job never tracked is an error, not an empty page. */
static int atom_exists(struct conn *c, int64_t id, int64_t step, int64_t idx, struct dashi_error *err)
{
    struct atoms_near near = {0, -1, -1};
    if (store_atoms_near(&c->d->store, id, step, &near, err))
        return -1;
    char steps[64];
    nearest_steps(&near, steps, sizeof steps);
    if (near.count == 0)
        return dashi_fail(err, DASHI_E_NOT_FOUND, "step", "job %lld tracked no atoms at step %lld (nearest tracked steps: %s)",
                          (long long)id, (long long)step, steps);
    if (idx >= near.count)
        return dashi_fail(err, DASHI_E_NOT_FOUND, "idx", "job %lld has no atom %lld:%lld (step %lld has atoms 0..%lld)",
                          (long long)id, (long long)step, (long long)idx, (long long)step,
                          (long long)near.count - 1);
    return 0;
}

int op_atoms(struct conn *c, const struct request *req, msgpack_packer *pk, struct dashi_error *err)
{
    static const char *const allowed[] = {"id", "step", "limit", "cursor", NULL};
    int64_t id, step, total = 0, steps = 0;
    struct page_req pr;
    if (job_and_page(c, req, allowed, &atoms_page, &id, &pr, err) ||
        arg_i64(req->args, "step", false, -1, -1, INT64_MAX, &step, err))
        return -1;
    struct rows r = {.size = atoms_page.row_size};
    if (store_atoms_count(&c->d->store, id, &total, &steps, err) ||
        store_atoms_query(&c->d->store, id, step, page_after(&pr), pr.limit + 1, atom_cb, &r, err)) {
        free(r.v);
        return -1;
    }
    if (r.failed)
        return oom(&r, err);
    if (step >= 0 && !pr.has_after && r.n == 0 && total > 0 && atom_exists(c, id, step, -1, err)) {
        free(r.v);
        return -1;
    }
    pack_ok_begin(pk, req->id);
    msgpack_pack_map(pk, 5);
    pk_kv_i64(pk, "job", id);
    pk_kv_i64(pk, "atoms_total", total);
    pk_kv_i64(pk, "steps", steps);
    pack_page(pk, &atoms_page, &r, pr.limit);
    free(r.v);
    return 0;
}

int op_lineage(struct conn *c, const struct request *req, msgpack_packer *pk, struct dashi_error *err)
{
    static const char *const allowed[] = {"id", "step", "idx", "direction", "depth", "limit", "cursor", NULL};
    static const char *const directions[] = {"descendants", "ancestors", NULL};
    int64_t id, step, idx, depth;
    struct page_req pr;
    int dir;
    if (job_and_page(c, req, allowed, &lineage_page, &id, &pr, err) ||
        arg_i64(req->args, "step", true, 0, 0, INT64_MAX, &step, err) ||
        arg_i64(req->args, "idx", true, 0, 0, INT64_MAX, &idx, err) ||
        arg_enum(req->args, "direction", false, 0, directions, &dir, err) ||
        arg_i64(req->args, "depth", false, 1000000, 1, INT64_MAX, &depth, err))
        return -1;
    struct rows r = {.size = lineage_page.row_size};
    if (store_lineage_walk(&c->d->store, id, step, idx, dir == 1, depth, page_after(&pr), pr.limit + 1, edge_cb, &r,
                           err)) {
        free(r.v);
        return -1;
    }
    if (r.failed)
        return oom(&r, err);
    if (!pr.has_after && r.n == 0 && atom_exists(c, id, step, idx, err)) {
        free(r.v);
        return -1;
    }
    pack_ok_begin(pk, req->id);
    msgpack_pack_map(pk, 6);
    pk_kv_i64(pk, "job", id);
    pk_key(pk, "atom");
    msgpack_pack_map(pk, 2);
    pk_kv_i64(pk, "step", step);
    pk_kv_i64(pk, "idx", idx);
    pk_kv_str(pk, "direction", directions[dir]);
    pk_kv_i64(pk, "depth", depth);
    pack_page(pk, &lineage_page, &r, pr.limit);
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

/* Every kind is present, zero when absent, so scripts can index it. */
static void pack_totals(msgpack_packer *pk, const struct rows *t)
{
    pk_key(pk, "totals");
    msgpack_pack_map(pk, LINEAGE_KIND_COUNT);
    for (int k = 0; k < LINEAGE_KIND_COUNT; k++) {
        const char *name = lineage_kind_name((enum lineage_kind)k);
        int64_t events = 0, edges = 0;
        for (size_t q = 0; q < t->n; q++) {
            const struct total *x = (const struct total *)t->v + q;
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
}

int op_events(struct conn *c, const struct request *req, msgpack_packer *pk, struct dashi_error *err)
{
    static const char *const allowed[] = {"id", "kind", "limit", "cursor", NULL};
    static const char *const kinds[] = {"all", "continuation", "split", "merge", "birth", "death", NULL};
    int64_t id;
    struct page_req pr;
    int kind;
    if (job_and_page(c, req, allowed, &events_page, &id, &pr, err) ||
        arg_enum(req->args, "kind", false, 0, kinds, &kind, err))
        return -1;
    struct rows t = {.size = sizeof(struct total)}, r = {.size = events_page.row_size};
    if (store_lineage_totals(&c->d->store, id, total_cb, &t, err) ||
        store_lineage_query(&c->d->store, id, kind ? kinds[kind] : NULL, page_after(&pr), pr.limit + 1, edge_cb, &r,
                            err)) {
        free(t.v);
        free(r.v);
        return -1;
    }
    if (t.failed || r.failed) {
        free(t.v);
        return oom(&r, err);
    }
    pack_ok_begin(pk, req->id);
    msgpack_pack_map(pk, 4);
    pk_kv_i64(pk, "job", id);
    pack_totals(pk, &t);
    pack_page(pk, &events_page, &r, pr.limit);
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

static void pack_summary(msgpack_packer *pk, const struct rows *s)
{
    pk_key(pk, "summary");
    msgpack_pack_map(pk, s->n);
    for (size_t k = 0; k < s->n; k++) {
        const struct summary *x = (const struct summary *)s->v + k;
        pk_key(pk, x->event);
        msgpack_pack_map(pk, 4);
        pk_kv_i64(pk, "nodes", x->rows);
        pk_kv_f64(pk, "abs_residual_sum", x->sum_abs);
        pk_kv_f64(pk, "abs_residual_max", x->max_abs);
        pk_kv_f64(pk, "signed_residual_sum", x->sum_signed);
    }
}

int op_audit(struct conn *c, const struct request *req, msgpack_packer *pk, struct dashi_error *err)
{
    static const char *const allowed[] = {"id", "limit", "cursor", NULL};
    int64_t id;
    struct page_req pr;
    if (job_and_page(c, req, allowed, &audit_page, &id, &pr, err))
        return -1;
    struct rows s = {.size = sizeof(struct summary)}, r = {.size = audit_page.row_size};
    if (store_audit_summary(&c->d->store, id, summary_cb, &s, err) ||
        store_audit_query(&c->d->store, id, page_after(&pr), pr.limit + 1, audit_cb, &r, err)) {
        free(s.v);
        free(r.v);
        return -1;
    }
    if (s.failed || r.failed) {
        free(s.v);
        return oom(&r, err);
    }
    pack_ok_begin(pk, req->id);
    msgpack_pack_map(pk, 4);
    pk_kv_i64(pk, "job", id);
    pack_summary(pk, &s);
    pack_page(pk, &audit_page, &r, pr.limit);
    free(s.v);
    free(r.v);
    return 0;
}
