/* SPDX-License-Identifier: MIT */
/* `dashi export JOB -o DIR`: a job in files a notebook reads directly: the record as
 * JSON, the metrics as CSV and every output blob as its .npy file. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd_analysis.h"
#include "json.h"
#include "paths.h"

static int write_record(const char *path, const msgpack_object *rec, struct dashi_error *err)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return dashi_fail(err, DASHI_E_IO, "o", "cannot create %s: %s", path, strerror(errno));
    int bad = json_write(f, rec, 2) != 0 || fputc('\n', f) == EOF;
    if ((fclose(f) != 0) | bad)
        return dashi_fail(err, DASHI_E_IO, "o", "writing %s: %s", path, strerror(errno));
    return 0;
}

static void write_number(FILE *f, const msgpack_object *o)
{
    switch (o->type) {
    case MSGPACK_OBJECT_POSITIVE_INTEGER: fprintf(f, "%llu", (unsigned long long)o->via.u64); break;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER: fprintf(f, "%lld", (long long)o->via.i64); break;
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        /* %.17g reads back to the same double; numpy and pandas read nan/inf spelled so. */
        if (isnan(o->via.f64))
            fputs("nan", f);
        else if (isinf(o->via.f64))
            fputs(o->via.f64 > 0 ? "inf" : "-inf", f);
        else
            fprintf(f, "%.17g", o->via.f64);
        break;
    default: break; /* an empty field */
    }
}

/* Long format (key,step,value), one row per point: series of different lengths fit one
 * table, and summary scalars keep their step -1. Keys are plain names ([a-z0-9_]). The
 * metrics come page by page (cmd_call_id follows `next`), so the file has all of them. */
static int write_metrics(struct dashi_client *c, int64_t id, const char *path, size_t *rows,
                         struct dashi_error *err)
{
    struct cmd_result resp;
    if (cmd_call_id(c, "metrics", id, NULL, &resp, err) != 0) {
        cmd_result_free(&resp);
        return -1;
    }
    const msgpack_object *result = resp.obj;
    FILE *f = fopen(path, "w");
    if (!f) {
        cmd_result_free(&resp);
        return dashi_fail(err, DASHI_E_IO, "o", "cannot create %s: %s", path, strerror(errno));
    }
    fputs("key,step,value\n", f);
    const msgpack_object *m = map_get(result, "metrics");
    *rows = 0;
    for (uint32_t i = 0; m && m->type == MSGPACK_OBJECT_MAP && i < m->via.map.size; i++) {
        const msgpack_object_kv *kv = &m->via.map.ptr[i];
        const msgpack_object *steps = map_get(&kv->val, "steps"), *values = map_get(&kv->val, "values");
        if (kv->key.type != MSGPACK_OBJECT_STR || !steps || !values || steps->type != MSGPACK_OBJECT_ARRAY ||
            values->type != MSGPACK_OBJECT_ARRAY || steps->via.array.size != values->via.array.size)
            continue;
        for (uint32_t k = 0; k < steps->via.array.size; k++) {
            fprintf(f, "%.*s,", (int)kv->key.via.str.size, kv->key.via.str.ptr);
            write_number(f, &steps->via.array.ptr[k]);
            fputc(',', f);
            write_number(f, &values->via.array.ptr[k]);
            fputc('\n', f);
            (*rows)++;
        }
    }
    cmd_result_free(&resp);
    if (ferror(f) | (fclose(f) != 0))
        return dashi_fail(err, DASHI_E_IO, "o", "writing %s: %s", path, strerror(errno));
    return 0;
}

/* An output name as a file name: the daemon's names are identifiers, but a name is
 * never trusted to stay inside DIR. */
static bool safe_name(const char *s, size_t n)
{
    if (n == 0 || n > 64 || s[0] == '.')
        return false;
    for (size_t i = 0; i < n; i++)
        if (!(s[i] == '_' || s[i] == '-' || s[i] == '.' || (s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'z') ||
              (s[i] >= 'A' && s[i] <= 'Z')))
            return false;
    return true;
}

int cmd_export(struct dashi_client *c, const struct cmd_args *a, struct dashi_error *err)
{
    const char *dir = cmd_opt(a, "o");
    int64_t id;
    if (a->npos != 1 || !dir || !*dir)
        return dashi_fail(err, DASHI_E_MISSING_FIELD, a->npos != 1 ? "id" : "o", "usage: dashi export JOB -o DIR");
    if (cmd_parse_id(a->pos[0], &id, err) != 0)
        return -1;
    if (mkdir_p(dir, 0755) != 0)
        return dashi_fail(err, DASHI_E_IO, "o", "cannot create directory %s: %s", dir, strerror(errno));
    struct cmd_result resp;
    char path[4096 + 80];
    size_t rows = 0;
    int noutputs = 0;
    int rc = cmd_call_id(c, "show", id, NULL, &resp, err);
    const msgpack_object *rec = resp.obj;
    if (rc == 0) {
        snprintf(path, sizeof path, "%s/record.json", dir);
        rc = write_record(path, rec, err);
    }
    if (rc == 0) {
        snprintf(path, sizeof path, "%s/metrics.csv", dir);
        rc = write_metrics(c, id, path, &rows, err);
    }
    const msgpack_object *outputs = rc == 0 ? map_get(rec, "outputs") : NULL;
    for (uint32_t i = 0; rc == 0 && outputs && outputs->type == MSGPACK_OBJECT_MAP && i < outputs->via.map.size; i++) {
        const msgpack_object_kv *kv = &outputs->via.map.ptr[i];
        if (kv->key.type != MSGPACK_OBJECT_STR || kv->val.type != MSGPACK_OBJECT_STR ||
            kv->val.via.str.size != DASHI_HASH_HEX)
            continue;
        if (!safe_name(kv->key.via.str.ptr, kv->key.via.str.size)) {
            rc = dashi_fail(err, DASHI_E_BAD_VALUE, "outputs", "output name '%.*s' is not a plain file name",
                            (int)kv->key.via.str.size, kv->key.via.str.ptr);
            break;
        }
        char hash[DASHI_HASH_HEX + 1];
        memcpy(hash, kv->val.via.str.ptr, DASHI_HASH_HEX);
        hash[DASHI_HASH_HEX] = 0;
        snprintf(path, sizeof path, "%s/%.*s.npy", dir, (int)kv->key.via.str.size, kv->key.via.str.ptr);
        rc = client_get_file(c, hash, path, err);
        noutputs += rc == 0;
    }
    cmd_result_free(&resp);
    if (rc != 0)
        return -1;
    if (a->json) {
        fputs("{\"dir\": ", stdout);
        json_write_string(stdout, dir, strlen(dir));
        printf(", \"metric_rows\": %zu, \"outputs\": %d}\n", rows, noutputs);
    } else {
        printf("%s: record.json, metrics.csv (%zu rows), %d output%s\n", dir, rows, noutputs, noutputs == 1 ? "" : "s");
    }
    return 0;
}
