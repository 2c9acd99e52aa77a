/* SPDX-License-Identifier: MIT */
/* The client's side of a pipeline job (docs/protocol.md "pipeline"): the daemon validates it,
 * submits its stages les -> train -> rollout -> decode and keeps the summary in the
 * pipeline's record; here it is printed (after `submit pipeline --wait` and in `show`):
 * the v4 table (relL2, corr, dE, dZ at t=0 and the last step, means), train vs eval,
 * closure depth, timings per stage. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd_analysis.h"
#include "json.h"
#include "output.h"

static const char *const stages[] = {"les", "train", "rollout", "decode"};
#define NSTAGES 4

static double metric(const msgpack_object *rec, const char *key)
{
    return obj_number(map_get(map_get(rec, "metrics"), key), NAN);
}

static long long stage_id(const msgpack_object *rec, const char *stage)
{
    const msgpack_object *v = map_get(map_get(rec, "stages"), stage);
    return v && v->type == MSGPACK_OBJECT_POSITIVE_INTEGER ? (long long)v->via.u64 : 0;
}

/* A stage's wall or GPU time ("wall" | "gpu") from the summary. */
static double stage_time(const msgpack_object *rec, const char *stage, const char *which)
{
    char key[48];
    snprintf(key, sizeof key, "time.%s.%s_s", stage, which);
    return metric(rec, key);
}

static const char *const rows[] = {"relL2", "corr", "dE", "dZ"};
static const char *const train_keys[] = {"train.fit_residual", "train.spectral_radius", "train.unstable",
                                         "train.proxy_error_final", "eval.proxy_error_final",
                                         "eval.traj0.proxy_error_final"};

static void row_keys(int r, char k0[32], char kT[32], char km[32])
{
    snprintf(k0, 32, "%s_0", rows[r]);
    snprintf(kT, 32, "%s_T", rows[r]);
    snprintf(km, 32, "%s_mean", rows[r]);
}

static void print_summary_json(const msgpack_object *rec)
{
    printf("{\n  \"id\": %.0f,\n  \"state\": ", obj_number(map_get(rec, "id"), 0));
    json_write(stdout, map_get(rec, "state"), -1);
    printf(",\n  \"jobs\": {");
    for (int i = 0; i < NSTAGES; i++)
        printf("%s\"%s\": %lld", i ? ", " : "", stages[i], stage_id(rec, stages[i]));
    printf("},\n  \"v4\": {");
    for (int r = 0; r < 4; r++) {
        char k0[32], kT[32], km[32];
        row_keys(r, k0, kT, km);
        printf("%s\"%s\": {\"t0\": %.17g, \"T\": %.17g, \"mean\": %.17g}", r ? ", " : "", rows[r], metric(rec, k0),
               metric(rec, kT), metric(rec, km));
    }
    printf("},\n  \"train\": {");
    int first = 1;
    for (size_t k = 0; k < sizeof train_keys / sizeof *train_keys; k++) {
        double v = metric(rec, train_keys[k]);
        if (!isnan(v)) {
            printf("%s\"%s\": %.17g", first ? "" : ", ", train_keys[k], v);
            first = 0;
        }
    }
    printf("},\n  \"time_to_corr_below_0.95\": %.17g", metric(rec, "time_to_corr_below_0.95"));
    printf(",\n  \"closure_depth\": {\"last\": %.17g, \"mean\": %.17g, \"max\": %.17g},\n",
           metric(rec, "closure_depth"), metric(rec, "closure_depth_mean"), metric(rec, "closure_depth_max"));
    printf("  \"timings_s\": {");
    for (int i = 0; i < NSTAGES; i++)
        printf("%s\"%s\": {\"wall\": %.6g, \"gpu\": %.6g}", i ? ", " : "", stages[i], stage_time(rec, stages[i], "wall"),
               stage_time(rec, stages[i], "gpu"));
    printf("},\n  \"device\": ");
    const msgpack_object *dev = map_get(rec, "device");
    if (dev)
        json_write(stdout, dev, -1);
    else
        printf("null");
    printf("\n}\n");
}

static void print_stages_line(const msgpack_object *rec)
{
    const msgpack_object *dev = map_get(rec, "device"), *mode = map_get(rec, "mode");
    printf("pipeline %.0f: les %lld -> train %lld -> rollout %lld -> decode %lld", obj_number(map_get(rec, "id"), 0),
           stage_id(rec, "les"), stage_id(rec, "train"), stage_id(rec, "rollout"), stage_id(rec, "decode"));
    if (dev && dev->type == MSGPACK_OBJECT_STR)
        printf("   (%.*s)", (int)dev->via.str.size, dev->via.str.ptr);
    if (mode && mode->type == MSGPACK_OBJECT_STR)
        printf("   mode %.*s", (int)mode->via.str.size, mode->via.str.ptr);
    printf("\n");
}

static void print_summary_text(const msgpack_object *rec)
{
    printf("\n%-8s %22s %22s %22s\n", "", "t=0", "t=T", "mean");
    for (int r = 0; r < 4; r++) {
        char k0[32], kT[32], km[32];
        row_keys(r, k0, kT, km);
        printf("%-8s %22.16g %22.16g %22.16g\n", rows[r], metric(rec, k0), metric(rec, kT), metric(rec, km));
    }
    printf("\ntrain vs eval\n");
    for (size_t k = 0; k < sizeof train_keys / sizeof *train_keys; k++) {
        double v = metric(rec, train_keys[k]);
        if (!isnan(v))
            printf("  %-30s %.6g\n", train_keys[k], v);
    }
    printf("time to corr < 0.95: %.0f steps (-1: never)\n", metric(rec, "time_to_corr_below_0.95"));
    printf("closure depth  last %.0f  mean %.2f  max %.0f\n", metric(rec, "closure_depth"),
           metric(rec, "closure_depth_mean"), metric(rec, "closure_depth_max"));
    printf("\ntimings (s)      wall        gpu\n");
    for (int i = 0; i < NSTAGES; i++)
        printf("  %-8s %10.3f %10.3f\n", stages[i], stage_time(rec, stages[i], "wall"), stage_time(rec, stages[i], "gpu"));
}

bool pipeline_is(const msgpack_object *rec)
{
    const msgpack_object *k = map_get(rec, "kind");
    return k && k->type == MSGPACK_OBJECT_STR && k->via.str.size == 8 && memcmp(k->via.str.ptr, "pipeline", 8) == 0;
}

static bool succeeded(const msgpack_object *rec)
{
    const msgpack_object *st = map_get(rec, "state");
    return st && st->type == MSGPACK_OBJECT_STR && st->via.str.size == 9 && memcmp(st->via.str.ptr, "succeeded", 9) == 0;
}

void pipeline_print_text(const msgpack_object *rec)
{
    print_stages_line(rec);
    if (succeeded(rec))
        print_summary_text(rec);
}

void pipeline_print_summary(const msgpack_object *rec, bool json)
{
    if (json)
        print_summary_json(rec);
    else
        pipeline_print_text(rec);
}

int pipeline_stage_of(struct dashi_client *c, int64_t id, const char *stage, int64_t *out, struct dashi_error *err)
{
    struct cmd_result r;
    int rc = cmd_call_id(c, "show", id, NULL, &r, err);
    *out = id;
    if (rc == 0 && pipeline_is(r.obj)) {
        *out = stage_id(r.obj, stage);
        if (*out == 0)
            rc = dashi_fail(err, DASHI_E_NOT_FOUND, "id", "pipeline %lld has no %s stage", (long long)id, stage);
    }
    cmd_result_free(&r);
    return rc;
}
