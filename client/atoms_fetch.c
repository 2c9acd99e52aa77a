/* SPDX-License-Identifier: MIT */
#include "atoms_fetch.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void atom_list_free(struct atom_list *l)
{
    free(l->v);
    l->v = NULL;
    l->n = l->cap = 0;
}

static int push(struct atom_list *l, const struct atom_info *a, struct dashi_error *err)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 64;
        struct atom_info *p = realloc(l->v, cap * sizeof *p);
        if (!p)
            return dashi_fail(err, DASHI_E_INTERNAL, "", "out of memory for atom rows");
        l->v = p;
        l->cap = cap;
    }
    l->v[l->n++] = *a;
    return 0;
}

struct step_req {
    int64_t job, step, limit;
};

static void pack_step_req(msgpack_packer *pk, void *ctx)
{
    const struct step_req *r = ctx;
    msgpack_pack_map(pk, 3);
    pk_kv_i64(pk, "id", r->job);
    pk_kv_i64(pk, "step", r->step);
    pk_kv_i64(pk, "limit", r->limit);
}

/* Within a step the rows come by index and indices run 0..count-1 (the Γ rank), so the
 * first hi + 1 rows hold every atom up to hi; the index test keeps [lo, hi]. */
int atoms_fetch_step(struct dashi_client *c, int64_t job, int64_t step, int64_t lo, int64_t hi, struct atom_list *out,
                     struct dashi_error *err)
{
    uint64_t rows = hi < DASHI_PAGE_ROWS ? (uint64_t)hi + 1 : 0; /* 0: the whole step */
    struct step_req r = {job, step, rows ? (int64_t)rows : DASHI_PAGE_ROWS};
    msgpack_unpacked resp;
    msgpack_unpacked_init(&resp);
    const msgpack_object *result;
    if (client_call_all(c, "atoms", pack_step_req, &r, "atoms", rows, &resp, &result, err) != 0) {
        msgpack_unpacked_destroy(&resp);
        return -1;
    }
    const msgpack_object *list = map_get(result, "atoms");
    uint32_t got = list && list->type == MSGPACK_OBJECT_ARRAY ? list->via.array.size : 0;
    int rc = 0;
    for (uint32_t i = 0; i < got && rc == 0; i++) {
        const msgpack_object *a = &list->via.array.ptr[i];
        struct atom_info x = {.step = obj_i64(map_get(a, "step")),
                              .idx = obj_i64(map_get(a, "idx")),
                              .sigma = (int)obj_i64(map_get(a, "sigma")),
                              .gamma = obj_number(map_get(a, "gamma"), 0),
                              .cx = obj_number(map_get(a, "cx"), 0),
                              .cy = obj_number(map_get(a, "cy"), 0),
                              .eps = obj_number(map_get(a, "eps"), 0)};
        if (x.idx >= lo && x.idx <= hi)
            rc = push(out, &x, err);
    }
    msgpack_unpacked_destroy(&resp);
    return rc;
}

static int parse_nonneg(const char *s, int64_t min, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = s && *s ? strtoll(s, &end, 10) : -1;
    if (!s || !*s || *end || errno || v < min)
        return -1;
    *out = v;
    return 0;
}

int atoms_fetch_marks(struct dashi_client *c, const char *job_s, const char *step_s, int frame, int64_t *job,
                      int64_t *step, struct atom_mark **marks, size_t *n, struct dashi_error *err)
{
    *marks = NULL;
    *n = 0;
    if (parse_nonneg(job_s, 1, job) != 0)
        return dashi_fail(err, DASHI_E_BAD_VALUE, "atoms", "--atoms needs the id of an atoms job, got '%s'",
                          job_s ? job_s : "");
    *step = frame;
    if (step_s && parse_nonneg(step_s, 0, step) != 0)
        return dashi_fail(err, DASHI_E_BAD_VALUE, "step", "--step must be a step >= 0, got '%s'", step_s);
    struct atom_list l = {0};
    if (atoms_fetch_step(c, *job, *step, 0, INT64_MAX - 1, &l, err) != 0) {
        atom_list_free(&l);
        if (strcmp(err->field, "id") == 0) { /* the daemon names its own argument */
            char msg[sizeof err->message];
            snprintf(msg, sizeof msg, "%s", err->message);
            dashi_fail(err, err->code, "atoms", "--atoms %lld: %s", (long long)*job, msg);
        }
        return -1;
    }
    if (l.n > 0) {
        *marks = malloc(l.n * sizeof **marks);
        if (!*marks) {
            atom_list_free(&l);
            return dashi_fail(err, DASHI_E_INTERNAL, "", "out of memory for atom markers");
        }
    }
    for (size_t k = 0; k < l.n; k++)
        (*marks)[k] = (struct atom_mark){l.v[k].cx, l.v[k].cy, l.v[k].eps, l.v[k].sigma};
    *n = l.n;
    atom_list_free(&l);
    return 0;
}
