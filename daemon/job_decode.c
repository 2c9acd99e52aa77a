/* SPDX-License-Identifier: MIT */
/* The decode job (docs/numerics.md "Decode"): proxies (a rollout's states, or any F×D array) back
 * to fields on the GPU, scored against the truth, with the closure statistics. The numerics live
 * in decode.c; this file is validation, batching and reporting.
 *
 * Arguments: op (a train job: its anchors, mask_low and encode configuration) or
 * anchors + mask (+ k_cut, mid_cut, tau, smooth); states (hash or rollout job: F×D or
 * D); z0 (optional: decoded first, as t = 0; hash or train job); truth (optional: hash
 * or LES job: F'×N×N or N×N); t0/stride (the step of states[0] and between states:
 * a rollout's save_every by default, else 0 and 1); truth_every (steps between truth
 * frames: an LES job's save_every, else 1); every (decode every K-th state, the last
 * one always); observer none|metrics|snapshots; residual_seed; mode; max_levels.
 * Outputs: steps (the decoded t, i8), omega_hat (snapshots: frames×N×N). Metrics per
 * decoded step: rel_l2 corr dE dZ (with truth), energy enstrophy closure_depth;
 * closure.{active,killed,balance,mean_abs,coherence} per level of the last frame, and (mode
 * dashi) that frame's annihilation trace (job_closure_trace.h: closure.alive per level,
 * filaments_born, filaments_survived, annihilation_level_mean, closure.alive_fraction.L1..L8),
 * traced on the host from the carrier the GPU thresholded; its depth must be the GPU's. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "decode.h"
#include "io_worker.h"
#include "job.h"
#include "job_closure_trace.h"
#include "job_params.h"
#include "monotonic.h"

#define DECODE_MAX_FRAMES 10000000ull
#define DECODE_MAX_SNAPSHOT_BYTES (64ull << 30)
#define BATCH_BYTES (64ull << 20)
#define CARRIER_TRACE_MAX_LEVELS 4096 /* host passes of the trace at most (each removes support) */

struct decode_params {
    char op_anchors[DASHI_HASH_HEX + 1], op_mask[DASHI_HASH_HEX + 1];
    int64_t op_job;
    char anchors[DASHI_HASH_HEX + 1], mask[DASHI_HASH_HEX + 1];
    char states[DASHI_HASH_HEX + 1], z0[DASHI_HASH_HEX + 1], truth[DASHI_HASH_HEX + 1];
    int64_t states_job, z0_job, truth_job;
    struct encode_params enc;
    uint64_t every, t0, stride, truth_every, residual_seed, max_levels;
    enum decode_observer observer;
    enum job_mode mode;
    bool require_gpu;
    /* Known once every input resolved (no deps left). */
    uint32_t n, M, topk, D;
    uint64_t F, F_truth; /* states (plus z0) and truth frames */
    struct job_common_params common; /* keep */
};

static const char *const observers[] = {"none", "metrics", "snapshots", NULL}; /* enum decode_observer */

static bool with_op(const void *params) { return ((const struct decode_params *)params)->op_job != 0; }
static bool without_op(const void *params) { return !with_op(params); }

#define P struct decode_params
static const struct param_spec decode_params[] = {
    PARAM_INPUT("op", P, op_anchors, op_job, "anchors",
                "a train job: its anchors, mask_low and encode configuration (instead of the next six)",
                .packed = with_op),
    PARAM_HASH("anchors", P, anchors, "topk i8 anchors (without op)", .flags = PARAM_MANUAL, .packed = without_op,
               .default_doc = "required without op"),
    PARAM_HASH("mask", P, mask, "N×N u1 low-band mask (without op)", .flags = PARAM_MANUAL, .packed = without_op,
               .default_doc = "required without op"),
    PARAM_GROUP(P, enc, encode_param_group, .flags = PARAM_MANUAL, .packed = without_op),
    PARAM_INPUT("states", P, states, states_job, "states", "the proxies: F×D or D f8", .flags = PARAM_REQUIRED),
    PARAM_INPUT("z0", P, z0, z0_job, "z0", "optional: decoded first, as t = 0 (D f8)"),
    PARAM_INPUT("truth", P, truth, truth_job, "trajectory", "optional: F′×N×N or N×N f8 to score against"),
    PARAM_U64("every", P, every, 1, 1, UINT64_MAX, "decode every K-th state (the last always)"),
    PARAM_U64("t0", P, t0, 0, 0, UINT64_MAX / 4, "the step of states[0]", .flags = PARAM_MANUAL,
              .default_doc = "a rollout job's save_every, else 0"),
    PARAM_U64("stride", P, stride, 1, 1, UINT64_MAX / 4, "steps between states", .flags = PARAM_MANUAL,
              .default_doc = "a rollout job's save_every, else 1"),
    PARAM_U64("truth_every", P, truth_every, 1, 1, UINT64_MAX / 4, "steps between truth frames",
              .flags = PARAM_MANUAL, .default_doc = "an LES job's save_every, else 1"),
    PARAM_ENUM("observer", P, observer, DECODE_OBSERVE_METRICS, observers,
               "what is kept: nothing, metrics, or the fields too (output omega_hat)"),
    PARAM_U64("residual_seed", P, residual_seed, 12345, 0, UINT64_MAX / 2, "seed of the residual phases"),
    PARAM_ENUM("mode", P, mode, JOB_MODE_DASHI, job_mode_names, "the DASHI decoder or the plain reference",
               .default_doc = "the train job's, else `dashi`"),
    PARAM_U64("max_levels", P, max_levels, 32, 1, DECODE_MAX_LEVELS, "closure passes recorded"),
    PARAM_BOOL("require_gpu", P, require_gpu, false, "refuse to run on a CPU implementation of Vulkan"),
    PARAM_GROUP(P, common, job_common_param_group),
    PARAM_END,
};
#undef P
static const struct param_table decode_table = {"`decode`", decode_params};

/* The engine's configuration for the resolved parameters and the loaded anchors and mask. */
static struct decode_config config_of(const struct decode_params *p, const void *anchors, const void *mask,
                                      uint32_t max_batch)
{
    return (struct decode_config){.n = p->n, .dashi = p->mode == JOB_MODE_DASHI, .M = p->M, .topk = p->topk,
                                  .mask_low = mask, .anchors = anchors, .k_cut = p->enc.k_cut,
                                  .mid_cut = p->enc.mid_cut, .tau = p->enc.tau, .box = (uint32_t)p->enc.smooth,
                                  .eta = CLOSURE_ETA, .max_levels = (uint32_t)p->max_levels,
                                  .residual_seed = p->residual_seed, .max_batch = max_batch,
                                  .truth = p->truth[0] != 0, .snapshots = p->observer == DECODE_OBSERVE_SNAPSHOTS};
}

/* Reads a small blob (anchors, mask) at validation to learn N, M and topk. */
static int load_small(const struct job_submit_ctx *ctx, const char *field, const char *hash, enum npy_dtype dtype,
                      const char *what, struct npy_info *info, void **data, struct dashi_error *err)
{
    struct blob_meta m;
    const struct blob_want want = {.dtype = dtype};
    if (job_blob_check(ctx, field, hash, want, what, &m, err) != 0)
        return -1;
    return blobstore_load(ctx->blobs, field, hash, info, data, err);
}

/* The train job's encode configuration (its defaults when a key is absent). */
static int config_from_train(const struct job_submit_ctx *ctx, struct decode_params *p, const msgpack_object *args,
                             struct job_plan *plan, struct dashi_error *err)
{
    struct job_params_view v;
    const msgpack_object *tp;
    if (job_params_open(ctx, p->op_job, &v, &tp, err) != 0)
        return -1;
    int mode = JOB_MODE_DASHI;
    int rc = params_parse(encode_param_group, ctx, tp, &p->enc, plan, err) ||
             arg_enum(tp, "mode", false, JOB_MODE_DASHI, job_mode_names, &mode, err);
    job_params_close(&v);
    if (rc)
        return dashi_fail(err, DASHI_E_BAD_VALUE, "op", "train job %lld has an unusable configuration",
                          (long long)p->op_job);
    if (!param_given(args, "mode"))
        p->mode = mode; /* decode as the operator was trained unless told otherwise */
    return 0;
}

/* t0/stride default from a rollout job's save_every, truth_every from an LES job's. */
static int save_every_of(const struct job_submit_ctx *ctx, int64_t id, uint64_t *out, struct dashi_error *err)
{
    struct job_params_view v;
    const msgpack_object *jp;
    if (job_params_open(ctx, id, &v, &jp, err) != 0)
        return -1;
    int rc = arg_u64(jp, "save_every", false, 1, 0, UINT64_MAX, out, err);
    job_params_close(&v);
    return rc;
}

/* The resolved states, z0 and truth against D and N: shapes, and truth frames for
 * every decoded step. Learns F and F_truth. */
static int check_inputs(const struct job_submit_ctx *ctx, struct decode_params *p, struct dashi_error *err)
{
    struct blob_meta sm, zm, tm;
    const struct blob_want f8 = {.dtype = NPY_F8, .finite = true};
    if (job_blob_check(ctx, "states", p->states, f8, "float64", &sm, err))
        return -1;
    if (!((sm.info.ndim == 1 && sm.info.shape[0] == p->D) ||
          (sm.info.ndim == 2 && sm.info.shape[1] == p->D && sm.info.shape[0] >= 1)))
        return dashi_fail(err, DASHI_E_BAD_VALUE, "states", "states must be float64 of shape (F, D) or (D,), D = %u",
                          p->D);
    p->F = sm.info.ndim == 1 ? 1 : sm.info.shape[0];
    if (p->z0[0]) {
        if (job_blob_check(ctx, "z0", p->z0, f8, "float64", &zm, err))
            return -1;
        if (zm.info.count != p->D)
            return dashi_fail(err, DASHI_E_BAD_VALUE, "z0", "z0 must be float64 with D = %u values", p->D);
    }
    if (p->truth[0]) {
        if (job_blob_check(ctx, "truth", p->truth, f8, "float64", &tm, err))
            return -1;
        bool one = tm.info.ndim == 2 && tm.info.shape[0] == p->n && tm.info.shape[1] == p->n;
        bool traj = tm.info.ndim == 3 && tm.info.shape[1] == p->n && tm.info.shape[2] == p->n;
        if (!(one || traj))
            return dashi_fail(err, DASHI_E_BAD_VALUE, "truth", "truth must be float64 N×N or F×N×N with N = %u",
                              p->n);
        p->F_truth = one ? 1 : tm.info.shape[0];
        /* Every decoded step needs its truth frame. */
        uint64_t last_t = p->t0 + (p->F - 1) * p->stride;
        if (last_t % p->truth_every || last_t / p->truth_every >= p->F_truth ||
            (p->every * p->stride) % p->truth_every || p->t0 % p->truth_every)
            return dashi_fail(err, DASHI_E_BAD_VALUE, "truth",
                              "truth has %llu frames every %llu steps; it does not cover the decoded steps (t0 %llu, stride %llu, %llu states)",
                              (unsigned long long)p->F_truth, (unsigned long long)p->truth_every,
                              (unsigned long long)p->t0, (unsigned long long)p->stride, (unsigned long long)p->F);
    }
    return 0;
}

/* The encode configuration: from the train job (op), whose arguments may then not be
 * given, or from the job's own anchors, mask and encode arguments. */
static int resolve_encoding(const struct job_submit_ctx *ctx, const msgpack_object *args, struct decode_params *p,
                            struct job_plan *plan, struct dashi_error *err)
{
    if (!param_given(args, "op"))
        return arg_hash(args, "anchors", true, p->anchors, err) || arg_hash(args, "mask", true, p->mask, err) ||
                       params_parse(encode_param_group, ctx, args, &p->enc, plan, err)
                   ? -1 : 0;
    const char *foreign = params_given_among(decode_params, without_op, args);
    if (foreign)
        return dashi_fail(err, DASHI_E_BAD_VALUE, foreign, "%s comes from the train job (op): give op or %s",
                          foreign, foreign);
    return config_from_train(ctx, p, args, plan, err);
}

static int decode_validate(const struct job_submit_ctx *ctx, const msgpack_object *args, void **out,
                           struct job_plan *plan, struct dashi_error *err)
{
    struct decode_params *p = calloc(1, sizeof *p);
    if (!p)
        return dashi_fail(err, DASHI_E_INTERNAL, "", "out of memory");
    *out = NULL;
    int64_t unused;
    void *anchors = NULL, *mask = NULL;
    if (params_only(decode_params, args, err) || params_parse(decode_params, ctx, args, p, plan, err) ||
        job_input_ref(ctx, args, "op", "mask_low", false, p->op_mask, &unused, plan, err))
        goto fail;
    if (resolve_encoding(ctx, args, p, plan, err))
        goto fail;
    /* Step bookkeeping: a rollout's states start at save_every, every save_every. */
    uint64_t rollout_every = 1, les_every = 1;
    if (p->states_job && save_every_of(ctx, p->states_job, &rollout_every, err))
        goto fail;
    if (p->truth_job && save_every_of(ctx, p->truth_job, &les_every, err))
        goto fail;
    if (param_u64_default(decode_params, "t0", args, p, p->states_job ? rollout_every : 0, err) ||
        param_u64_default(decode_params, "stride", args, p, p->states_job ? rollout_every : 1, err) ||
        param_u64_default(decode_params, "truth_every", args, p, les_every ? les_every : 1, err))
        goto fail;
    snprintf(plan->precision, sizeof plan->precision, "f64");
    snprintf(plan->mode, sizeof plan->mode, "%s", job_mode_names[p->mode]);
    plan->require_gpu = p->require_gpu;
    if (plan->ndeps > 0) { /* shapes are checked when the producing jobs have succeeded */
        *out = p;
        return 0;
    }
    /* Everything resolved: learn N, M, topk, D and check every shape. */
    bool have_op = p->op_job != 0;
    const char *ah = have_op ? p->op_anchors : p->anchors, *mh = have_op ? p->op_mask : p->mask;
    struct npy_info ai, mi;
    if (load_small(ctx, "anchors", ah, NPY_I8, "an i8 array", &ai, &anchors, err) ||
        load_small(ctx, "mask", mh, NPY_U1, "a u1 array", &mi, &mask, err))
        goto fail;
    if (mi.ndim != 2 || mi.shape[0] != mi.shape[1] || ai.ndim != 1) {
        dashi_fail(err, DASHI_E_BAD_VALUE, "mask", "mask must be N×N u1 and anchors a vector of i8");
        goto fail;
    }
    p->n = (uint32_t)mi.shape[0];
    p->topk = (uint32_t)ai.shape[0];
    for (uint64_t i = 0; i < mi.count; i++)
        p->M += ((uint8_t *)mask)[i] != 0;
    struct decode_config cfg = config_of(p, anchors, mask, 1);
    if (decode_config_validate(&cfg, err))
        goto fail;
    p->D = decode_dim(&cfg);
    if (check_inputs(ctx, p, err))
        goto fail;
    uint64_t frames = (p->F - 1) / p->every + 1 + ((p->F - 1) % p->every ? 1 : 0) + (p->z0[0] ? 1 : 0);
    if (frames > DECODE_MAX_FRAMES ||
        (p->observer == DECODE_OBSERVE_SNAPSHOTS && frames * p->n * p->n * 8 > DECODE_MAX_SNAPSHOT_BYTES)) {
        dashi_fail(err, DASHI_E_TOO_LARGE, "every", "%llu decoded frames are too many: raise every",
                   (unsigned long long)frames);
        goto fail;
    }
    cfg.max_batch = DECODE_MAX_BATCH; /* the estimate covers the largest batch */
    plan->mem_estimate = decode_gpu_memory_estimate(&cfg);
    /* Outputs (headers aside, as les): the decoded steps (i8 each) and, with snapshots,
     * every decoded field (N×N f8): what the disk quota and reserve hold the job to. */
    plan->disk_estimate = frames * 8 + (p->observer == DECODE_OBSERVE_SNAPSHOTS ? frames * p->n * p->n * 8 : 0);
    plan->total_steps = frames;
    job_plan_input(plan, "anchors", ah);
    job_plan_input(plan, "mask", mh);
    job_plan_input(plan, "states", p->states);
    job_plan_input(plan, "z0", p->z0);
    job_plan_input(plan, "truth", p->truth);
    free(anchors);
    free(mask);
    *out = p;
    return 0;
fail:
    free(anchors);
    free(mask);
    free(p);
    return -1;
}

static void decode_pack_params(const void *params, msgpack_packer *pk)
{
    params_pack(decode_params, params, pk); /* exactly what validate takes */
}

static void decode_free_params(void *params) { free(params); }

/* ---- execution (GPU thread) ---- */

struct decode_state {
    const struct decode_params *p;
    struct decode_gpu *engine;
    double *states, *z0, *truth;    /* whole inputs (truth: when it is not resident) */
    /* The truth left on the device by its LES (job_resident_acquire; released when the job
     * ends), and the frame of it each decoded frame of a batch is scored against. */
    const struct vk_buffer *truth_dev;
    uint64_t *tidx;
    uint64_t *order;                /* state index per decoded frame (UINT64_MAX: z0) */
    uint64_t nframes, next;
    uint32_t batch;
    double *zb, *tb;                /* one batch */
    uint64_t *tsteps;
    struct decode_result *res;
    struct io_stream *io;           /* omega_hat and the outputs are written there */
    struct blob_writer *snap;       /* omega_hat (snapshots): the I/O thread's */
    int64_t *steps_out;
    double gpu_ms, host_ms;
    bool gpu_timing;
    /* v4 table */
    double rel_first, rel_last, corr_first, corr_last, dE_last, dZ_last, dE_first, dZ_first;
    double rel_sum, corr_sum, dE_sum, dZ_sum, depth_sum;
    int depth_max, depth_last;
    bool corr_fell;          /* corr < 0.95 seen; corr_fell_step is the first such t */
    uint64_t corr_fell_step;
    struct decode_result last;
    struct closure_trace trace; /* of the last frame (mode dashi, with metrics) */
    bool have_trace;
};

static void state_free(struct decode_state *s)
{
    if (!s)
        return;
    io_close(s->io, s->snap, true);
    decode_gpu_destroy(s->engine);
    free(s->states), free(s->z0), free(s->truth), free(s->order), free(s->zb), free(s->tb), free(s->tidx);
    free(s->tsteps), free(s->res), free(s->steps_out);
    free(s);
}

static uint64_t step_of(const struct decode_params *p, uint64_t state_index)
{
    return state_index == UINT64_MAX ? 0 : p->t0 + state_index * p->stride;
}

static int decode_start(struct job_exec *ex, const void *params, void **out, struct dashi_error *err)
{
    const struct decode_params *p = params;
    struct decode_state *s = calloc(1, sizeof *s);
    if (!s)
        return dashi_fail(err, DASHI_E_INTERNAL, "", "out of memory");
    s->p = p;
    s->io = job_io(ex);
    s->gpu_timing = true;
    s->depth_max = -1;
    struct npy_info info;
    void *anchors = NULL, *mask = NULL;
    const char *ah = p->op_job ? p->op_anchors : p->anchors, *mh = p->op_job ? p->op_mask : p->mask;
    size_t nn = (size_t)p->n * p->n;
    if (p->truth[0]) {
        uint64_t shape[3] = {p->F_truth, p->n, p->n};
        s->truth_dev = job_resident_acquire(ex, "truth", p->truth, NPY_F8, 3, shape);
    }
    bool truth_host = p->truth[0] && !s->truth_dev;
    if (blobstore_load(job_blobs(ex), p->op_job ? "op" : "anchors", ah, &info, &anchors, err) ||
        blobstore_load(job_blobs(ex), p->op_job ? "op" : "mask", mh, &info, &mask, err) ||
        blobstore_load(job_blobs(ex), "states", p->states, &info, (void **)&s->states, err) ||
        (p->z0[0] && blobstore_load(job_blobs(ex), "z0", p->z0, &info, (void **)&s->z0, err)) ||
        (truth_host && blobstore_load(job_blobs(ex), "truth", p->truth, &info, (void **)&s->truth, err)))
        goto fail;
    /* The frames: z0 first, then every `every`-th state and the last one. */
    s->order = malloc((p->F + 2) * sizeof *s->order);
    if (!s->order) {
        dashi_fail(err, DASHI_E_INTERNAL, "", "out of memory");
        goto fail;
    }
    if (p->z0[0])
        s->order[s->nframes++] = UINT64_MAX;
    for (uint64_t i = 0; i < p->F; i++)
        if (i % p->every == 0 || i == p->F - 1)
            s->order[s->nframes++] = i;
    bool snapshots = p->observer == DECODE_OBSERVE_SNAPSHOTS;
    uint64_t per_frame = (uint64_t)p->D * 8 + (p->truth[0] ? nn * 8 : 0) + (snapshots ? nn * 8 : 0) +
                         (p->mode == JOB_MODE_REFERENCE ? 2 * nn * 16 : 0) + 1;
    uint64_t b = BATCH_BYTES / per_frame;
    s->batch = (uint32_t)(b < 1 ? 1 : b > DECODE_MAX_BATCH ? DECODE_MAX_BATCH : b);
    if (s->batch > s->nframes)
        s->batch = (uint32_t)s->nframes;
    struct decode_config cfg = config_of(p, anchors, mask, s->batch);
    s->zb = malloc((size_t)s->batch * p->D * 8);
    s->tb = truth_host ? malloc((size_t)s->batch * nn * 8) : NULL;
    s->tidx = s->truth_dev ? malloc(s->batch * sizeof *s->tidx) : NULL;
    s->tsteps = malloc(s->batch * sizeof *s->tsteps);
    s->res = calloc(s->batch, sizeof *s->res);
    s->steps_out = malloc(s->nframes * sizeof *s->steps_out);
    if (!s->zb || (truth_host && !s->tb) || (s->truth_dev && !s->tidx) || !s->tsteps || !s->res || !s->steps_out) {
        dashi_fail(err, DASHI_E_INTERNAL, "", "out of host memory");
        goto fail;
    }
    if (decode_gpu_create(job_vk(ex), job_fft(ex), &cfg, &s->engine, err))
        goto fail;
    if (s->truth_dev)
        decode_gpu_bind_truth(s->engine, s->truth_dev, p->F_truth);
    if (snapshots) {
        uint64_t shape[3] = {s->nframes, p->n, p->n};
        if (blob_writer_begin(job_blobs(ex), NPY_F8, 3, shape, &s->snap, err))
            goto fail;
    }
    free(anchors);
    free(mask);
    *out = s;
    return 0;
fail:
    free(anchors);
    free(mask);
    state_free(s);
    return -1;
}

static void report_frame(struct job_exec *ex, struct decode_state *s, uint64_t frame, uint64_t t,
                         const struct decode_result *r)
{
    bool truth = s->p->truth[0] != 0;
    job_emit_metric(ex, "energy", (int64_t)t, r->energy);
    job_emit_metric(ex, "enstrophy", (int64_t)t, r->enstrophy);
    job_emit_metric(ex, "closure_depth", (int64_t)t, r->closure_depth);
    s->depth_sum += r->closure_depth;
    s->depth_max = r->closure_depth > s->depth_max ? r->closure_depth : s->depth_max;
    s->depth_last = r->closure_depth;
    s->last = *r;
    if (!truth)
        return;
    double dE = r->energy - r->energy_truth, dZ = r->enstrophy - r->enstrophy_truth;
    job_emit_metric(ex, "rel_l2", (int64_t)t, r->rel_l2);
    job_emit_metric(ex, "corr", (int64_t)t, r->corr);
    job_emit_metric(ex, "dE", (int64_t)t, dE);
    job_emit_metric(ex, "dZ", (int64_t)t, dZ);
    if (frame == 0) {
        s->rel_first = r->rel_l2, s->corr_first = r->corr, s->dE_first = dE, s->dZ_first = dZ;
    }
    s->rel_last = r->rel_l2, s->corr_last = r->corr, s->dE_last = dE, s->dZ_last = dZ;
    if (!s->corr_fell && r->corr < 0.95) {
        s->corr_fell = true;
        s->corr_fell_step = t;
    }
    s->rel_sum += r->rel_l2, s->corr_sum += r->corr, s->dE_sum += dE, s->dZ_sum += dZ;
}

/* The annihilation trace of the last frame decoded: its s_0 from the GPU, closed on the host. */
static int trace_last_frame(struct decode_state *s, struct dashi_error *err)
{
    uint32_t n = (uint32_t)s->p->n;
    int8_t *s0 = malloc((size_t)n * n);
    if (!s0)
        return dashi_fail(err, DASHI_E_INTERNAL, "", "out of host memory");
    int rc = decode_gpu_read_initial_carrier(s->engine, s0, err);
    /* Past max_levels the GPU stopped counting; the host goes on to the fixed point. */
    if (rc == 0)
        rc = closure_trace_run(s0, n, CLOSURE_ETA, CARRIER_TRACE_MAX_LEVELS, &s->trace, err);
    free(s0);
    if (rc == 0 && s->depth_last <= (int)s->p->max_levels && s->trace.depth != s->depth_last)
        rc = dashi_fail(err, DASHI_E_INTERNAL, "", "the last frame's closure depth is %d on the GPU, %d on the host",
                        s->depth_last, s->trace.depth);
    s->have_trace = rc == 0;
    return rc;
}

static int decode_slice(struct job_exec *ex, void *state, bool *done, struct dashi_error *err)
{
    struct decode_state *s = state;
    const struct decode_params *p = s->p;
    size_t nn = (size_t)p->n * p->n;
    double budget_ms = job_slice_target_ms(ex), slice_start = monotonic_ms();
    enum decode_observer obs = (enum decode_observer)p->observer;
    while (s->next < s->nframes && monotonic_ms() - slice_start < budget_ms) {
        uint32_t nb = (uint32_t)(s->nframes - s->next < s->batch ? s->nframes - s->next : s->batch);
        for (uint32_t f = 0; f < nb; f++) {
            uint64_t idx = s->order[s->next + f];
            uint64_t t = step_of(p, idx);
            s->tsteps[f] = t;
            s->steps_out[s->next + f] = (int64_t)t;
            memcpy(s->zb + (size_t)f * p->D, idx == UINT64_MAX ? s->z0 : s->states + idx * p->D, p->D * 8);
            if (s->tb)
                memcpy(s->tb + f * nn, s->truth + (t / p->truth_every) * nn, nn * 8);
            if (s->tidx)
                s->tidx[f] = t / p->truth_every;
        }
        /* The snapshots go straight into a staging buffer for the I/O thread. */
        struct io_buf *buf = s->snap ? io_staging_get(s->io, (size_t)nb * nn * 8) : NULL;
        if (s->snap && !buf)
            break; /* waiting on I/O: the scheduler runs others until staging is freed */
        double gms = -1, t0 = monotonic_ms();
        double *fields = buf ? io_buf_data(buf) : NULL;
        int rc = s->tidx ? decode_gpu_run_bound(s->engine, nb, s->tsteps, s->zb, s->tidx, obs, s->res, fields, &gms, err)
                         : decode_gpu_run(s->engine, nb, s->tsteps, s->zb, s->tb, obs, s->res, fields, &gms, err);
        if (rc == 0 && buf)
            io_append(s->io, s->snap, io_buf_data(buf), (size_t)nb * nn * 8);
        if (buf)
            io_release(s->io, buf);
        if (rc)
            return -1;
        s->host_ms += monotonic_ms() - t0;
        if (gms >= 0)
            s->gpu_ms += gms;
        else
            s->gpu_timing = false;
        if (obs != DECODE_OBSERVE_NONE)
            for (uint32_t f = 0; f < nb; f++) {
                if ((s->truth || s->truth_dev) && !(isfinite(s->res[f].rel_l2) && isfinite(s->res[f].energy)))
                    return dashi_fail(err, DASHI_E_DIVERGED, "states", "the decoded field at step %llu is not finite",
                                      (unsigned long long)s->tsteps[f]);
                report_frame(ex, s, s->next + f, s->tsteps[f], &s->res[f]);
            }
        s->next += nb;
        if (s->next >= s->nframes && obs != DECODE_OBSERVE_NONE && p->mode == JOB_MODE_DASHI &&
            trace_last_frame(s, err) != 0)
            return -1;
        if (job_should_stop(ex))
            break;
    }
    job_emit_progress(ex, s->next, s->nframes);
    *done = s->next >= s->nframes;
    return 0;
}

static int decode_finish(struct job_exec *ex, void *state, struct dashi_error *err)
{
    struct decode_state *s = state;
    (void)err; /* nothing here fails: the outputs are written, and can fail, on the I/O thread */
    const struct decode_params *p = s->p;
    /* Published by the I/O thread (which frees steps_out); the end is recorded after them. */
    uint64_t shape[1] = {s->nframes};
    io_put(s->io, "steps", NPY_I8, 1, shape, s->steps_out);
    s->steps_out = NULL;
    if (s->snap)
        io_end(s->io, s->snap, "omega_hat");
    s->snap = NULL;
    double n = (double)s->nframes;
    job_emit_summary(ex, "decodes", n);
    double loop_ms = s->gpu_timing ? s->gpu_ms : s->host_ms;
    job_emit_summary(ex, "decodes_per_s", n / (loop_ms * 1e-3));
    job_emit_summary(ex, "ms_per_decode", loop_ms / n);
    job_emit_summary(ex, "gpu_timestamps", s->gpu_timing ? 1 : 0);
    if (p->observer == DECODE_OBSERVE_NONE)
        return 0;
    job_emit_summary(ex, "closure_depth", s->depth_last);
    job_emit_summary(ex, "closure_depth_mean", s->depth_sum / n);
    job_emit_summary(ex, "closure_depth_max", s->depth_max);
    job_emit_summary(ex, "closure_converged", s->depth_max <= (int)p->max_levels ? 1 : 0);
    for (uint32_t k = 0; k < s->last.nlevels; k++) {
        const struct closure_level *l = &s->last.level[k];
        job_emit_metric(ex, "closure.active", k, (double)l->active);
        job_emit_metric(ex, "closure.killed", k, (double)l->killed);
        job_emit_metric(ex, "closure.balance", k, (double)l->balance);
        job_emit_metric(ex, "closure.mean_abs", k, closure_level_mean_abs(l));
        job_emit_metric(ex, "closure.coherence", k, closure_level_coherence(l));
    }
    if (s->have_trace)
        job_emit_closure_trace(ex, &s->trace);
    if (!p->truth[0])
        return 0;
    job_emit_summary(ex, "relL2_0", s->rel_first);
    job_emit_summary(ex, "corr_0", s->corr_first);
    job_emit_summary(ex, "dE_0", s->dE_first);
    job_emit_summary(ex, "dZ_0", s->dZ_first);
    job_emit_summary(ex, "relL2_T", s->rel_last);
    job_emit_summary(ex, "corr_T", s->corr_last);
    job_emit_summary(ex, "dE_T", s->dE_last);
    job_emit_summary(ex, "dZ_T", s->dZ_last);
    job_emit_summary(ex, "relL2_mean", s->rel_sum / n);
    job_emit_summary(ex, "corr_mean", s->corr_sum / n);
    job_emit_summary(ex, "dE_mean", s->dE_sum / n);
    job_emit_summary(ex, "dZ_mean", s->dZ_sum / n);
    /* In steps; -1 when corr never fell below 0.95 (docs/protocol.md, the decode job). */
    job_emit_summary(ex, "time_to_corr_below_0.95", s->corr_fell ? (double)s->corr_fell_step : -1.0);
    return 0;
}

static void decode_destroy(void *state) { state_free(state); }

const struct job_kind job_kind_decode = {
    .name = "decode",
    .params = (const struct param_table *const[]){&decode_table, NULL},
    .validate = decode_validate,
    .pack_params = decode_pack_params,
    .free_params = decode_free_params,
    .start = decode_start,
    .slice = decode_slice,
    .finish = decode_finish,
    .destroy = decode_destroy,
};
