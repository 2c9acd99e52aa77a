/* SPDX-License-Identifier: MIT */
/* Request and response envelopes, typed argument access and response packing.
 * Framing is in frame.c, the pre-unpack limit walk in msgcheck.c. */
#include "wire.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "suggest.h"

/* ---- helpers over msgpack objects ------------------------------------------------ */

/* msgpack-c gives an empty str or bin a NULL pointer, and the mem* functions may not
 * be passed NULL even for zero bytes; these two take n == 0 without touching p. */
static bool bytes_equal(const char *a, const char *b, size_t n)
{
    return n == 0 || memcmp(a, b, n) == 0;
}

static bool has_nul(const char *p, size_t n)
{
    return n > 0 && memchr(p, 0, n) != NULL;
}

static bool str_is(const msgpack_object *o, const char *s)
{
    size_t n = strlen(s);
    return o->type == MSGPACK_OBJECT_STR && o->via.str.size == n && bytes_equal(o->via.str.ptr, s, n);
}

/* Shortest %g text that reads back as v, for messages (0.1, not 0.10000000000000001). */
static const char *shortest(double v, char *buf, size_t cap)
{
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, cap, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            break;
    }
    return buf;
}

/* A short human description of a value for error messages: `-3`, `1.5`,
 * `the string "abc"`, `a map`... Strings are shortened and non-printable bytes shown as '?'. */
static const char *describe(const msgpack_object *o, char *buf, size_t cap)
{
    switch (o->type) {
    case MSGPACK_OBJECT_NIL: return "nil";
    case MSGPACK_OBJECT_BOOLEAN: return o->via.boolean ? "true" : "false";
    case MSGPACK_OBJECT_POSITIVE_INTEGER: snprintf(buf, cap, "%" PRIu64, o->via.u64); return buf;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER: snprintf(buf, cap, "%" PRId64, o->via.i64); return buf;
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64: {
        char num[40];
        snprintf(buf, cap, "the float %s", shortest(o->via.f64, num, sizeof num));
        return buf;
    }
    case MSGPACK_OBJECT_STR: {
        char shown[41];
        size_t k = o->via.str.size < 40 ? o->via.str.size : 40;
        for (size_t i = 0; i < k; i++) {
            unsigned char c = (unsigned char)o->via.str.ptr[i];
            shown[i] = c >= 0x20 && c < 0x7f && c != '"' ? (char)c : '?';
        }
        shown[k] = 0;
        snprintf(buf, cap, "the string \"%s\"%s", shown, o->via.str.size > 40 ? "..." : "");
        return buf;
    }
    case MSGPACK_OBJECT_ARRAY: return "an array";
    case MSGPACK_OBJECT_MAP: return "a map";
    case MSGPACK_OBJECT_BIN: return "binary data";
    default: return "an ext value";
    }
}

static bool is_nil_or_absent(const msgpack_object *o)
{
    return !o || o->type == MSGPACK_OBJECT_NIL;
}

/* ---- request ------------------------------------------------------------------------ */

static int key_order(const void *a, const void *b)
{
    const msgpack_object *x = *(const msgpack_object *const *)a, *y = *(const msgpack_object *const *)b;
    uint32_t n = x->via.str.size < y->via.str.size ? x->via.str.size : y->via.str.size;
    int c = n ? memcmp(x->via.str.ptr, y->via.str.ptr, n) : 0;
    return c ? c : (x->via.str.size > y->via.str.size) - (x->via.str.size < y->via.str.size);
}

static bool keys_equal(const msgpack_object *x, const msgpack_object *y)
{
    return x->via.str.size == y->via.str.size && bytes_equal(x->via.str.ptr, y->via.str.ptr, x->via.str.size);
}

/* The first key that appears twice in map (keys are str, msg_check saw to that), or
 * NULL. Sorted, so a map of 4096 keys costs n log n comparisons, not n^2; `keys` has
 * room for DASHI_MAX_ITEMS. */
static const msgpack_object *duplicate_key(const msgpack_object *map, const msgpack_object **keys)
{
    uint32_t n = map->via.map.size;
    for (uint32_t i = 0; i < n; i++)
        keys[i] = &map->via.map.ptr[i].key;
    if (n > 1)
        qsort(keys, n, sizeof *keys, key_order);
    for (uint32_t i = 1; i < n; i++)
        if (keys_equal(keys[i - 1], keys[i]))
            return keys[i];
    return NULL;
}

/* Refuses a key twice in any map inside o (o included), naming the key by its path
 * from `path` (`args.args.steps`). Depth is bounded by msg_check. */
static int check_duplicates_within(const msgpack_object *o, const char *path, const msgpack_object **keys,
                                   struct dashi_error *err)
{
    char inner[256];
    if (o->type == MSGPACK_OBJECT_ARRAY) {
        for (uint32_t i = 0; i < o->via.array.size; i++) {
            snprintf(inner, sizeof inner, "%s[%u]", path, (unsigned)i);
            if (check_duplicates_within(&o->via.array.ptr[i], inner, keys, err) < 0)
                return -1;
        }
        return 0;
    }
    if (o->type != MSGPACK_OBJECT_MAP)
        return 0;
    const msgpack_object *dup = duplicate_key(o, keys);
    if (dup) {
        int k = (int)(dup->via.str.size < 64 ? dup->via.str.size : 64);
        snprintf(inner, sizeof inner, "%s%s%.*s", path, path[0] ? "." : "", k, dup->via.str.ptr);
        return dashi_fail(err, DASHI_E_BAD_REQUEST, inner, "duplicate key \"%.*s\" in %s", k, dup->via.str.ptr,
                          path[0] ? path : "the request");
    }
    for (uint32_t i = 0; i < o->via.map.size; i++) {
        const msgpack_object_kv *kv = &o->via.map.ptr[i];
        int k = (int)(kv->key.via.str.size < 64 ? kv->key.via.str.size : 64);
        snprintf(inner, sizeof inner, "%s%s%.*s", path, path[0] ? "." : "", k, kv->key.via.str.ptr);
        if (check_duplicates_within(&kv->val, inner, keys, err) < 0)
            return -1;
    }
    return 0;
}

static int check_duplicate_keys(const msgpack_object *o, const char *path, struct dashi_error *err)
{
    const msgpack_object **keys = malloc(DASHI_MAX_ITEMS * sizeof *keys);
    if (!keys)
        return dashi_fail(err, DASHI_E_INTERNAL, "", "out of memory checking keys");
    int rc = check_duplicates_within(o, path, keys, err);
    free(keys);
    return rc;
}

int request_decode(const uint8_t *p, size_t n, struct request *req, struct dashi_error *err)
{
    char got[96];
    msgpack_unpacked_init(&req->unpacked);
    req->id = 0;
    req->op[0] = 0;
    req->args = NULL;

    if (msg_check(p, n, err) < 0)
        return -1;
    size_t off = 0;
    if (msgpack_unpack_next(&req->unpacked, (const char *)p, n, &off) != MSGPACK_UNPACK_SUCCESS || off != n)
        return dashi_fail(err, DASHI_E_BAD_FRAME, "", "payload is not one msgpack object");
    const msgpack_object *top = &req->unpacked.data;
    if (top->type != MSGPACK_OBJECT_MAP)
        return dashi_fail(err, DASHI_E_BAD_REQUEST, "", "a request must be a map, got %s",
                          describe(top, got, sizeof got));

    const msgpack_object *v = NULL, *id = NULL, *op = NULL, *args = NULL;
    const msgpack_object *extra = NULL;
    for (uint32_t i = 0; i < top->via.map.size; i++) {
        const msgpack_object_kv *kv = &top->via.map.ptr[i];
        /* first occurrence wins; duplicates are rejected below */
        if (str_is(&kv->key, "v")) v = v ? v : &kv->val;
        else if (str_is(&kv->key, "id")) id = id ? id : &kv->val;
        else if (str_is(&kv->key, "op")) op = op ? op : &kv->val;
        else if (str_is(&kv->key, "args")) args = args ? args : &kv->val;
        else if (!extra) extra = &kv->key;
    }
    /* The id first, so every later error can be answered to the right request. */
    if (id && id->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
        req->id = id->via.u64;
    /* The version next: a future version may have a different envelope. */
    if (v && v->type == MSGPACK_OBJECT_POSITIVE_INTEGER && v->via.u64 != DASHI_PROTO_VERSION)
        return dashi_fail(err, DASHI_E_VERSION, "v", "protocol version %" PRIu64 " is not supported (this daemon speaks %d)",
                          v->via.u64, DASHI_PROTO_VERSION);
    if (check_duplicate_keys(top, "", err) < 0)
        return -1;
    if (extra)
        return dashi_fail(err, DASHI_E_BAD_REQUEST, "", "unknown request key \"%.*s\" (allowed: v, id, op, args)",
                          (int)(extra->via.str.size < 64 ? extra->via.str.size : 64), extra->via.str.ptr);
    if (!v) return dashi_fail(err, DASHI_E_BAD_REQUEST, "v", "the request lacks \"v\" (the protocol version, 1)");
    if (!id) return dashi_fail(err, DASHI_E_BAD_REQUEST, "id", "the request lacks \"id\" (an unsigned integer)");
    if (!op) return dashi_fail(err, DASHI_E_BAD_REQUEST, "op", "the request lacks \"op\" (the operation name)");
    if (!args) return dashi_fail(err, DASHI_E_BAD_REQUEST, "args", "the request lacks \"args\" (a map, possibly empty)");
    if (v->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        return dashi_fail(err, DASHI_E_VERSION, "v", "v must be the integer %d, got %s", DASHI_PROTO_VERSION,
                          describe(v, got, sizeof got));
    if (id->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        return dashi_fail(err, DASHI_E_BAD_REQUEST, "id", "id must be an unsigned integer, got %s",
                          describe(id, got, sizeof got));
    if (op->type != MSGPACK_OBJECT_STR || op->via.str.size == 0 || op->via.str.size >= sizeof req->op ||
        has_nul(op->via.str.ptr, op->via.str.size))
        return dashi_fail(err, DASHI_E_BAD_REQUEST, "op",
                          "op must be a non-empty string of at most %zu bytes without NUL, got %s",
                          sizeof req->op - 1, describe(op, got, sizeof got));
    if (args->type != MSGPACK_OBJECT_MAP)
        return dashi_fail(err, DASHI_E_BAD_REQUEST, "args", "args must be a map, got %s",
                          describe(args, got, sizeof got));
    memcpy(req->op, op->via.str.ptr, op->via.str.size);
    req->op[op->via.str.size] = 0;
    req->args = args;
    return 0;
}

void request_free(struct request *req)
{
    msgpack_unpacked_destroy(&req->unpacked);
    req->args = NULL;
}

/* ---- typed arguments --------------------------------------------------------------- */

const msgpack_object *args_find(const msgpack_object *args, const char *name)
{
    if (!args || args->type != MSGPACK_OBJECT_MAP)
        return NULL;
    for (uint32_t i = 0; i < args->via.map.size; i++)
        if (str_is(&args->via.map.ptr[i].key, name))
            return &args->via.map.ptr[i].val;
    return NULL;
}

int args_only(const msgpack_object *args, const char *const *allowed, struct dashi_error *err)
{
    if (!args || args->type != MSGPACK_OBJECT_MAP)
        return 0;
    for (uint32_t i = 0; i < args->via.map.size; i++) {
        const msgpack_object *key = &args->via.map.ptr[i].key;
        bool known = false;
        for (const char *const *a = allowed; *a && !known; a++)
            known = str_is(key, *a);
        if (known)
            continue;
        char list[160] = "";
        size_t used = 0;
        for (const char *const *a = allowed; *a && used < sizeof list; a++) {
            int w = snprintf(list + used, sizeof list - used, "%s%s", a == allowed ? "" : ", ", *a);
            used += w > 0 ? (size_t)w : 0;
        }
        if (key->type != MSGPACK_OBJECT_STR)
            return dashi_fail(err, DASHI_E_UNKNOWN_FIELD, "", "argument keys must be strings");
        char name[64];
        snprintf(name, sizeof name, "%.*s", (int)(key->via.str.size < 63 ? key->via.str.size : 63),
                 key->via.str.ptr);
        char near[SUGGEST_MAX_WORD + 1];
        if (suggest_among(name, allowed, near, sizeof near))
            return dashi_fail(err, DASHI_E_UNKNOWN_FIELD, name,
                              "unknown argument \"%s\"; did you mean \"%s\"? (this operation takes: %s)", name, near,
                              list);
        return dashi_fail(err, DASHI_E_UNKNOWN_FIELD, name, "unknown argument \"%s\" (this operation takes: %s)",
                          name, allowed[0] ? list : "no arguments");
    }
    return 0;
}

/* Looks the argument up; returns 1 if present (non-nil), 0 if absent and optional,
 * -1 (E_MISSING_FIELD) if absent and required. */
static int lookup(const msgpack_object *args, const char *name, bool required, const msgpack_object **out,
                  struct dashi_error *err)
{
    const msgpack_object *o = args_find(args, name);
    if (!is_nil_or_absent(o)) {
        *out = o;
        return 1;
    }
    if (required)
        return dashi_fail(err, DASHI_E_MISSING_FIELD, name, "%s is required", name);
    return 0;
}

static int fail_int_range(const char *name, bool is_signed, int64_t smin, int64_t smax, uint64_t umin,
                          uint64_t umax, const msgpack_object *o, struct dashi_error *err)
{
    char got[96], range[64];
    describe(o, got, sizeof got);
    bool has_min = is_signed ? smin != INT64_MIN : umin != 0;
    bool has_max = is_signed ? smax != INT64_MAX : umax != UINT64_MAX;
    if (is_signed) {
        if (has_min && has_max) snprintf(range, sizeof range, " in [%" PRId64 ", %" PRId64 "]", smin, smax);
        else if (has_min) snprintf(range, sizeof range, " >= %" PRId64, smin);
        else if (has_max) snprintf(range, sizeof range, " <= %" PRId64, smax);
        else range[0] = 0;
    } else {
        if (has_min && has_max) snprintf(range, sizeof range, " in [%" PRIu64 ", %" PRIu64 "]", umin, umax);
        else if (has_min) snprintf(range, sizeof range, " >= %" PRIu64, umin);
        else if (has_max) snprintf(range, sizeof range, " in [0, %" PRIu64 "]", umax);
        else snprintf(range, sizeof range, " >= 0");
    }
    return dashi_fail(err, DASHI_E_BAD_VALUE, name, "%s must be an integer%s, got %s", name, range, got);
}

static bool is_int(const msgpack_object *o)
{
    return o->type == MSGPACK_OBJECT_POSITIVE_INTEGER || o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER;
}

static bool is_float(const msgpack_object *o)
{
    return o->type == MSGPACK_OBJECT_FLOAT32 || o->type == MSGPACK_OBJECT_FLOAT64;
}

static int fail_type(const char *name, const char *want, const msgpack_object *o, struct dashi_error *err)
{
    char got[96];
    return dashi_fail(err, DASHI_E_BAD_TYPE, name, "%s must be %s, got %s", name, want,
                      describe(o, got, sizeof got));
}

int arg_u64(const msgpack_object *args, const char *name, bool required, uint64_t def, uint64_t min,
            uint64_t max, uint64_t *out, struct dashi_error *err)
{
    const msgpack_object *o = NULL;
    int found = lookup(args, name, required, &o, err);
    if (found <= 0) {
        if (found == 0)
            *out = def;
        return found;
    }
    if (!is_int(o))
        return fail_type(name, "an integer", o, err);
    if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER || o->via.u64 < min || o->via.u64 > max)
        return fail_int_range(name, false, 0, 0, min, max, o, err);
    *out = o->via.u64;
    return 0;
}

int arg_i64(const msgpack_object *args, const char *name, bool required, int64_t def, int64_t min, int64_t max,
            int64_t *out, struct dashi_error *err)
{
    const msgpack_object *o = NULL;
    int found = lookup(args, name, required, &o, err);
    if (found <= 0) {
        if (found == 0)
            *out = def;
        return found;
    }
    if (!is_int(o))
        return fail_type(name, "an integer", o, err);
    if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER && o->via.u64 > (uint64_t)INT64_MAX)
        return fail_int_range(name, true, min, max, 0, 0, o, err);
    int64_t v = o->type == MSGPACK_OBJECT_POSITIVE_INTEGER ? (int64_t)o->via.u64 : o->via.i64;
    if (v < min || v > max)
        return fail_int_range(name, true, min, max, 0, 0, o, err);
    *out = v;
    return 0;
}

int arg_f64(const msgpack_object *args, const char *name, bool required, double def, double min, double max,
            double *out, struct dashi_error *err)
{
    const msgpack_object *o = NULL;
    int found = lookup(args, name, required, &o, err);
    if (found <= 0) {
        if (found == 0)
            *out = def;
        return found;
    }
    double v;
    if (is_float(o))
        v = o->via.f64;
    else if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
        v = (double)o->via.u64;
    else if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
        v = (double)o->via.i64;
    else
        return fail_type(name, "a number", o, err);
    if (!isfinite(v))
        return dashi_fail(err, DASHI_E_BAD_VALUE, name, "%s must be a finite number, got %g", name, v);
    if (v < min || v > max) {
        char got[96], lo[40], hi[40];
        describe(o, got, sizeof got);
        shortest(min, lo, sizeof lo);
        shortest(max, hi, sizeof hi);
        if (isinf(max))
            return dashi_fail(err, DASHI_E_BAD_VALUE, name, "%s must be a number >= %s, got %s", name, lo, got);
        if (isinf(min))
            return dashi_fail(err, DASHI_E_BAD_VALUE, name, "%s must be a number <= %s, got %s", name, hi, got);
        return dashi_fail(err, DASHI_E_BAD_VALUE, name, "%s must be a number in [%s, %s], got %s", name, lo, hi,
                          got);
    }
    *out = v;
    return 0;
}

int arg_bool(const msgpack_object *args, const char *name, bool required, bool def, bool *out,
             struct dashi_error *err)
{
    const msgpack_object *o = NULL;
    int found = lookup(args, name, required, &o, err);
    if (found <= 0) {
        if (found == 0)
            *out = def;
        return found;
    }
    if (o->type != MSGPACK_OBJECT_BOOLEAN)
        return fail_type(name, "true or false", o, err);
    *out = o->via.boolean;
    return 0;
}

int arg_str(const msgpack_object *args, const char *name, bool required, const char *def, char *out, size_t cap,
            struct dashi_error *err)
{
    if (cap == 0)
        return dashi_fail(err, DASHI_E_INTERNAL, name, "arg_str called with no room for %s", name);
    const msgpack_object *o = NULL;
    int found = lookup(args, name, required, &o, err);
    if (found < 0)
        return -1;
    if (found == 0) {
        snprintf(out, cap, "%s", def ? def : "");
        return 0;
    }
    if (o->type != MSGPACK_OBJECT_STR)
        return fail_type(name, "a string", o, err);
    if (o->via.str.size >= cap)
        return dashi_fail(err, DASHI_E_BAD_VALUE, name, "%s must be at most %zu bytes long, got %u bytes", name,
                          cap - 1, o->via.str.size);
    if (has_nul(o->via.str.ptr, o->via.str.size))
        return dashi_fail(err, DASHI_E_BAD_VALUE, name, "%s must not contain a NUL byte", name);
    if (o->via.str.size > 0)
        memcpy(out, o->via.str.ptr, o->via.str.size);
    out[o->via.str.size] = 0;
    return 0;
}

int arg_enum(const msgpack_object *args, const char *name, bool required, int def, const char *const *choices,
             int *out, struct dashi_error *err)
{
    const msgpack_object *o = NULL;
    int found = lookup(args, name, required, &o, err);
    if (found <= 0) {
        if (found == 0)
            *out = def;
        return found;
    }
    char list[200] = "";
    size_t used = 0;
    for (int i = 0; choices[i]; i++) {
        if (str_is(o, choices[i])) {
            *out = i;
            return 0;
        }
        if (used < sizeof list) {
            int w = snprintf(list + used, sizeof list - used, "%s\"%s\"", i ? ", " : "", choices[i]);
            used += w > 0 ? (size_t)w : 0;
        }
    }
    char got[96];
    describe(o, got, sizeof got);
    return dashi_fail(err, o->type == MSGPACK_OBJECT_STR ? DASHI_E_BAD_VALUE : DASHI_E_BAD_TYPE, name,
                      "%s must be one of %s, got %s", name, list, got);
}

int arg_hash(const msgpack_object *args, const char *name, bool required, char out[DASHI_HASH_HEX + 1],
             struct dashi_error *err)
{
    const msgpack_object *o = NULL;
    int found = lookup(args, name, required, &o, err);
    out[0] = 0;
    if (found <= 0)
        return found;
    if (o->type != MSGPACK_OBJECT_STR)
        return fail_type(name, "a blob hash (a string)", o, err);
    bool ok = o->via.str.size == DASHI_HASH_HEX;
    for (uint32_t i = 0; ok && i < o->via.str.size; i++) {
        char c = o->via.str.ptr[i];
        ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
    }
    if (!ok) {
        char got[96];
        return dashi_fail(err, DASHI_E_BAD_VALUE, name, "%s must be %d lowercase hex digits (a blob hash), got %s",
                          name, DASHI_HASH_HEX, describe(o, got, sizeof got));
    }
    memcpy(out, o->via.str.ptr, DASHI_HASH_HEX);
    out[DASHI_HASH_HEX] = 0;
    return 0;
}

int arg_bin(const msgpack_object *args, const char *name, bool required, const uint8_t **data, size_t *len,
            struct dashi_error *err)
{
    const msgpack_object *o = NULL;
    int found = lookup(args, name, required, &o, err);
    *data = NULL;
    *len = 0;
    if (found <= 0)
        return found;
    if (o->type != MSGPACK_OBJECT_BIN)
        return fail_type(name, "binary data (msgpack bin)", o, err);
    *data = (const uint8_t *)o->via.bin.ptr;
    *len = o->via.bin.size;
    return 0;
}

/* ---- encoding ------------------------------------------------------------------------ */

void pk_str(msgpack_packer *pk, const char *s)
{
    size_t n = strlen(s);
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, s, n);
}

void pk_key(msgpack_packer *pk, const char *k)
{
    pk_str(pk, k);
}

void pk_kv_str(msgpack_packer *pk, const char *k, const char *v)
{
    pk_str(pk, k);
    if (v)
        pk_str(pk, v);
    else
        msgpack_pack_nil(pk);
}

void pk_kv_u64(msgpack_packer *pk, const char *k, uint64_t v)
{
    pk_str(pk, k);
    msgpack_pack_uint64(pk, v);
}

void pk_kv_i64(msgpack_packer *pk, const char *k, int64_t v)
{
    pk_str(pk, k);
    msgpack_pack_int64(pk, v);
}

void pk_kv_f64(msgpack_packer *pk, const char *k, double v)
{
    pk_str(pk, k);
    msgpack_pack_double(pk, v);
}

void pk_kv_bool(msgpack_packer *pk, const char *k, bool v)
{
    pk_str(pk, k);
    if (v)
        msgpack_pack_true(pk);
    else
        msgpack_pack_false(pk);
}

void pk_kv_nil(msgpack_packer *pk, const char *k)
{
    pk_str(pk, k);
    msgpack_pack_nil(pk);
}

void pk_kv_bin(msgpack_packer *pk, const char *k, const void *data, size_t n)
{
    pk_str(pk, k);
    msgpack_pack_bin(pk, n);
    msgpack_pack_bin_body(pk, data, n);
}

static void pack_envelope(msgpack_packer *pk, size_t entries, uint64_t id)
{
    msgpack_pack_map(pk, entries);
    pk_kv_u64(pk, "v", DASHI_PROTO_VERSION);
    pk_kv_u64(pk, "id", id);
}

void pack_ok_begin(msgpack_packer *pk, uint64_t id)
{
    pack_envelope(pk, 4, id);
    pk_kv_bool(pk, "ok", true);
    pk_key(pk, "result");
}

void pack_error(msgpack_packer *pk, uint64_t id, const struct dashi_error *err)
{
    pack_envelope(pk, 4, id);
    pk_kv_bool(pk, "ok", false);
    pk_key(pk, "error");
    msgpack_pack_map(pk, 3);
    pk_kv_str(pk, "code", dashi_code_name(err->code));
    pk_kv_str(pk, "message", err->message);
    pk_kv_str(pk, "field", err->field[0] ? err->field : NULL);
}

void pack_event_begin(msgpack_packer *pk, uint64_t id)
{
    pack_envelope(pk, 3, id);
    pk_key(pk, "event");
}

void pack_request_begin(msgpack_packer *pk, uint64_t id, const char *op)
{
    pack_envelope(pk, 4, id);
    pk_kv_str(pk, "op", op);
    pk_key(pk, "args");
}

/* ---- response (client side) ------------------------------------------------------- */

/* Copies a str object into a fixed buffer, shortening it if needed. */
static void copy_str(char *dst, size_t cap, const msgpack_object *o)
{
    size_t n = o->via.str.size < cap - 1 ? o->via.str.size : cap - 1;
    if (n > 0)
        memcpy(dst, o->via.str.ptr, n);
    dst[n] = 0;
}

static int decode_remote_error(const msgpack_object *e, struct dashi_error *remote_err, struct dashi_error *err)
{
    if (e->type != MSGPACK_OBJECT_MAP)
        return dashi_fail(err, DASHI_E_BAD_FRAME, "error", "response error is not a map");
    const msgpack_object *code = args_find(e, "code"), *message = args_find(e, "message");
    const msgpack_object *field = args_find(e, "field");
    if (!code || code->type != MSGPACK_OBJECT_STR)
        return dashi_fail(err, DASHI_E_BAD_FRAME, "error", "response error lacks a string \"code\"");
    if (message && message->type != MSGPACK_OBJECT_STR)
        return dashi_fail(err, DASHI_E_BAD_FRAME, "error", "response error \"message\" is not a string");
    if (field && field->type != MSGPACK_OBJECT_STR && field->type != MSGPACK_OBJECT_NIL)
        return dashi_fail(err, DASHI_E_BAD_FRAME, "error", "response error \"field\" is not a string or nil");
    char name[32];
    copy_str(name, sizeof name, code);
    dashi_error_clear(remote_err);
    if (!remote_err)
        return 0;
    remote_err->code = dashi_code_from_name(name);
    if (message)
        copy_str(remote_err->message, sizeof remote_err->message, message);
    if (field && field->type == MSGPACK_OBJECT_STR)
        copy_str(remote_err->field, sizeof remote_err->field, field);
    if (remote_err->code == DASHI_OK) /* "OK" as an error code makes no sense: keep the failure a failure */
        remote_err->code = DASHI_E_INTERNAL;
    return 0;
}

int response_decode(const uint8_t *p, size_t n, msgpack_unpacked *u, uint64_t *id, bool *ok,
                    const msgpack_object **result, const msgpack_object **event, struct dashi_error *remote_err,
                    struct dashi_error *err)
{
    *id = 0;
    *ok = false;
    *result = NULL;
    *event = NULL;
    if (msg_check(p, n, err) < 0)
        return -1;
    size_t off = 0;
    if (msgpack_unpack_next(u, (const char *)p, n, &off) != MSGPACK_UNPACK_SUCCESS || off != n)
        return dashi_fail(err, DASHI_E_BAD_FRAME, "", "response is not one msgpack object");
    const msgpack_object *top = &u->data;
    if (top->type != MSGPACK_OBJECT_MAP)
        return dashi_fail(err, DASHI_E_BAD_FRAME, "", "response is not a map");
    const msgpack_object *v = args_find(top, "v"), *idv = args_find(top, "id");
    if (!v || v->type != MSGPACK_OBJECT_POSITIVE_INTEGER || v->via.u64 != DASHI_PROTO_VERSION)
        return dashi_fail(err, DASHI_E_VERSION, "v", "response does not carry protocol version %d",
                          DASHI_PROTO_VERSION);
    if (!idv || idv->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        return dashi_fail(err, DASHI_E_BAD_FRAME, "id", "response lacks an unsigned integer \"id\"");
    *id = idv->via.u64;

    const msgpack_object *ev = args_find(top, "event");
    if (ev) {
        if (ev->type != MSGPACK_OBJECT_MAP)
            return dashi_fail(err, DASHI_E_BAD_FRAME, "event", "event is not a map");
        *event = ev;
        *ok = true;
        return 0;
    }
    const msgpack_object *okv = args_find(top, "ok");
    if (!okv || okv->type != MSGPACK_OBJECT_BOOLEAN)
        return dashi_fail(err, DASHI_E_BAD_FRAME, "ok", "response lacks a boolean \"ok\"");
    if (okv->via.boolean) {
        const msgpack_object *res = args_find(top, "result");
        if (!res)
            return dashi_fail(err, DASHI_E_BAD_FRAME, "result", "successful response lacks \"result\"");
        *result = res;
        *ok = true;
        return 0;
    }
    const msgpack_object *e = args_find(top, "error");
    if (!e)
        return dashi_fail(err, DASHI_E_BAD_FRAME, "error", "failed response lacks \"error\"");
    return decode_remote_error(e, remote_err, err);
}
