/* SPDX-License-Identifier: MIT */
/* Parameter tables of the job kinds (job_params.h): the allowed keys, the generic
 * parse, the map pack_params stores, and the markdown of docs/protocol.md. */
#include <inttypes.h>
#include <math.h>
#include <string.h>

#include "job_params.h"
#include "wire.h"

const char *const job_mode_names[] = {"dashi", "reference", NULL};
const char *const job_precision_names[] = {"f64", "f32", NULL};

const char *const job_keep_names[] = {"all", "until-consumed", NULL};

#define COMMON struct job_common_params
const struct param_spec job_common_param_group[] = {
    PARAM_ENUM("keep", COMMON, keep, JOB_KEEP_ALL, job_keep_names,
               "`until-consumed`: the outputs are deleted once every job that consumed them has ended",
               .flags = PARAM_NOT_IDENTITY),
    PARAM_END,
};
#undef COMMON

#define ENC struct encode_params
const struct param_spec encode_param_group[] = {
    PARAM_F64("k_cut", ENC, k_cut, 8, 0, 65536, "low band: wavenumbers |k| <= k_cut (the proxy's Fourier part)"),
    PARAM_F64("mid_cut", ENC, mid_cut, 12, 0, 65536,
              "mid band: k_cut < |k| <= mid_cut (the closure's band); above k_cut"),
    PARAM_F64("tau", ENC, tau, 0.35, 0, 1, "support threshold, a fraction of the largest |residual|",
              .flags = PARAM_ABOVE_MIN),
    PARAM_U64("smooth", ENC, smooth, 11, 1, 65536, "box width of the support smoothing, in cells (at most N)"),
    PARAM_END,
};
#undef ENC

/* ---- walking a table, groups included ---- */

/* Calls fn on every entry (groups flattened) with the address its value has in params
 * (params may be NULL when only names matter) and the group entry it belongs to (NULL at
 * the top: a group's flags and packed apply to its entries); stops at the first nonzero
 * return. */
typedef int (*visit_fn)(const struct param_spec *s, const struct param_spec *group, char *base, void *ctx);

static int walk(const struct param_spec *table, const struct param_spec *group, char *base, visit_fn fn, void *ctx)
{
    for (const struct param_spec *s = table; s->name; s++) {
        int rc = s->type == PARAM_GROUP ? walk(s->group, s, base ? base + s->offset : NULL, fn, ctx)
                                        : fn(s, group, base, ctx);
        if (rc)
            return rc;
    }
    return 0;
}

static unsigned flags_of(const struct param_spec *s, const struct param_spec *group)
{
    return s->flags | (group ? group->flags : 0);
}

typedef bool (*packed_fn)(const void *params);

static packed_fn packed_of(const struct param_spec *s, const struct param_spec *group)
{
    return s->packed ? s->packed : group ? group->packed : NULL;
}

static bool is_packed(const struct param_spec *s, const struct param_spec *group, const void *params)
{
    packed_fn packed = packed_of(s, group);
    return !packed || packed(params);
}

static const struct param_spec *find(const struct param_spec *table, const char *name, size_t *offset)
{
    for (const struct param_spec *s = table; s->name; s++) {
        if (s->type == PARAM_GROUP) {
            const struct param_spec *g = find(s->group, name, offset);
            if (g) {
                *offset += s->offset;
                return g;
            }
        } else if (strcmp(s->name, name) == 0) {
            *offset = s->offset;
            return s;
        }
    }
    return NULL;
}

bool param_given(const msgpack_object *args, const char *name)
{
    const msgpack_object *v = args_find(args, name);
    return v && v->type != MSGPACK_OBJECT_NIL;
}

/* ---- allowed keys ---- */

#define PARAMS_MAX_KEYS 48

struct key_list {
    const char *names[PARAMS_MAX_KEYS + 1];
    int n;
};

static int add_key(const struct param_spec *s, const struct param_spec *group, char *base, void *ctx)
{
    (void)group, (void)base;
    struct key_list *l = ctx;
    if (l->n < PARAMS_MAX_KEYS)
        l->names[l->n++] = s->name;
    return 0;
}

static void keys_of(const struct param_spec *table, struct key_list *l)
{
    l->n = 0;
    walk(table, NULL, NULL, add_key, l);
    l->names[l->n] = NULL;
}

int params_only(const struct param_spec *table, const msgpack_object *args, struct dashi_error *err)
{
    struct key_list l;
    keys_of(table, &l);
    return args_only(args, l.names, err);
}

int params_refuse_foreign(const struct param_spec *mine, const char *mine_name, const struct param_spec *other,
                          const char *other_name, const msgpack_object *args, struct dashi_error *err)
{
    struct key_list l;
    keys_of(other, &l);
    size_t unused;
    for (int i = 0; i < l.n; i++)
        if (!find(mine, l.names[i], &unused) && param_given(args, l.names[i]))
            return dashi_fail(err, DASHI_E_BAD_VALUE, l.names[i], "%s is a %s-mode argument: %s mode does not take it",
                              l.names[i], other_name, mine_name);
    return 0;
}

struct given_ctx {
    packed_fn packed;
    const msgpack_object *args;
    const char *name;
};

static int first_given(const struct param_spec *s, const struct param_spec *group, char *base, void *vctx)
{
    (void)base;
    struct given_ctx *c = vctx;
    if (packed_of(s, group) != c->packed || !param_given(c->args, s->name))
        return 0;
    c->name = s->name;
    return 1;
}

const char *params_given_among(const struct param_spec *table, packed_fn packed, const msgpack_object *args)
{
    struct given_ctx c = {.packed = packed, .args = args};
    walk(table, NULL, NULL, first_given, &c);
    return c.name;
}

/* ---- parsing ---- */

static int check_above_min(const struct param_spec *s, double v, struct dashi_error *err)
{
    if (!(s->flags & PARAM_ABOVE_MIN) || v > s->fmin)
        return 0;
    if (isinf(s->fmax))
        return dashi_fail(err, DASHI_E_BAD_VALUE, s->name, "%s must be > %g", s->name, s->fmin);
    return dashi_fail(err, DASHI_E_BAD_VALUE, s->name, "%s must be in (%g, %g]", s->name, s->fmin, s->fmax);
}

static int parse_u64(const struct param_spec *s, const msgpack_object *args, uint64_t def, uint64_t *out,
                     struct dashi_error *err)
{
    return arg_u64(args, s->name, s->flags & PARAM_REQUIRED, def, s->umin, s->umax, out, err);
}

static int parse_f64(const struct param_spec *s, const msgpack_object *args, double def, double *out,
                     struct dashi_error *err)
{
    if (arg_f64(args, s->name, s->flags & PARAM_REQUIRED, def, s->fmin, s->fmax, out, err))
        return -1;
    return check_above_min(s, *out, err);
}

struct parse_ctx {
    const struct job_submit_ctx *ctx;
    const msgpack_object *args;
    void *params; /* the whole struct, for CUSTOM entries */
    struct job_plan *plan;
    struct dashi_error *err;
};

static int parse_one(const struct param_spec *s, const struct param_spec *group, char *base, void *vctx)
{
    struct parse_ctx *c = vctx;
    if (flags_of(s, group) & PARAM_MANUAL)
        return 0;
    bool required = s->flags & PARAM_REQUIRED;
    char *at = base + s->offset;
    switch (s->type) {
    case PARAM_U64:
        return parse_u64(s, c->args, s->udef, (uint64_t *)at, c->err) ? -1 : 0;
    case PARAM_F64:
        return parse_f64(s, c->args, s->fdef, (double *)at, c->err) ? -1 : 0;
    case PARAM_BOOL:
        return arg_bool(c->args, s->name, required, s->udef != 0, (bool *)at, c->err) ? -1 : 0;
    case PARAM_ENUM: {
        int v; /* the field is an int-sized enum (the entry's static assertion in the kind) */
        if (arg_enum(c->args, s->name, required, (int)s->udef, s->choices, &v, c->err))
            return -1;
        memcpy(at, &v, sizeof v);
        return 0;
    }
    case PARAM_INPUT:
        return job_input_ref(c->ctx, c->args, s->name, s->output, required, at, (int64_t *)(base + s->job_offset),
                             c->plan, c->err)
                   ? -1 : 0;
    case PARAM_HASH:
        return arg_hash(c->args, s->name, required, at, c->err) ? -1 : 0;
    case PARAM_CUSTOM:
        return s->parse && s->parse(c->ctx, c->args, c->params, c->plan, c->err) ? -1 : 0;
    case PARAM_GROUP:
        break;
    }
    return 0;
}

int params_parse(const struct param_spec *table, const struct job_submit_ctx *ctx, const msgpack_object *args,
                 void *params, struct job_plan *plan, struct dashi_error *err)
{
    struct parse_ctx c = {.ctx = ctx, .args = args, .params = params, .plan = plan, .err = err};
    return walk(table, NULL, params, parse_one, &c) ? -1 : 0;
}

static const struct param_spec *manual(const struct param_spec *table, const char *name, enum param_type type,
                                       size_t *offset, struct dashi_error *err)
{
    const struct param_spec *s = find(table, name, offset);
    if (!s || s->type != type) {
        dashi_fail(err, DASHI_E_INTERNAL, name, "no parameter %s of that type in the kind's table", name);
        return NULL;
    }
    return s;
}

int param_u64_default(const struct param_spec *table, const char *name, const msgpack_object *args, void *params,
                      uint64_t def, struct dashi_error *err)
{
    size_t off;
    const struct param_spec *s = manual(table, name, PARAM_U64, &off, err);
    return s ? parse_u64(s, args, def, (uint64_t *)((char *)params + off), err) : -1;
}

int param_f64_default(const struct param_spec *table, const char *name, const msgpack_object *args, void *params,
                      double def, struct dashi_error *err)
{
    size_t off;
    const struct param_spec *s = manual(table, name, PARAM_F64, &off, err);
    return s ? parse_f64(s, args, def, (double *)((char *)params + off), err) : -1;
}

/* ---- packing ---- */

struct pack_ctx {
    const void *params;
    msgpack_packer *pk; /* NULL: only count */
    uint32_t count;
};

/* A producing job as its id (validation resolves it again), else the hash, else nil. */
static void pack_blob_ref(const struct param_spec *s, const char *base, msgpack_packer *pk)
{
    int64_t job = 0;
    if (s->type == PARAM_INPUT)
        memcpy(&job, base + s->job_offset, sizeof job);
    const char *hash = base + s->offset;
    if (job)
        msgpack_pack_int64(pk, job);
    else if (hash[0])
        pk_str(pk, hash);
    else
        msgpack_pack_nil(pk);
}

static int pack_one(const struct param_spec *s, const struct param_spec *group, char *base, void *vctx)
{
    struct pack_ctx *c = vctx;
    if (!is_packed(s, group, c->params))
        return 0;
    c->count++;
    if (!c->pk)
        return 0;
    const char *at = base + s->offset;
    pk_key(c->pk, s->name);
    if (s->pack) {
        s->pack(c->params, c->pk);
        return 0;
    }
    switch (s->type) {
    case PARAM_U64: {
        uint64_t v;
        memcpy(&v, at, sizeof v);
        if (v == 0 && (s->flags & PARAM_ZERO_IS_NIL))
            msgpack_pack_nil(c->pk);
        else
            msgpack_pack_uint64(c->pk, v);
        break;
    }
    case PARAM_F64: {
        double v;
        memcpy(&v, at, sizeof v);
        msgpack_pack_double(c->pk, v);
        break;
    }
    case PARAM_BOOL:
        if (*(const bool *)at)
            msgpack_pack_true(c->pk);
        else
            msgpack_pack_false(c->pk);
        break;
    case PARAM_ENUM: {
        int v;
        memcpy(&v, at, sizeof v);
        pk_str(c->pk, s->choices[v]);
        break;
    }
    case PARAM_INPUT:
    case PARAM_HASH:
        pack_blob_ref(s, base, c->pk);
        break;
    case PARAM_CUSTOM: /* without pack: nothing to store */
        msgpack_pack_nil(c->pk);
        break;
    case PARAM_GROUP:
        break;
    }
    return 0;
}

void params_pack(const struct param_spec *table, const void *params, msgpack_packer *pk)
{
    struct pack_ctx c = {.params = params};
    walk(table, NULL, (char *)params, pack_one, &c); /* count first: the map header precedes the entries */
    msgpack_pack_map(pk, c.count);
    c.pk = pk;
    walk(table, NULL, (char *)params, pack_one, &c);
}

/* ---- docs ---- */

static const char *type_text(const struct param_spec *s, char *buf, size_t cap)
{
    if (s->type_doc)
        return s->type_doc;
    switch (s->type) {
    case PARAM_U64: return "integer";
    case PARAM_F64: return "number";
    case PARAM_BOOL: return "bool";
    case PARAM_HASH: return "blob hash";
    case PARAM_INPUT: { /* "a,b": the first of the outputs that the job has */
        char names[64];
        snprintf(names, sizeof names, "%s", s->output);
        const char *second = strchr(names, ',');
        if (second)
            names[second - names] = 0;
        snprintf(buf, cap, "blob hash or job id (its `%s`%s%s%s)", names, second ? " or `" : "",
                 second ? second + 1 : "", second ? "`" : "");
        return buf;
    }
    case PARAM_ENUM: {
        size_t used = 0;
        buf[0] = 0;
        for (int i = 0; s->choices[i] && used < cap; i++)
            used += (size_t)snprintf(buf + used, cap - used, "%s`%s`", i ? " \\| " : "", s->choices[i]);
        return buf;
    }
    default: return "";
    }
}

static const char *default_text(const struct param_spec *s, char *buf, size_t cap)
{
    if (s->default_doc)
        return s->default_doc;
    if (s->flags & PARAM_REQUIRED)
        return "required";
    switch (s->type) {
    case PARAM_U64: snprintf(buf, cap, "%" PRIu64, s->udef); break;
    case PARAM_F64: snprintf(buf, cap, "%g", s->fdef); break;
    case PARAM_BOOL: snprintf(buf, cap, "%s", s->udef ? "true" : "false"); break;
    case PARAM_ENUM: snprintf(buf, cap, "`%s`", s->choices[s->udef]); break;
    default: snprintf(buf, cap, "none"); break;
    }
    return buf;
}

static const char *range_text(const struct param_spec *s, char *buf, size_t cap)
{
    buf[0] = 0;
    if (s->type == PARAM_U64) {
        if (s->umax == UINT64_MAX)
            snprintf(buf, cap, "≥ %" PRIu64, s->umin);
        else
            snprintf(buf, cap, "%" PRIu64 "–%" PRIu64, s->umin, s->umax);
    } else if (s->type == PARAM_F64) {
        bool open = s->flags & PARAM_ABOVE_MIN;
        if (isinf(s->fmax))
            snprintf(buf, cap, "%s %g", open ? ">" : "≥", s->fmin);
        else
            snprintf(buf, cap, "%s%g, %g]", open ? "(" : "[", s->fmin, s->fmax);
    }
    return buf;
}

static int markdown_row(const struct param_spec *s, const struct param_spec *group, char *base, void *ctx)
{
    (void)group, (void)base;
    char t[160], d[48], r[64];
    FILE *f = ctx;
    fprintf(f, "| `%s` | %s | %s | %s | ", s->name, type_text(s, t, sizeof t), default_text(s, d, sizeof d),
            range_text(s, r, sizeof r));
    for (const char *c = s->meaning ? s->meaning : ""; *c; c++)
        fprintf(f, "%s%c", *c == '|' ? "\\" : "", *c); /* |k| must not end the cell */
    fprintf(f, " |\n");
    return 0;
}

void params_markdown(const struct param_table *t, FILE *f)
{
    fprintf(f, "%s:\n\n| arg | type | default | range | meaning |\n|---|---|---|---|---|\n", t->title);
    walk(t->specs, NULL, NULL, markdown_row, f);
    fprintf(f, "\n");
}

/* ---- the describe op: the same texts as the markdown, one map per parameter ---- */

static int count_row(const struct param_spec *s, const struct param_spec *group, char *base, void *ctx)
{
    (void)s, (void)group, (void)base;
    ++*(uint32_t *)ctx;
    return 0;
}

static int describe_row(const struct param_spec *s, const struct param_spec *group, char *base, void *ctx)
{
    (void)base;
    char t[160], d[48], r[64];
    msgpack_packer *pk = ctx;
    msgpack_pack_map(pk, 7);
    pk_kv_str(pk, "name", s->name);
    pk_kv_str(pk, "type", type_text(s, t, sizeof t));
    pk_kv_str(pk, "default", default_text(s, d, sizeof d));
    pk_kv_str(pk, "range", range_text(s, r, sizeof r));
    pk_kv_str(pk, "meaning", s->meaning ? s->meaning : "");
    pk_kv_bool(pk, "required", flags_of(s, group) & PARAM_REQUIRED);
    pk_key(pk, "choices");
    uint32_t n = 0;
    while (s->type == PARAM_ENUM && s->choices[n])
        n++;
    if (s->type != PARAM_ENUM)
        msgpack_pack_nil(pk);
    else
        msgpack_pack_array(pk, n);
    for (uint32_t i = 0; i < n; i++)
        pk_str(pk, s->choices[i]);
    return 0;
}

void params_describe(const char *kind, const struct param_table *t, msgpack_packer *pk)
{
    uint32_t n = 0;
    walk(t->specs, NULL, NULL, count_row, &n);
    msgpack_pack_map(pk, 3);
    pk_kv_str(pk, "kind", kind);
    pk_kv_str(pk, "title", t->title);
    pk_key(pk, "params");
    msgpack_pack_array(pk, n);
    walk(t->specs, NULL, NULL, describe_row, pk);
}
