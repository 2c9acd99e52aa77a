/* SPDX-License-Identifier: MIT */
/* The pipeline job (docs/protocol.md "pipeline"): the DASHI method as one job made of four
 * stages, les -> train -> rollout -> decode, each an ordinary job whose parent it is.
 *
 * Its parameters are the union of what a researcher sets on the stages; they are validated
 * whole here, before anything is queued: the LES stage's own validation on the arguments
 * it will get, the encoder's bands (N, the cuts and topk against each other), the frame
 * spans against the LES steps. jobs.c then records the pipeline and submits the stages
 * (pipeline_stage_args builds each one's arguments) as dependent jobs; the pipeline never
 * reaches the scheduler. Its state follows its stages (pipeline_settle): queued, running
 * while one runs, interrupted while one is (resume it), succeeded once decode has, with
 * the summary (decode's summary scalars, train's train.* and eval.* ones, each stage's wall
 * and GPU time) in its own metrics, or failed/cancelled as the first stage that did not
 * succeed, named in its error. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "encode.h"
#include "job.h"
#include "job_params.h"
#include "wire.h"

#define PIPELINE_MAX_STEPS 100000000ull

enum pipeline_stage { STAGE_LES, STAGE_TRAIN, STAGE_ROLLOUT, STAGE_DECODE, STAGE_COUNT };
static const char *const stage_kinds[] = {"les", "train", "rollout", "decode"};

enum pipeline_observer { OBSERVE_NONE, OBSERVE_METRICS, OBSERVE_SNAPSHOTS };
static const char *const observers[] = {"none", "metrics", "snapshots", NULL}; /* decode's observers */

struct pipeline_params {
    uint64_t n, steps, seed, eval_steps, rollout_steps, decode_every, topk;
    double dt, nu0, cs, ridge;
    struct encode_params enc;
    enum job_mode mode;
    enum pipeline_observer observer;
    uint64_t frames_a, frames_b; /* training frames [a, b) of the LES trajectory */
    bool frames_given;
    bool drop_intermediate; /* the LES stage keeps its trajectory only until consumed */
};

/* The LES runs long enough to be the truth of the whole rollout. */
static uint64_t les_steps(const struct pipeline_params *p) { return p->steps + p->eval_steps; }

/* "A:B" (frames A to B-1); its range against the LES is checked in validate. */
static int parse_train_frames(const struct job_submit_ctx *ctx, const msgpack_object *args, void *params,
                              struct job_plan *plan, struct dashi_error *err)
{
    (void)ctx, (void)plan;
    struct pipeline_params *p = params;
    char s[64];
    if (arg_str(args, "train_frames", false, "", s, sizeof s, err) != 0)
        return -1;
    if (!s[0])
        return 0;
    char *colon = strchr(s, ':'), *end_a, *end_b;
    if (colon) {
        *colon = 0;
        p->frames_a = strtoull(s, &end_a, 10);
        p->frames_b = strtoull(colon + 1, &end_b, 10);
    }
    if (!colon || !s[0] || *end_a || s[0] == '-' || !colon[1] || *end_b || colon[1] == '-')
        return dashi_fail(err, DASHI_E_BAD_VALUE, "train_frames",
                          "train_frames must read A:B (frames A to B-1 of the LES trajectory)");
    p->frames_given = true;
    return 0;
}

static void pack_train_frames(const void *params, msgpack_packer *pk)
{
    const struct pipeline_params *p = params;
    char s[48];
    snprintf(s, sizeof s, "%llu:%llu", (unsigned long long)p->frames_a, (unsigned long long)p->frames_b);
    pk_str(pk, s);
}

#define P struct pipeline_params
static const struct param_spec pipeline_params[] = {
    PARAM_U64("N", P, n, 64, 8, 65536, "grid size N×N (even)"),
    PARAM_U64("steps", P, steps, 300, 1, PIPELINE_MAX_STEPS, "LES steps the operator is trained on"),
    PARAM_U64("eval_steps", P, eval_steps, 0, 0, PIPELINE_MAX_STEPS,
              "LES steps after the training span, held out: train scores them (eval.*)"),
    PARAM_F64("dt", P, dt, 0.01, 0, HUGE_VAL, "time step", .flags = PARAM_ABOVE_MIN),
    PARAM_F64("nu0", P, nu0, 1e-4, 0, HUGE_VAL, "molecular viscosity"),
    PARAM_F64("cs", P, cs, 0.17, 0, HUGE_VAL, "Smagorinsky constant"),
    PARAM_U64("seed", P, seed, 0, 0, UINT32_MAX, "seed of the generated initial field"),
    PARAM_CUSTOM("train_frames", parse_train_frames, pack_train_frames, "`\"A:B\"`",
                 "training frames A to B-1 of the LES trajectory", .default_doc = "`0:steps+1`"),
    PARAM_GROUP(P, enc, encode_param_group),
    PARAM_U64("topk", P, topk, 128, 0, 1u << 24, "anchors: the largest residual cells kept (at most the mid band)"),
    PARAM_F64("ridge", P, ridge, 1e-3, 0, HUGE_VAL, "ridge regularisation of the fit"),
    PARAM_U64("rollout_steps", P, rollout_steps, 0, 0, PIPELINE_MAX_STEPS,
              "steps of the rollout (at most steps + eval_steps)", .default_doc = "steps + eval_steps"),
    PARAM_U64("decode_every", P, decode_every, 1, 1, UINT64_MAX, "decode every K-th rollout state (the last always)"),
    PARAM_ENUM("observer", P, observer, OBSERVE_METRICS, observers,
               "what decode keeps: `snapshots` adds the fields (for `dashi figure`)"),
    PARAM_ENUM("mode", P, mode, JOB_MODE_DASHI, job_mode_names, "the DASHI numerics or the plain reference, every stage"),
    PARAM_BOOL("drop_intermediate", P, drop_intermediate, false,
               "the LES trajectory is deleted once train and decode have used it (its `keep` is `until-consumed`)"),
    PARAM_END,
};
#undef P
static const struct param_table pipeline_table = {"`pipeline`", pipeline_params};

static void pack_encode(msgpack_packer *pk, const struct encode_params *e)
{
    pk_kv_f64(pk, "k_cut", e->k_cut);
    pk_kv_f64(pk, "mid_cut", e->mid_cut);
    pk_kv_f64(pk, "tau", e->tau);
    pk_kv_u64(pk, "smooth", e->smooth);
}

/* The one place that turns the pipeline's parameters into its stages' arguments. */
static void pipeline_stage_args(const void *params, int k, const int64_t *ids, msgpack_packer *pk)
{
    const struct pipeline_params *p = params;
    const char *mode = job_mode_names[p->mode];
    char frames[48], eval_frames[48];
    switch ((enum pipeline_stage)k) {
    case STAGE_LES:
        msgpack_pack_map(pk, 8 + (p->drop_intermediate ? 1 : 0));
        pk_kv_u64(pk, "N", p->n);
        pk_kv_u64(pk, "steps", les_steps(p));
        if (p->drop_intermediate)
            pk_kv_str(pk, "keep", "until-consumed");
        pk_kv_f64(pk, "dt", p->dt);
        pk_kv_f64(pk, "nu0", p->nu0);
        pk_kv_f64(pk, "cs", p->cs);
        pk_kv_u64(pk, "seed", p->seed);
        pk_kv_u64(pk, "save_every", 1);
        pk_kv_str(pk, "mode", mode);
        return;
    case STAGE_TRAIN:
        snprintf(frames, sizeof frames, "%llu:%llu", (unsigned long long)p->frames_a, (unsigned long long)p->frames_b);
        snprintf(eval_frames, sizeof eval_frames, "%llu:%llu", (unsigned long long)p->steps,
                 (unsigned long long)les_steps(p) + 1);
        msgpack_pack_map(pk, 10 + (p->eval_steps ? 1 : 0));
        pk_kv_i64(pk, "traj", ids[STAGE_LES]);
        pk_kv_u64(pk, "N", p->n);
        pk_kv_str(pk, "frames", frames);
        if (p->eval_steps)
            pk_kv_str(pk, "eval_frames", eval_frames);
        pack_encode(pk, &p->enc);
        pk_kv_u64(pk, "topk", p->topk);
        pk_kv_f64(pk, "ridge", p->ridge);
        pk_kv_str(pk, "mode", mode);
        return;
    case STAGE_ROLLOUT:
        msgpack_pack_map(pk, 5);
        pk_kv_i64(pk, "op", ids[STAGE_TRAIN]);
        pk_kv_i64(pk, "z0", ids[STAGE_TRAIN]);
        pk_kv_u64(pk, "steps", p->rollout_steps);
        pk_kv_u64(pk, "save_every", 1);
        pk_kv_u64(pk, "hash_every", p->rollout_steps > 1000 ? p->rollout_steps / 1000 : 1);
        return;
    case STAGE_DECODE:
        msgpack_pack_map(pk, 7);
        pk_kv_i64(pk, "op", ids[STAGE_TRAIN]);
        pk_kv_i64(pk, "states", ids[STAGE_ROLLOUT]);
        pk_kv_i64(pk, "z0", ids[STAGE_TRAIN]);
        pk_kv_i64(pk, "truth", ids[STAGE_LES]);
        pk_kv_u64(pk, "every", p->decode_every);
        pk_kv_str(pk, "observer", observers[p->observer]);
        pk_kv_str(pk, "mode", mode);
        return;
    case STAGE_COUNT:
        break;
    }
}

/* The LES stage validated as it will be submitted: N, steps, dt and the trajectory's size
 * are its checks, with its messages (its field names are the pipeline's). */
static int check_les_stage(const struct job_submit_ctx *ctx, const struct pipeline_params *p,
                           struct dashi_error *err)
{
    const struct job_kind *les = job_kind_find(stage_kinds[STAGE_LES]);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    pipeline_stage_args(p, STAGE_LES, NULL, &pk);
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    int rc = -1;
    if (msgpack_unpack_next(&u, sb.data, sb.size, NULL) != MSGPACK_UNPACK_SUCCESS) {
        dashi_fail(err, DASHI_E_INTERNAL, "", "cannot encode the LES stage's arguments");
    } else {
        struct job_plan plan = {0};
        void *les_params = NULL;
        rc = les->validate(ctx, &u.data, &les_params, &plan, err);
        if (rc == 0)
            les->free_params(les_params);
    }
    msgpack_unpacked_destroy(&u);
    msgpack_sbuffer_destroy(&sb);
    return rc;
}

/* The encoder's bands at this N: the cuts and topk against each other (train's check,
 * made before anything runs), and decode's odd smoothing box. */
static int check_encode(const struct pipeline_params *p, struct dashi_error *err)
{
    struct encode_config cfg = {.n = (uint32_t)p->n, .k_cut = p->enc.k_cut, .mid_cut = p->enc.mid_cut,
                                .topk = (uint32_t)p->topk, .tau = p->enc.tau, .smooth = (uint32_t)p->enc.smooth,
                                .mode = p->mode == JOB_MODE_REFERENCE ? ENCODE_REFERENCE : ENCODE_DASHI};
    struct encode_bands bands;
    if (encode_bands_make(&cfg, &bands, err) != 0)
        return -1;
    encode_bands_free(&bands);
    if (p->enc.smooth % 2 == 0)
        return dashi_fail(err, DASHI_E_BAD_VALUE, "smooth", "smooth must be odd (the decoder's box is centred)");
    return 0;
}

/* The spans against the LES trajectory (les_steps + 1 frames). */
static int check_spans(struct pipeline_params *p, struct dashi_error *err)
{
    uint64_t frames = les_steps(p) + 1;
    if (!p->frames_given) {
        p->frames_a = 0;
        p->frames_b = p->steps + 1;
    }
    if (p->frames_a >= p->frames_b || p->frames_b > frames || p->frames_b - p->frames_a < 2)
        return dashi_fail(err, DASHI_E_BAD_VALUE, "train_frames",
                          "train_frames must hold at least 2 of the LES trajectory's %llu frames (steps + "
                          "eval_steps + 1)", (unsigned long long)frames);
    if (p->rollout_steps == 0)
        p->rollout_steps = les_steps(p);
    if (p->rollout_steps > les_steps(p))
        return dashi_fail(err, DASHI_E_BAD_VALUE, "rollout_steps",
                          "rollout_steps (%llu) exceeds steps + eval_steps (%llu): no truth to score it",
                          (unsigned long long)p->rollout_steps, (unsigned long long)les_steps(p));
    return 0;
}

static int pipeline_validate(const struct job_submit_ctx *ctx, const msgpack_object *args, void **out,
                             struct job_plan *plan, struct dashi_error *err)
{
    struct pipeline_params *p = calloc(1, sizeof *p);
    if (!p)
        return dashi_fail(err, DASHI_E_INTERNAL, "", "out of memory");
    *out = NULL;
    if (params_only(pipeline_params, args, err) || params_parse(pipeline_params, ctx, args, p, plan, err) ||
        check_spans(p, err) || check_encode(p, err) || check_les_stage(ctx, p, err)) {
        free(p);
        return -1;
    }
    plan->total_steps = STAGE_COUNT; /* its progress: the stages that succeeded */
    snprintf(plan->precision, sizeof plan->precision, "f64");
    snprintf(plan->mode, sizeof plan->mode, "%s", job_mode_names[p->mode]);
    *out = p;
    return 0;
}

static void pipeline_pack_params(const void *params, msgpack_packer *pk)
{
    params_pack(pipeline_params, params, pk);
}

static void pipeline_free_params(void *params) { free(params); }

/* ---- the state that follows the stages ---- */

struct stage_rows {
    struct job_row rows[STAGE_COUNT];
    size_t n;
};

static void stage_rows_free(struct stage_rows *s)
{
    for (size_t i = 0; i < s->n; i++)
        job_row_free(&s->rows[i]);
    s->n = 0;
}

static int stage_rows_load(struct store *st, int64_t id, struct stage_rows *s, struct dashi_error *err)
{
    int64_t ids[STAGE_COUNT];
    size_t n;
    s->n = 0;
    if (store_job_children(st, id, ids, STAGE_COUNT, &n, err) != 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (store_job_get(st, ids[i], &s->rows[i], err) != 0) {
            stage_rows_free(s);
            return -1;
        }
        s->n = i + 1;
    }
    return 0;
}

/* The state its stages give the pipeline, and the reason when it is not a good one. */
static enum job_state derive_state(const struct stage_rows *s, struct dashi_error *why)
{
    dashi_error_clear(why);
    size_t succeeded = 0, final = 0;
    const struct job_row *bad = NULL, *interrupted = NULL;
    bool running = false;
    for (size_t i = 0; i < s->n; i++) {
        const struct job_row *r = &s->rows[i];
        succeeded += r->state == JOB_SUCCEEDED;
        final += job_state_is_final(r->state);
        running |= r->state == JOB_RUNNING;
        if (!bad && job_state_is_final(r->state) && r->state != JOB_SUCCEEDED)
            bad = r;
        if (!interrupted && r->state == JOB_INTERRUPTED)
            interrupted = r;
    }
    if (s->n == STAGE_COUNT && succeeded == STAGE_COUNT)
        return JOB_SUCCEEDED;
    if (bad && final == s->n) {
        dashi_code code = bad->error_code[0] ? dashi_code_from_name(bad->error_code) : DASHI_E_STATE;
        dashi_fail(why, code == DASHI_OK ? DASHI_E_STATE : code, "", "stage %s (job %lld) %s: %.180s", bad->kind,
                   (long long)bad->id, job_state_name(bad->state), bad->error_message);
        return bad->state;
    }
    if (running)
        return JOB_RUNNING;
    if (interrupted) {
        dashi_fail(why, DASHI_E_INTERRUPTED, "", "stage %s (job %lld) was interrupted: resume it to continue",
                   interrupted->kind, (long long)interrupted->id);
        return JOB_INTERRUPTED;
    }
    return JOB_QUEUED;
}

struct summary_copy {
    struct metric m[128];
    char keys[128][48];
    size_t n;
    bool all; /* every summary scalar, else only train.* and eval.* */
};

static int collect_summary(void *ctx, const char *key, int64_t step, double value)
{
    struct summary_copy *c = ctx;
    bool wanted = c->all || strncmp(key, "train.", 6) == 0 || strncmp(key, "eval.", 5) == 0;
    if (step != -1 || !wanted || c->n == sizeof c->m / sizeof c->m[0])
        return 0;
    snprintf(c->keys[c->n], sizeof c->keys[0], "%s", key);
    c->m[c->n] = (struct metric){.key = c->keys[c->n], .step = -1, .value = value};
    c->n++;
    return 0;
}

/* The summary of a pipeline whose stages all succeeded: decode's summary scalars, train's
 * train.* and eval.* ones, and time.STAGE.wall_s / time.STAGE.gpu_s. */
static int record_summary(struct store *st, int64_t id, const struct stage_rows *s, struct dashi_error *err)
{
    struct summary_copy *c = calloc(1, sizeof *c);
    if (!c)
        return dashi_fail(err, DASHI_E_INTERNAL, "", "out of memory");
    int rc = 0;
    for (size_t i = 0; i < s->n && rc == 0; i++) {
        const struct job_row *r = &s->rows[i];
        c->all = i == STAGE_DECODE;
        if (i == STAGE_TRAIN || i == STAGE_DECODE)
            rc = store_metrics(st, r->id, NULL, NULL, UINT64_MAX, collect_summary, c, err);
    }
    for (size_t i = 0; i < s->n && rc == 0 && c->n + 2 <= sizeof c->m / sizeof c->m[0]; i++) {
        const struct job_row *r = &s->rows[i];
        snprintf(c->keys[c->n], sizeof c->keys[0], "time.%s.wall_s", r->kind);
        c->m[c->n] = (struct metric){.key = c->keys[c->n], .step = -1, .value = r->ended_at - r->started_at};
        c->n++;
        snprintf(c->keys[c->n], sizeof c->keys[0], "time.%s.gpu_s", r->kind);
        c->m[c->n] = (struct metric){.key = c->keys[c->n], .step = -1, .value = r->gpu_seconds};
        c->n++;
    }
    if (rc == 0)
        rc = store_metrics_add(st, id, c->m, c->n, err);
    if (rc == 0) /* the device the stages ran on, as the record of any job says */
        rc = store_job_set_device(st, id, s->rows[STAGE_LES].device, s->rows[STAGE_LES].driver, "f64", err);
    free(c);
    return rc;
}

struct settle_tx {
    struct store *st;
    int64_t id;
    double now;
    bool ended;
};

/* One transaction: the stages read, the pipeline's progress, summary and state written. */
static int settle_fn(void *ctx, struct dashi_error *err)
{
    struct settle_tx *t = ctx;
    struct job_row pipe;
    if (store_job_get(t->st, t->id, &pipe, err) != 0)
        return -1;
    enum job_state was = pipe.state;
    job_row_free(&pipe);
    if (job_state_is_final(was))
        return 0;
    struct stage_rows s;
    if (stage_rows_load(t->st, t->id, &s, err) != 0)
        return -1;
    struct dashi_error why;
    enum job_state state = derive_state(&s, &why);
    uint64_t done = 0;
    for (size_t i = 0; i < s.n; i++)
        done += s.rows[i].state == JOB_SUCCEEDED;
    int rc = store_job_set_progress(t->st, t->id, done, STAGE_COUNT, 0, err);
    if (rc == 0 && state == JOB_SUCCEEDED)
        rc = record_summary(t->st, t->id, &s, err);
    if (rc == 0 && state != was)
        rc = store_job_set_state(t->st, t->id, state, t->now, why.code != DASHI_OK ? &why : NULL, err);
    stage_rows_free(&s);
    t->ended = rc == 0 && state != was && job_state_is_final(state);
    return rc;
}

static int pipeline_settle(struct store *st, int64_t id, double now, bool *ended, struct dashi_error *err)
{
    struct settle_tx t = {.st = st, .id = id, .now = now};
    int rc = store_transaction(st, settle_fn, &t, err);
    *ended = rc == 0 && t.ended;
    return rc;
}

static const struct job_stages pipeline_stages = {
    .n = STAGE_COUNT,
    .kinds = stage_kinds,
    .args = pipeline_stage_args,
    .settle = pipeline_settle,
};

static const struct param_table *const pipeline_tables[] = {&pipeline_table, NULL};

const struct job_kind job_kind_pipeline = {
    .name = "pipeline",
    .params = pipeline_tables,
    .validate = pipeline_validate,
    .pack_params = pipeline_pack_params,
    .free_params = pipeline_free_params,
    .stages = &pipeline_stages,
};
