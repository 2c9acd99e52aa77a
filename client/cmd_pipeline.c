/* SPDX-License-Identifier: MIT */
/* `dashi submit pipeline`: the DASHI method as four dependent jobs, les -> train ->
 * rollout -> decode (each consumes the previous jobs' outputs by job id, so the daemon
 * runs them in order), and with --wait one summary: the v4 table (relL2, corr, dE, dZ
 * at t=0 and the last step, means), train vs eval, closure depth, timings per stage. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd_analysis.h"
#include "json.h"
#include "output.h"

#define PIPE_MAX_ARGS 16

/* One job argument as the pipeline builds it. */
struct pipe_arg {
    const char *key;
    enum { PA_U64, PA_F64, PA_STR } type;
    uint64_t u;
    double f;
    const char *s;
};

struct pipe_job {
    const char *kind;
    struct pipe_arg args[PIPE_MAX_ARGS];
    int n;
    bool no_reuse; /* --no-reuse: runs even when an identical job succeeded */
};

static void add_u64(struct pipe_job *j, const char *k, uint64_t v)
{
    j->args[j->n++] = (struct pipe_arg){.key = k, .type = PA_U64, .u = v};
}
static void add_f64(struct pipe_job *j, const char *k, double v)
{
    j->args[j->n++] = (struct pipe_arg){.key = k, .type = PA_F64, .f = v};
}
static void add_str(struct pipe_job *j, const char *k, const char *v)
{
    j->args[j->n++] = (struct pipe_arg){.key = k, .type = PA_STR, .s = v};
}

static void pack_submit_job(msgpack_packer *pk, void *ctx)
{
    const struct pipe_job *j = ctx;
    msgpack_pack_map(pk, j->no_reuse ? 3 : 2);
    if (j->no_reuse)
        pk_kv_bool(pk, "reuse", false);
    pk_kv_str(pk, "kind", j->kind);
    pk_key(pk, "args");
    msgpack_pack_map(pk, (size_t)j->n);
    for (int i = 0; i < j->n; i++) {
        const struct pipe_arg *a = &j->args[i];
        if (a->type == PA_U64)
            pk_kv_u64(pk, a->key, a->u);
        else if (a->type == PA_F64)
            pk_kv_f64(pk, a->key, a->f);
        else
            pk_kv_str(pk, a->key, a->s);
    }
}

static int submit_job(struct dashi_client *c, const struct pipe_job *j, int64_t *id, struct dashi_error *err)
{
    msgpack_unpacked resp;
    msgpack_unpacked_init(&resp);
    const msgpack_object *result;
    int rc = client_call(c, "submit", pack_submit_job, (void *)j, NULL, NULL, &resp, &result, err);
    const msgpack_object *v = rc == 0 ? map_get(result, "id") : NULL;
    if (rc == 0 && (!v || v->type != MSGPACK_OBJECT_POSITIVE_INTEGER))
        rc = dashi_fail(err, DASHI_E_BAD_FRAME, "id", "the daemon's answer lacks the job id");
    if (rc == 0)
        *id = (int64_t)v->via.u64;
    msgpack_unpacked_destroy(&resp);
    if (rc != 0 && err->message[0]) {
        char msg[sizeof err->message + 32];
        snprintf(msg, sizeof msg, "%s job: %s", j->kind, err->message);
        snprintf(err->message, sizeof err->message, "%.*s", (int)sizeof err->message - 1, msg);
    }
    return rc;
}

static int opt_u64(const struct cmd_args *a, const char *name, uint64_t def, uint64_t min, uint64_t *out,
                   struct dashi_error *err)
{
    const char *v = cmd_opt(a, name);
    if (!v) {
        *out = def;
        return 0;
    }
    char *end;
    errno = 0;
    unsigned long long x = strtoull(v, &end, 10);
    if (!*v || *end || errno || v[0] == '-' || x < min)
        return dashi_fail(err, DASHI_E_BAD_VALUE, name, "--%s must be an integer >= %llu, got '%s'", name,
                          (unsigned long long)min, v);
    *out = x;
    return 0;
}

static int opt_f64(const struct cmd_args *a, const char *name, double def, double *out, struct dashi_error *err)
{
    const char *v = cmd_opt(a, name);
    if (!v) {
        *out = def;
        return 0;
    }
    char *end;
    double x = strtod(v, &end);
    if (!*v || *end || !isfinite(x))
        return dashi_fail(err, DASHI_E_BAD_VALUE, name, "--%s must be a finite number, got '%s'", name, v);
    *out = x;
    return 0;
}

static double metric(const msgpack_object *rec, const char *key)
{
    return obj_number(map_get(map_get(rec, "metrics"), key), NAN);
}

/* A number field of a job record (NaN when absent). */
static double field(const msgpack_object *rec, const char *key) { return obj_number(map_get(rec, key), NAN); }

static int wait_event(const msgpack_object *ev, void *ctx)
{
    (void)ctx;
    const msgpack_object *step = map_get(ev, "step"), *total = map_get(ev, "total");
    print_progress("pipeline", step && step->type == MSGPACK_OBJECT_POSITIVE_INTEGER ? step->via.u64 : 0,
                   total && total->type == MSGPACK_OBJECT_POSITIVE_INTEGER ? total->via.u64 : 0);
    return 0;
}

static void pack_id_arg(msgpack_packer *pk, void *ctx)
{
    msgpack_pack_map(pk, 1);
    pk_kv_i64(pk, "id", *(const int64_t *)ctx);
}

/* Waits for every job in turn (each ends before the next can), so a failed stage is named. */
static int wait_all(struct dashi_client *c, const int64_t *ids, const char *const *stages, int n,
                    struct dashi_error *err)
{
    for (int i = 0; i < n; i++) {
        msgpack_unpacked resp;
        msgpack_unpacked_init(&resp);
        const msgpack_object *rec;
        int rc = client_call(c, "wait", pack_id_arg, (void *)&ids[i], wait_event, NULL, &resp, &rec, err);
        const msgpack_object *st = rc == 0 ? map_get(rec, "state") : NULL;
        bool ok = st && st->type == MSGPACK_OBJECT_STR && st->via.str.size == 9 &&
                  memcmp(st->via.str.ptr, "succeeded", 9) == 0;
        if (rc == 0 && !ok) {
            const msgpack_object *e = map_get(rec, "error"), *code = map_get(e, "code"), *msg = map_get(e, "message");
            char name[32] = "E_STATE";
            if (code && code->type == MSGPACK_OBJECT_STR)
                snprintf(name, sizeof name, "%.*s", (int)code->via.str.size, code->via.str.ptr);
            rc = dashi_fail(err, dashi_code_from_name(name), "", "%s job %lld did not succeed: %.*s", stages[i],
                            (long long)ids[i], msg && msg->type == MSGPACK_OBJECT_STR ? (int)msg->via.str.size : 0,
                            msg && msg->type == MSGPACK_OBJECT_STR ? msg->via.str.ptr : "");
        }
        msgpack_unpacked_destroy(&resp);
        if (rc != 0) {
            end_progress();
            return -1;
        }
    }
    end_progress();
    return 0;
}

static void print_summary(const char *const *stages, const int64_t *ids, struct cmd_result *recs, bool json)
{
    const msgpack_object *les = recs[0].obj, *train = recs[1].obj, *dec = recs[3].obj;
    static const char *const rows[] = {"relL2", "corr", "dE", "dZ"};
    static const char *const train_keys[] = {"train.fit_residual", "train.spectral_radius", "train.unstable",
                                             "train.proxy_error_final", "eval.proxy_error_final",
                                             "eval.traj0.proxy_error_final"};
    if (json) {
        printf("{\n  \"jobs\": {");
        for (int i = 0; i < 4; i++)
            printf("%s\"%s\": %lld", i ? ", " : "", stages[i], (long long)ids[i]);
        printf("},\n  \"v4\": {");
        for (int r = 0; r < 4; r++) {
            char k0[32], kT[32], km[32];
            snprintf(k0, sizeof k0, "%s_0", rows[r]);
            snprintf(kT, sizeof kT, "%s_T", rows[r]);
            snprintf(km, sizeof km, "%s_mean", rows[r]);
            printf("%s\"%s\": {\"t0\": %.17g, \"T\": %.17g, \"mean\": %.17g}", r ? ", " : "", rows[r], metric(dec, k0),
                   metric(dec, kT), metric(dec, km));
        }
        printf("},\n  \"train\": {");
        int first = 1;
        for (size_t k = 0; k < sizeof train_keys / sizeof *train_keys; k++) {
            double v = metric(train, train_keys[k]);
            if (!isnan(v)) {
                printf("%s\"%s\": %.17g", first ? "" : ", ", train_keys[k], v);
                first = 0;
            }
        }
        printf("},\n  \"time_to_corr_below_0.95\": %.17g", metric(dec, "time_to_corr_below_0.95"));
        printf(",\n  \"closure_depth\": {\"last\": %.17g, \"mean\": %.17g, \"max\": %.17g},\n",
               metric(dec, "closure_depth"), metric(dec, "closure_depth_mean"), metric(dec, "closure_depth_max"));
        printf("  \"timings_s\": {");
        for (int i = 0; i < 4; i++)
            printf("%s\"%s\": {\"wall\": %.6g, \"gpu\": %.6g}", i ? ", " : "", stages[i],
                   field(recs[i].obj, "ended_at") - field(recs[i].obj, "started_at"),
                   field(recs[i].obj, "gpu_seconds"));
        printf("},\n  \"device\": ");
        const msgpack_object *dev = map_get(les, "device");
        if (dev)
            json_write(stdout, dev, -1);
        else
            printf("null");
        printf("\n}\n");
        return;
    }
    const msgpack_object *dev = map_get(les, "device"), *mode = map_get(les, "mode");
    printf("pipeline: les %lld -> train %lld -> rollout %lld -> decode %lld   (%.*s, mode %.*s)\n\n",
           (long long)ids[0], (long long)ids[1], (long long)ids[2], (long long)ids[3],
           dev && dev->type == MSGPACK_OBJECT_STR ? (int)dev->via.str.size : 0,
           dev && dev->type == MSGPACK_OBJECT_STR ? dev->via.str.ptr : "",
           mode && mode->type == MSGPACK_OBJECT_STR ? (int)mode->via.str.size : 0,
           mode && mode->type == MSGPACK_OBJECT_STR ? mode->via.str.ptr : "");
    printf("%-8s %22s %22s %22s\n", "", "t=0", "t=T", "mean");
    for (int r = 0; r < 4; r++) {
        char k0[32], kT[32], km[32];
        snprintf(k0, sizeof k0, "%s_0", rows[r]);
        snprintf(kT, sizeof kT, "%s_T", rows[r]);
        snprintf(km, sizeof km, "%s_mean", rows[r]);
        printf("%-8s %22.16g %22.16g %22.16g\n", rows[r], metric(dec, k0), metric(dec, kT), metric(dec, km));
    }
    printf("\ntrain vs eval\n");
    for (size_t k = 0; k < sizeof train_keys / sizeof *train_keys; k++) {
        double v = metric(train, train_keys[k]);
        if (!isnan(v))
            printf("  %-30s %.6g\n", train_keys[k], v);
    }
    printf("time to corr < 0.95: %.0f steps (-1: never)\n", metric(dec, "time_to_corr_below_0.95"));
    printf("closure depth  last %.0f  mean %.2f  max %.0f\n", metric(dec, "closure_depth"),
           metric(dec, "closure_depth_mean"), metric(dec, "closure_depth_max"));
    printf("\ntimings (s)      wall        gpu\n");
    for (int i = 0; i < 4; i++)
        printf("  %-8s %10.3f %10.3f\n", stages[i],
               field(recs[i].obj, "ended_at") - field(recs[i].obj, "started_at"),
               field(recs[i].obj, "gpu_seconds"));
}

int cmd_pipeline(struct dashi_client *c, const struct cmd_args *a, struct dashi_error *err)
{
    uint64_t N, steps, seed, rollout_steps, decode_every, eval_steps;
    double dt, nu0, cs;
    const char *mode = cmd_opt(a, "mode") ? cmd_opt(a, "mode") : "dashi";
    const char *train_frames = cmd_opt(a, "train-frames");
    bool no_reuse = cmd_opt(a, "no-reuse") != NULL;
    if (opt_u64(a, "N", 64, 8, &N, err) || opt_u64(a, "steps", 300, 1, &steps, err) ||
        opt_u64(a, "seed", 0, 0, &seed, err) || opt_f64(a, "dt", 0.01, &dt, err) ||
        opt_f64(a, "nu0", 1e-4, &nu0, err) || opt_f64(a, "cs", 0.17, &cs, err) ||
        opt_u64(a, "eval-steps", 0, 0, &eval_steps, err) ||
        opt_u64(a, "rollout-steps", 0, 0, &rollout_steps, err) || opt_u64(a, "decode-every", 1, 1, &decode_every, err))
        return -1;
    /* The LES runs long enough to be the truth of the whole rollout. */
    uint64_t les_steps = steps + eval_steps;
    if (rollout_steps == 0)
        rollout_steps = les_steps;
    if (rollout_steps > les_steps)
        return dashi_fail(err, DASHI_E_BAD_VALUE, "rollout-steps",
                          "--rollout-steps (%llu) exceeds the LES steps + --eval-steps (%llu): no truth to score it",
                          (unsigned long long)rollout_steps, (unsigned long long)les_steps);
    char frames[64], eval_frames[64];
    if (!train_frames) {
        snprintf(frames, sizeof frames, "0:%llu", (unsigned long long)steps + 1);
        train_frames = frames;
    }
    snprintf(eval_frames, sizeof eval_frames, "%llu:%llu", (unsigned long long)steps,
             (unsigned long long)les_steps + 1);

    struct pipe_job les = {.kind = "les", .no_reuse = no_reuse};
    add_u64(&les, "N", N);
    add_u64(&les, "steps", les_steps);
    add_f64(&les, "dt", dt);
    add_f64(&les, "nu0", nu0);
    add_f64(&les, "cs", cs);
    add_u64(&les, "seed", seed);
    add_u64(&les, "save_every", 1);
    add_str(&les, "mode", mode);
    int64_t ids[4];
    static const char *const stages[] = {"les", "train", "rollout", "decode"};
    if (submit_job(c, &les, &ids[0], err) != 0)
        return -1;

    struct pipe_job train = {.kind = "train", .no_reuse = no_reuse};
    add_u64(&train, "traj", (uint64_t)ids[0]);
    add_str(&train, "frames", train_frames);
    if (eval_steps)
        add_str(&train, "eval_frames", eval_frames);
    add_str(&train, "mode", mode);
    if (submit_job(c, &train, &ids[1], err) != 0)
        return -1;

    struct pipe_job roll = {.kind = "rollout", .no_reuse = no_reuse};
    add_u64(&roll, "op", (uint64_t)ids[1]);
    add_u64(&roll, "z0", (uint64_t)ids[1]);
    add_u64(&roll, "steps", rollout_steps);
    add_u64(&roll, "save_every", 1);
    add_u64(&roll, "hash_every", rollout_steps > 1000 ? rollout_steps / 1000 : 1);
    if (submit_job(c, &roll, &ids[2], err) != 0)
        return -1;

    struct pipe_job dec = {.kind = "decode", .no_reuse = no_reuse};
    add_u64(&dec, "op", (uint64_t)ids[1]);
    add_u64(&dec, "states", (uint64_t)ids[2]);
    add_u64(&dec, "z0", (uint64_t)ids[1]);
    add_u64(&dec, "truth", (uint64_t)ids[0]);
    add_u64(&dec, "every", decode_every);
    add_str(&dec, "observer", cmd_opt(a, "observer") ? cmd_opt(a, "observer") : "metrics");
    add_str(&dec, "mode", mode);
    if (submit_job(c, &dec, &ids[3], err) != 0)
        return -1;

    if (!cmd_opt(a, "wait")) {
        if (a->json)
            printf("{\"jobs\": {\"les\": %lld, \"train\": %lld, \"rollout\": %lld, \"decode\": %lld}}\n",
                   (long long)ids[0], (long long)ids[1], (long long)ids[2], (long long)ids[3]);
        else
            printf("submitted les %lld -> train %lld -> rollout %lld -> decode %lld\n", (long long)ids[0],
                   (long long)ids[1], (long long)ids[2], (long long)ids[3]);
        return 0;
    }
    if (wait_all(c, ids, stages, 4, err) != 0)
        return -1;
    struct cmd_result recs[4];
    for (int i = 0; i < 4; i++)
        cmd_result_init(&recs[i]);
    int rc = 0;
    for (int i = 0; i < 4 && rc == 0; i++)
        rc = cmd_call_id(c, "show", ids[i], NULL, &recs[i], err);
    if (rc == 0)
        print_summary(stages, ids, recs, a->json);
    for (int i = 0; i < 4; i++)
        cmd_result_free(&recs[i]);
    return rc;
}
