/* SPDX-License-Identifier: MIT */
/* `dashi plot`: fetches the metric series of each job and key and hands them to plot.c. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd_analysis.h"
#include "json.h"
#include "plot.h"

int cmd_parse_id(const char *s, int64_t *id, struct dashi_error *err)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *s == 0 || *end || v < 1)
        return dashi_fail(err, DASHI_E_BAD_VALUE, "id", "'%s' is not a job id", s);
    *id = v;
    return 0;
}

const char *cmd_opt(const struct cmd_args *a, const char *name)
{
    for (int i = 0; i < a->nopts; i++)
        if (strcmp(a->names[i], name) == 0)
            return a->values[i] ? a->values[i] : "";
    return NULL;
}

void cmd_pack_id_key(msgpack_packer *pk, void *ctx)
{
    const struct cmd_id_key *a = ctx;
    msgpack_pack_map(pk, a->key ? 2 : 1);
    pk_kv_i64(pk, "id", a->id);
    if (a->key)
        pk_kv_str(pk, "key", a->key);
}

int cmd_call_id(struct dashi_client *c, const char *op, int64_t id, const char *key, struct cmd_result *r,
                struct dashi_error *err)
{
    cmd_result_init(r);
    struct cmd_id_key a = {id, key};
    msgpack_unpacked resp;
    msgpack_unpacked_init(&resp);
    const msgpack_object *result;
    int rc = client_call_all(c, op, cmd_pack_id_key, &a, NULL, 0, &resp, &result, err);
    if (rc == 0) {
        msgpack_packer pk;
        msgpack_packer_init(&pk, &r->bytes, msgpack_sbuffer_write);
        msgpack_pack_object(&pk, *result);
        if (msgpack_unpack_next(&r->unpacked, r->bytes.data, r->bytes.size, NULL) != MSGPACK_UNPACK_SUCCESS)
            rc = dashi_fail(err, DASHI_E_INTERNAL, "", "cannot copy the answer to %s", op);
        else
            r->obj = &r->unpacked.data;
    }
    msgpack_unpacked_destroy(&resp);
    return rc;
}

void cmd_result_init(struct cmd_result *r)
{
    msgpack_sbuffer_init(&r->bytes);
    msgpack_unpacked_init(&r->unpacked);
    r->obj = NULL;
}

void cmd_result_free(struct cmd_result *r)
{
    msgpack_unpacked_destroy(&r->unpacked);
    msgpack_sbuffer_destroy(&r->bytes);
    r->obj = NULL;
}

static bool number_of(const msgpack_object *o, double *v)
{
    switch (o->type) {
    case MSGPACK_OBJECT_POSITIVE_INTEGER: *v = (double)o->via.u64; return true;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER: *v = (double)o->via.i64; return true;
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64: *v = o->via.f64; return true;
    default: return false;
    }
}

/* The series points of one job's metric key (summary scalars at step -1 left out). */
struct fetched {
    char label[96];
    double *x, *y;
    size_t n;
};

static int fetch_series(struct dashi_client *c, int64_t id, const char *key, struct fetched *out,
                        struct dashi_error *err)
{
    struct cmd_result r;
    int rc = cmd_call_id(c, "metrics", id, key, &r, err);
    const msgpack_object *result = r.obj;
    if (rc == 0) {
        const msgpack_object *m = map_get(map_get(map_get(result, "metrics"), key), "steps");
        const msgpack_object *v = map_get(map_get(map_get(result, "metrics"), key), "values");
        uint32_t n = m && v && m->type == MSGPACK_OBJECT_ARRAY && v->type == MSGPACK_OBJECT_ARRAY &&
                             m->via.array.size == v->via.array.size
                         ? m->via.array.size
                         : 0;
        out->x = malloc((n ? n : 1) * sizeof(double));
        out->y = malloc((n ? n : 1) * sizeof(double));
        if (!out->x || !out->y) {
            rc = dashi_fail(err, DASHI_E_INTERNAL, "", "out of memory");
        } else {
            for (uint32_t i = 0; i < n; i++) {
                double step, val;
                if (number_of(&m->via.array.ptr[i], &step) && step >= 0 && number_of(&v->via.array.ptr[i], &val)) {
                    out->x[out->n] = step;
                    out->y[out->n] = val;
                    out->n++;
                }
            }
            if (out->n == 0)
                rc = dashi_fail(err, DASHI_E_NOT_FOUND, "key", "job %lld has no metric series '%s'%s", (long long)id,
                                key, n ? " (only a summary scalar; see dashi compare)" : "");
        }
    }
    cmd_result_free(&r);
    return rc;
}

int cmd_plot(struct dashi_client *c, const struct cmd_args *a, struct dashi_error *err)
{
    const char *out = cmd_opt(a, "o");
    int nkeys = 0;
    for (int i = 0; i < a->nopts; i++)
        nkeys += strcmp(a->names[i], "key") == 0;
    if (a->npos < 1 || nkeys == 0 || !out || !*out)
        return dashi_fail(err, DASHI_E_MISSING_FIELD, a->npos < 1 ? "id" : nkeys == 0 ? "key" : "o",
                          "usage: dashi plot JOB [JOB...] --key K [--key K...] -o FILE.png|FILE.svg");
    enum plot_format fmt;
    if (plot_format_of(out, &fmt, err) != 0)
        return -1;
    size_t nseries = (size_t)a->npos * (size_t)nkeys;
    if (nseries > PLOT_MAX_SERIES)
        return dashi_fail(err, DASHI_E_BAD_VALUE, "key", "at most %d lines (jobs × keys) in one plot, asked for %zu",
                          PLOT_MAX_SERIES, nseries);
    struct fetched f[PLOT_MAX_SERIES];
    struct plot_series s[PLOT_MAX_SERIES];
    memset(f, 0, sizeof f);
    size_t n = 0;
    int rc = 0;
    for (int j = 0; j < a->npos && rc == 0; j++) {
        int64_t id;
        rc = cmd_parse_id(a->pos[j], &id, err);
        for (int i = 0; i < a->nopts && rc == 0; i++) {
            if (strcmp(a->names[i], "key") != 0)
                continue;
            const char *key = a->values[i];
            if (!key || !*key) {
                rc = dashi_fail(err, DASHI_E_MISSING_FIELD, "key", "--key needs a metric name (e.g. energy)");
                break;
            }
            snprintf(f[n].label, sizeof f[n].label, "job %lld %s", (long long)id, key);
            rc = fetch_series(c, id, key, &f[n], err);
            s[n] = (struct plot_series){f[n].label, f[n].x, f[n].y, f[n].n};
            n++;
        }
    }
    if (rc == 0)
        rc = plot_write(out, s, n, "step", err);
    if (rc == 0) {
        if (a->json) {
            fputs("{\"plot\": ", stdout);
            json_write_string(stdout, out, strlen(out));
            printf(", \"format\": \"%s\", \"series\": %zu}\n", fmt == PLOT_PNG ? "png" : "svg", n);
        } else
            printf("%s\n", out);
    }
    for (size_t i = 0; i < n; i++) {
        free(f[i].x);
        free(f[i].y);
    }
    return rc;
}
