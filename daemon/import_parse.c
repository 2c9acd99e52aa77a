/* SPDX-License-Identifier: MIT */
/* The parts of a result bundle (docs/storage.md "Bundles") as a job of the importer: its
 * record, events, inputs and outputs, metrics and hashes, checked field by field. Shared
 * by the import op (the client read the bundle) and the Slurm executor (the catalogue
 * reads the bundle its Slurm job wrote, slurm_bundle.c). Every output and the checkpoint
 * must be blobs the store holds already. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "import_parse.h"
#include "job.h"
#include "json.h"

#define IMPORT_EVENTS_MAX 4096

static int str_field(const msgpack_object *map, const char *name, bool required, char *out, size_t cap,
                     struct dashi_error *err)
{
    return arg_str(map, name, required, "", out, cap, err);
}

/* A map value under name (E_BAD_TYPE when it is something else; NULL when absent or nil). */
static int map_field(const msgpack_object *map, const char *name, bool required, const msgpack_object **out,
                     struct dashi_error *err)
{
    const msgpack_object *v = args_find(map, name);
    *out = v && v->type == MSGPACK_OBJECT_MAP ? v : NULL;
    if (v && v->type != MSGPACK_OBJECT_MAP && v->type != MSGPACK_OBJECT_NIL)
        return dashi_fail(err, DASHI_E_BAD_TYPE, name, "%s must be a map", name);
    if (!*out && required)
        return dashi_fail(err, DASHI_E_MISSING_FIELD, name, "%s is required", name);
    return 0;
}

static int state_field(const msgpack_object *map, const char *name, enum job_state *out, struct dashi_error *err)
{
    char s[16];
    if (str_field(map, name, true, s, sizeof s, err) != 0)
        return -1;
    int st = job_state_from_name(s);
    if (st < 0 || st == JOB_QUEUED || st == JOB_RUNNING)
        return dashi_fail(err, DASHI_E_BAD_VALUE, name,
                          "state '%s' is not the end of a job (succeeded, failed, cancelled or interrupted)", s);
    *out = (enum job_state)st;
    return 0;
}

static int parse_error(const msgpack_object *rec, struct job_row *row, struct dashi_error *err)
{
    const msgpack_object *e;
    if (map_field(rec, "error", false, &e, err) != 0)
        return -1;
    return e &&
           ( str_field(e, "code", true, row->error_code, sizeof row->error_code, err) ||
           str_field(e, "message", false, row->error_message, sizeof row->error_message, err) ||
           str_field(e, "field", false, row->error_field, sizeof row->error_field, err)) ? -1 : 0;
}

/* The last checkpoint (what resume would start from), a blob the store must hold. */
static int parse_checkpoint(const struct import_who *who, const msgpack_object *rec, struct job_row *row, struct dashi_error *err)
{
    const msgpack_object *ck;
    struct blob_meta meta;
    if (map_field(rec, "checkpoint", false, &ck, err) != 0)
        return -1;
    if (!ck)
        return 0;
    if (arg_hash(ck, "hash", true, row->checkpoint, err) ||
        arg_u64(ck, "step", true, 0, 0, INT64_MAX, &row->checkpoint_step, err))
        return -1;
    if (store_blob_get(who->st, row->checkpoint, &meta, err) != 0)
        return dashi_fail(err, DASHI_E_NOT_FOUND, "checkpoint",
                          "checkpoint %s is not in the store: upload the bundle's blobs first", row->checkpoint);
    return 0;
}

static int parse_row(const struct import_who *who, const msgpack_object *rec, struct job_row *row, struct dashi_error *err)
{
    const msgpack_object *params, *progress;
    memset(row, 0, sizeof *row);
    row->uid = who->uid;
    snprintf(row->user, sizeof row->user, "%s", who->user);
    if (str_field(rec, "kind", true, row->kind, sizeof row->kind, err) || state_field(rec, "state", &row->state, err) ||
        map_field(rec, "params", true, &params, err) || map_field(rec, "progress", false, &progress, err) ||
        str_field(rec, "precision", false, row->precision, sizeof row->precision, err) ||
        str_field(rec, "mode", false, row->mode, sizeof row->mode, err) ||
        str_field(rec, "device", false, row->device, sizeof row->device, err) ||
        str_field(rec, "driver", false, row->driver, sizeof row->driver, err) ||
        arg_f64(rec, "submitted_at", true, 0, 0, 1e12, &row->submitted_at, err) ||
        arg_f64(rec, "started_at", false, 0, 0, 1e12, &row->started_at, err) ||
        arg_f64(rec, "ended_at", false, 0, 0, 1e12, &row->ended_at, err) ||
        arg_f64(rec, "gpu_seconds", false, 0, 0, 1e12, &row->gpu_seconds, err) || parse_error(rec, row, err) ||
        parse_checkpoint(who, rec, row, err))
        return -1;
    if (!job_kind_find(row->kind))
        return job_kind_unknown(row->kind, DASHI_E_BAD_VALUE, err);
    if (progress && (arg_u64(progress, "step", false, 0, 0, UINT64_MAX, &row->step, err) ||
                     arg_u64(progress, "total", false, 0, 0, UINT64_MAX, &row->total_steps, err)))
        return -1;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_object(&pk, *params);
    row->params_mp = sb.data; /* owned by the row now */
    row->params_mp_len = sb.size;
    row->params_json = json_string(params, 0);
    return row->params_json ? 0 : dashi_fail(err, DASHI_E_INTERNAL, "params", "cannot encode the parameters");
}

static int parse_events(const msgpack_object *rec, struct job_import *imp, struct imported_event **out,
                        struct dashi_error *err)
{
    const msgpack_object *ev = args_find(rec, "events");
    *out = NULL;
    if (!ev || ev->type == MSGPACK_OBJECT_NIL)
        return 0;
    if (ev->type != MSGPACK_OBJECT_ARRAY || ev->via.array.size > IMPORT_EVENTS_MAX)
        return dashi_fail(err, DASHI_E_BAD_VALUE, "events", "events must be an array of at most %d", IMPORT_EVENTS_MAX);
    *out = calloc(ev->via.array.size + 1, sizeof **out);
    if (!*out)
        return dashi_fail(err, DASHI_E_INTERNAL, "events", "out of memory");
    for (uint32_t i = 0; i < ev->via.array.size; i++) {
        const msgpack_object *e = &ev->via.array.ptr[i];
        const msgpack_object *detail = args_find(e, "detail");
        char state[16];
        if (e->type != MSGPACK_OBJECT_MAP)
            return dashi_fail(err, DASHI_E_BAD_TYPE, "events", "each event must be a map");
        if (arg_f64(e, "at", true, 0, 0, 1e12, &(*out)[i].at, err) || str_field(e, "state", true, state, sizeof state, err))
            return -1;
        int s = job_state_from_name(state);
        if (s < 0)
            return dashi_fail(err, DASHI_E_BAD_VALUE, "events", "event state '%s' is no job state", state);
        (*out)[i].state = (enum job_state)s;
        if (detail && detail->type == MSGPACK_OBJECT_STR) {
            (*out)[i].detail = strndup(detail->via.str.ptr, detail->via.str.size);
            if (!(*out)[i].detail)
                return dashi_fail(err, DASHI_E_INTERNAL, "events", "out of memory");
        }
    }
    imp->nevents = ev->via.array.size;
    imp->events = *out;
    return 0;
}

/* The record's inputs and outputs. An output must be a blob the store holds (uploaded
 * from the bundle before); an input is only a reference (lineage), it may be elsewhere. */
static int parse_blobs(const struct import_who *who, const msgpack_object *rec, struct imported_blob *blobs, size_t *n,
                       struct dashi_error *err)
{
    static const char *const roles[] = {"input", "output"};
    static const char *const keys[] = {"inputs", "outputs"};
    *n = 0;
    for (int r = 0; r < 2; r++) {
        const msgpack_object *m;
        if (map_field(rec, keys[r], false, &m, err) != 0)
            return -1;
        for (uint32_t i = 0; m && i < m->via.map.size; i++) {
            const msgpack_object_kv *kv = &m->via.map.ptr[i];
            if (*n == IMPORT_BLOBS_MAX)
                return dashi_fail(err, DASHI_E_TOO_LARGE, keys[r], "a job has at most %d inputs and outputs",
                                  IMPORT_BLOBS_MAX);
            if (kv->key.type != MSGPACK_OBJECT_STR || kv->key.via.str.size == 0 || kv->key.via.str.size > 31 ||
                kv->val.type != MSGPACK_OBJECT_STR || kv->val.via.str.size != DASHI_HASH_HEX)
                return dashi_fail(err, DASHI_E_BAD_VALUE, keys[r], "%s must map names to blob hashes", keys[r]);
            struct imported_blob *b = &blobs[(*n)++];
            b->role = roles[r];
            b->name = strndup(kv->key.via.str.ptr, kv->key.via.str.size);
            memcpy(b->hash, kv->val.via.str.ptr, DASHI_HASH_HEX);
            b->hash[DASHI_HASH_HEX] = 0;
            struct blob_meta meta;
            if (!b->name)
                return dashi_fail(err, DASHI_E_INTERNAL, keys[r], "out of memory");
            if (r == 1 && store_blob_get(who->st, b->hash, &meta, err) != 0)
                return dashi_fail(err, DASHI_E_NOT_FOUND, "outputs",
                                  "output %s (%s) is not in the store: upload the bundle's blobs first", b->name,
                                  b->hash);
        }
    }
    return 0;
}

/* metrics: {KEY: {steps: [...], values: [...]}} as the metrics op answers (nil is NaN). */
static int parse_metrics(const msgpack_object *args, struct metric **out, size_t *n, struct dashi_error *err)
{
    const msgpack_object *m;
    size_t total = 0;
    *out = NULL;
    *n = 0;
    if (map_field(args, "metrics", false, &m, err) != 0)
        return -1;
    if (!m)
        return 0;
    for (uint32_t i = 0; i < m->via.map.size; i++) {
        const msgpack_object *steps = args_find(&m->via.map.ptr[i].val, "steps");
        const msgpack_object *values = args_find(&m->via.map.ptr[i].val, "values");
        const msgpack_object *key = &m->via.map.ptr[i].key;
        if (key->type != MSGPACK_OBJECT_STR || key->via.str.size == 0 || key->via.str.size >= 48 || !steps ||
            !values || steps->type != MSGPACK_OBJECT_ARRAY || values->type != MSGPACK_OBJECT_ARRAY ||
            steps->via.array.size != values->via.array.size)
            return dashi_fail(err, DASHI_E_BAD_VALUE, "metrics",
                              "metrics must map keys (1 to 47 bytes) to {steps, values} of one length");
        total += steps->via.array.size;
    }
    *out = calloc(total + 1, sizeof **out);
    if (!*out)
        return dashi_fail(err, DASHI_E_INTERNAL, "metrics", "out of memory");
    for (uint32_t i = 0; i < m->via.map.size; i++) {
        const msgpack_object *key = &m->via.map.ptr[i].key;
        const msgpack_object *steps = args_find(&m->via.map.ptr[i].val, "steps");
        const msgpack_object *values = args_find(&m->via.map.ptr[i].val, "values");
        char *k = strndup(key->via.str.ptr, key->via.str.size);
        if (!k)
            return dashi_fail(err, DASHI_E_INTERNAL, "metrics", "out of memory");
        for (uint32_t j = 0; j < steps->via.array.size; j++) {
            const msgpack_object *s = &steps->via.array.ptr[j], *v = &values->via.array.ptr[j];
            struct metric *mt = &(*out)[(*n)++];
            mt->key = j == 0 ? k : (*out)[*n - 2].key;
            if (s->type == MSGPACK_OBJECT_POSITIVE_INTEGER && s->via.u64 <= INT64_MAX)
                mt->step = (int64_t)s->via.u64;
            else if (s->type == MSGPACK_OBJECT_NEGATIVE_INTEGER && s->via.i64 == -1)
                mt->step = -1;
            else
                return dashi_fail(err, DASHI_E_BAD_VALUE, "metrics", "metric %s: a step is an integer >= -1", k);
            if (v->type == MSGPACK_OBJECT_FLOAT32 || v->type == MSGPACK_OBJECT_FLOAT64)
                mt->value = v->via.f64;
            else if (v->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
                mt->value = (double)v->via.u64;
            else if (v->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
                mt->value = (double)v->via.i64;
            else if (v->type == MSGPACK_OBJECT_NIL)
                mt->value = NAN;
            else
                return dashi_fail(err, DASHI_E_BAD_VALUE, "metrics", "metric %s: a value is a number or nil", k);
        }
        if (steps->via.array.size == 0)
            free(k);
    }
    return 0;
}

/* hashes: [{traj, step, hash}] as the hashes op answers. */
static int parse_hashes(const msgpack_object *args, struct zhash **out, size_t *n, struct dashi_error *err)
{
    const msgpack_object *h = args_find(args, "hashes");
    *out = NULL;
    *n = 0;
    if (!h || h->type == MSGPACK_OBJECT_NIL)
        return 0;
    if (h->type != MSGPACK_OBJECT_ARRAY)
        return dashi_fail(err, DASHI_E_BAD_TYPE, "hashes", "hashes must be an array");
    *out = calloc(h->via.array.size + 1, sizeof **out);
    if (!*out)
        return dashi_fail(err, DASHI_E_INTERNAL, "hashes", "out of memory");
    for (uint32_t i = 0; i < h->via.array.size; i++) {
        const msgpack_object *e = &h->via.array.ptr[i];
        uint64_t traj;
        struct zhash *z = &(*out)[i];
        if (e->type != MSGPACK_OBJECT_MAP)
            return dashi_fail(err, DASHI_E_BAD_TYPE, "hashes", "each hash must be a map {traj, step, hash}");
        if (arg_u64(e, "traj", true, 0, 0, UINT32_MAX, &traj, err) ||
            arg_u64(e, "step", true, 0, 0, INT64_MAX, &z->step, err) ||
            str_field(e, "hash", true, z->hex, sizeof z->hex, err))
            return -1;
        if (strlen(z->hex) != 32 || strspn(z->hex, "0123456789abcdef") != 32)
            return dashi_fail(err, DASHI_E_BAD_VALUE, "hashes", "a state hash is 32 lowercase hex digits");
        z->traj = (uint32_t)traj;
    }
    *n = h->via.array.size;
    return 0;
}

void import_parts_free(struct import_parts *p)
{
    struct job_import *imp = &p->imp;
    for (size_t i = 0; i < imp->nevents; i++)
        free((char *)p->events[i].detail);
    free(p->events);
    for (size_t i = 0; i < imp->nblobs; i++)
        free((char *)p->blobs[i].name);
    for (size_t i = 0; p->metrics && i < imp->nmetrics; i++)
        if (i == 0 || p->metrics[i].key != p->metrics[i - 1].key)
            free((char *)p->metrics[i].key);
    free(p->metrics);
    free(p->hashes);
    job_row_free(&imp->row);
}

int import_parts_parse(const struct import_who *who, const msgpack_object *args, struct import_parts *p,
                       const msgpack_object **rec, struct dashi_error *err)
{
    memset(p, 0, sizeof *p);
    int rc = map_field(args, "record", true, rec, err) || parse_row(who, *rec, &p->imp.row, err) ||
                     parse_events(*rec, &p->imp, &p->events, err) ||
                     parse_blobs(who, *rec, p->blobs, &p->imp.nblobs, err) ||
                     parse_metrics(args, &p->metrics, &p->imp.nmetrics, err) ||
                     parse_hashes(args, &p->hashes, &p->imp.nhashes, err)
                 ? -1
                 : 0;
    p->imp.blobs = p->blobs;
    p->imp.metrics = p->metrics;
    p->imp.hashes = p->hashes;
    return rc;
}
