/* SPDX-License-Identifier: MIT */
/* `dashi plot`: fetches the metric series of each job and key and hands them to plot.c. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd_analysis.h"
#include "json.h"
#include "cli.h"
#include "figure.h"
#include "legend.h"
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

bool cmd_number_of(const msgpack_object *o, double *v)
{
    switch (o->type) {
    case MSGPACK_OBJECT_POSITIVE_INTEGER: *v = (double)o->via.u64; return true;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER: *v = (double)o->via.i64; return true;
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64: *v = o->via.f64; return true;
    default: return false;
    }
}

int cmd_fetch_series(struct dashi_client *c, int64_t id, const char *key, struct cmd_series *out,
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
                if (cmd_number_of(&m->via.array.ptr[i], &step) && step >= 0 && cmd_number_of(&v->via.array.ptr[i], &val)) {
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

/* The time between steps of a job: its params' dt (les); 0 when it has none. */
static double step_dt(const msgpack_object *record)
{
    double dt;
    const msgpack_object *v = map_get(map_get(record, "params"), "dt");
    return v && cmd_number_of(v, &dt) && dt > 0 ? dt : 0;
}

enum { PLOT_MAX_JOBS = 4, PLOT_MAX_KEYS = 8 }; /* PLOT_MAX_SERIES = 32 of them */

struct plot_job {
    int64_t id;
    struct cmd_result record;
    double dt;
};

/* Fetches every job's record and every (job, key) series into f (n of them). */
static int fetch_all(struct dashi_client *c, const struct cmd_args *a, struct plot_job *jobs, const char *const *keys,
                     size_t nkeys, struct cmd_series *f, struct plot_series *s, size_t *n, struct dashi_error *err)
{
    int rc = 0;
    for (int j = 0; j < a->npos && rc == 0; j++) {
        rc = cmd_parse_id(a->pos[j], &jobs[j].id, err);
        if (rc == 0)
            rc = cmd_call_id(c, "show", jobs[j].id, NULL, &jobs[j].record, err);
        if (rc == 0)
            jobs[j].dt = step_dt(jobs[j].record.obj);
        for (size_t k = 0; k < nkeys && rc == 0; k++) {
            rc = cmd_fetch_series(c, jobs[j].id, keys[k], &f[*n], err);
            s[*n] = (struct plot_series){(size_t)j, k, f[*n].x, f[*n].y, f[*n].n};
            (*n)++;
        }
    }
    return rc;
}

int cmd_plot(struct dashi_client *c, const struct cmd_args *a, struct dashi_error *err)
{
    const char *out = cmd_opt(a, "o");
    const char *keys[PLOT_MAX_KEYS];
    size_t nkeys = 0;
    for (int i = 0; i < a->nopts; i++)
        if (strcmp(a->names[i], "key") == 0) {
            if (!a->values[i] || !*a->values[i])
                return dashi_fail(err, DASHI_E_MISSING_FIELD, "key", "--key needs a metric name (e.g. energy)");
            if (nkeys == PLOT_MAX_KEYS)
                return dashi_fail(err, DASHI_E_BAD_VALUE, "key", "at most %d keys (panels) in one plot",
                                  PLOT_MAX_KEYS);
            keys[nkeys++] = a->values[i];
        }
    if (a->npos < 1 || nkeys == 0 || !out || !*out)
        return dashi_fail(err, DASHI_E_MISSING_FIELD, a->npos < 1 ? "id" : nkeys == 0 ? "key" : "o",
                          "usage: dashi plot JOB [JOB...] --key K [--key K...] -o FILE.png|.svg|.pdf");
    if (a->npos > PLOT_MAX_JOBS)
        return dashi_fail(err, DASHI_E_BAD_VALUE, "id", "at most %d jobs in one plot, got %d", PLOT_MAX_JOBS, a->npos);
    enum fig_format fmt;
    if (fig_format_of(out, "o", &fmt, err) != 0)
        return -1;
    struct plot_job jobs[PLOT_MAX_JOBS];
    for (int j = 0; j < a->npos; j++)
        cmd_result_init(&jobs[j].record);
    struct cmd_series f[PLOT_MAX_SERIES];
    struct plot_series s[PLOT_MAX_SERIES];
    memset(f, 0, sizeof f);
    size_t n = 0;
    int rc = fetch_all(c, a, jobs, keys, nkeys, f, s, &n, err);
    /* Time on x when every job knows its dt, else steps. */
    bool timed = true;
    for (int j = 0; j < a->npos && rc == 0; j++)
        timed = timed && jobs[j].dt > 0;
    for (size_t i = 0; rc == 0 && timed && i < n; i++)
        for (size_t k = 0; k < f[i].n; k++)
            f[i].x[k] *= jobs[s[i].job].dt;
    const msgpack_object *records[PLOT_MAX_JOBS];
    int64_t ids[PLOT_MAX_JOBS];
    char labels[PLOT_MAX_JOBS][LEGEND_LABEL_MAX];
    const char *label_ptrs[PLOT_MAX_JOBS];
    for (int j = 0; j < a->npos; j++) {
        records[j] = jobs[j].record.obj;
        ids[j] = jobs[j].id;
        label_ptrs[j] = labels[j];
    }
    if (rc == 0) {
        legend_labels(records, ids, (size_t)a->npos, labels);
        struct plot_chart chart = {keys, nkeys, label_ptrs, (size_t)a->npos, timed ? "t" : "step", s, n};
        rc = plot_write(out, &chart, err);
    }
    if (rc == 0) {
        if (a->json) {
            fputs("{\"plot\": ", stdout);
            json_write_string(stdout, out, strlen(out));
            printf(", \"format\": \"%s\", \"series\": %zu, \"x\": \"%s\", \"legend\": [", fig_format_name(fmt), n,
                   timed ? "t" : "step");
            for (int j = 0; j < a->npos; j++) {
                fputs(j ? ", " : "", stdout);
                json_write_string(stdout, labels[j], strlen(labels[j]));
            }
            printf("]}\n");
        } else
            printf("%s\n", out);
    }
    for (size_t i = 0; i < n; i++) {
        free(f[i].x);
        free(f[i].y);
    }
    for (int j = 0; j < a->npos; j++)
        cmd_result_free(&jobs[j].record);
    return rc;
}
