/* SPDX-License-Identifier: MIT */
/* The train job (docs/numerics.md "Encode and train"): encode a trajectory's frames into proxies on
 * the GPU (encode_gpu.c), fit the operator by ridge regression (ridge.c), and evaluate it honestly:
 * train.* metrics on the training span, eval.* on later frames of the same trajectory
 * and eval.trajK.* on other trajectories, all encoded with the training anchors.
 *
 * Several training trajectories (traj a list) give one operator fitted on all their
 * transitions, each trajectory's proxies paired within itself (never across a boundary),
 * all encoded with the first trajectory's anchors; train.trajK.* score the further ones
 * and train.pooled.* / eval.pooled.* the means over trajectories.
 *
 * Slices: 0 encode the first trajectory's training (and eval) frames, 1..n_traj−1 the
 * other training trajectories, n_traj fit and score the training spans, then one other
 * evaluation trajectory each. No checkpoints: a resumed train job starts over (it takes
 * seconds).
 *
 * Outputs: A (D×D f8), Z (T×D f8), z0 (D f8, the first training proxy: what a rollout
 * starts from), anchors (topk i8, ascending flat indices), mask_low (N×N u1), Z_trajK (the
 * further training trajectories' proxies), Z_eval
 * (same trajectory) and Z_eval_trajK (others) when asked. The encode configuration is
 * in the params (N, k_cut, mid_cut, topk, tau, smooth, mode), so rollout and decode
 * need nothing else. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "encode.h"
#include "job.h"
#include "job_params.h"
#include "monotonic.h"
#include "operator_class.h"
#include "ridge.h"
#include "train_eval.h"
#include "rollout_ref.h"

#define TRAIN_MAX_EVAL 4
#define TRAIN_MAX_TRAJ 4 /* with TRAIN_MAX_EVAL: JOB_MAX_INPUTS */
#define TRAIN_MAX_FRAMES 100000ull
#define RANGE_END UINT64_MAX

struct frame_range { uint64_t a, b; bool given; }; /* [a, b); b = RANGE_END: to the end */

/* The operator class (docs/numerics.md "Operator classes and stabilisation"). */
enum operator_kind { OPERATOR_FULL, OPERATOR_BANDED, OPERATOR_LOWRANK };
struct operator_class {
    enum operator_kind kind;
    uint32_t width; /* banded: K, the half-bandwidth; lowrank: R, the rank */
};

struct train_params {
    int n_traj; /* training trajectories; the first one's frames also give the anchors */
    char traj[TRAIN_MAX_TRAJ][DASHI_HASH_HEX + 1];
    int64_t traj_job[TRAIN_MAX_TRAJ];
    int n_eval;
    char eval_traj[TRAIN_MAX_EVAL][DASHI_HASH_HEX + 1];
    int64_t eval_job[TRAIN_MAX_EVAL];
    struct frame_range frames, eval_frames;
    double ridge;
    struct encode_params enc;
    uint64_t topk, rank;
    struct operator_class op;
    bool stabilize;
    enum job_mode mode;
    bool require_gpu;
    bool eval_decode;   /* decode the evaluation rollouts and score the fields (train_eval.h) */
    uint64_t n_given; /* N as given: packed by pack_params for readers; when present it must agree */
    /* known once the trajectory resolves */
    uint32_t n;
    uint64_t traj_frames[TRAIN_MAX_TRAJ];
    uint64_t eval_len[TRAIN_MAX_EVAL];
    struct job_common_params common; /* keep */
};

static struct encode_config config_of(const struct train_params *p)
{
    return (struct encode_config){.n = p->n, .k_cut = p->enc.k_cut, .mid_cut = p->enc.mid_cut,
                                  .topk = (uint32_t)p->topk, .tau = p->enc.tau, .smooth = (uint32_t)p->enc.smooth,
                                  .mode = p->mode == JOB_MODE_REFERENCE ? ENCODE_REFERENCE : ENCODE_DASHI};
}

/* "A:B", "A:" or ":B" (Python slice without step; no negatives). */
static int parse_range(const msgpack_object *args, const char *name, struct frame_range *r, struct dashi_error *err)
{
    char s[64];
    r->a = 0;
    r->b = RANGE_END;
    r->given = false;
    if (arg_str(args, name, false, "", s, sizeof s, err) != 0)
        return -1;
    if (!s[0])
        return 0;
    char *colon = strchr(s, ':');
    if (!colon)
        return dashi_fail(err, DASHI_E_BAD_VALUE, name, "%s must read A:B (frames A to B-1), got '%s'", name, s);
    *colon = 0;
    char *end;
    if (s[0]) {
        r->a = strtoull(s, &end, 10);
        if (*end || s[0] == '-')
            return dashi_fail(err, DASHI_E_BAD_VALUE, name, "%s: '%s' is not a frame index", name, s);
    }
    if (colon[1]) {
        r->b = strtoull(colon + 1, &end, 10);
        if (*end || colon[1] == '-')
            return dashi_fail(err, DASHI_E_BAD_VALUE, name, "%s: '%s' is not a frame index", name, colon + 1);
    }
    r->given = true;
    return 0;
}

static void pack_range(msgpack_packer *pk, const struct frame_range *r)
{
    if (!r->given) {
        msgpack_pack_nil(pk);
        return;
    }
    char s[48];
    if (r->b == RANGE_END)
        snprintf(s, sizeof s, "%llu:", (unsigned long long)r->a);
    else
        snprintf(s, sizeof s, "%llu:%llu", (unsigned long long)r->a, (unsigned long long)r->b);
    pk_str(pk, s);
}

/* The parse and pack of a frame-range argument named as its train_params field (frames,
 * eval_frames), written once: a PARAM_CUSTOM callback is not told which entry it serves. */
#define FRAME_RANGE_ARG(field)                                                                                    \
    static int parse_##field(const struct job_submit_ctx *ctx, const msgpack_object *args, void *p,              \
                             struct job_plan *plan, struct dashi_error *err)                                     \
    {                                                                                                             \
        (void)ctx, (void)plan;                                                                                    \
        return parse_range(args, #field, &((struct train_params *)p)->field, err);                                \
    }                                                                                                             \
    static void pack_##field(const void *p, msgpack_packer *pk)                                                   \
    {                                                                                                             \
        pack_range(pk, &((const struct train_params *)p)->field);                                                 \
    }
FRAME_RANGE_ARG(frames)
FRAME_RANGE_ARG(eval_frames)

/* A trajectory blob: F×N×N f8, finite, N even >= 8. */
static int check_traj(const struct job_submit_ctx *ctx, const char *field, const char *hash, uint64_t *frames,
                      uint64_t *n, struct dashi_error *err)
{
    static const char what[] = "a trajectory: an F×N×N float64 array with N even and >= 8";
    struct blob_meta m;
    const struct blob_want traj = {.dtype = NPY_F8, .ndims = 1u << 3, .finite = true};
    if (job_blob_check(ctx, field, hash, traj, what, &m, err))
        return -1;
    if (m.info.shape[1] != m.info.shape[2] || m.info.shape[1] < 8 || m.info.shape[1] % 2 != 0 ||
        m.info.shape[1] > 65536)
        return dashi_fail(err, DASHI_E_BAD_VALUE, field, "%s must be %s", field, what);
    if (m.info.shape[0] > TRAIN_MAX_FRAMES)
        return dashi_fail(err, DASHI_E_TOO_LARGE, field, "%s has more than %llu frames", field, TRAIN_MAX_FRAMES);
    *frames = m.info.shape[0];
    *n = m.info.shape[1];
    return 0;
}

/* A list of trajectories (traj, eval_traj): one hash or job id, an array of them, or a
 * comma-separated string. Each element is resolved through job_input_ref with a one-entry
 * map of its own. */
static int parse_traj_list(const struct job_submit_ctx *ctx, const msgpack_object *args, const char *name, int max,
                           char hashes[][DASHI_HASH_HEX + 1], int64_t *jobs, int *n_out, struct job_plan *plan,
                           struct dashi_error *err)
{
    *n_out = 0;
    const msgpack_object *v = args_find(args, name);
    if (!v || v->type == MSGPACK_OBJECT_NIL)
        return 0;
    msgpack_object items[TRAIN_MAX_TRAJ > TRAIN_MAX_EVAL ? TRAIN_MAX_TRAJ : TRAIN_MAX_EVAL];
    char texts[sizeof items / sizeof items[0]][DASHI_HASH_HEX + 24];
    int count = 0;
    if (v->type == MSGPACK_OBJECT_ARRAY) {
        if (v->via.array.size > (uint32_t)max) /* empty: none (traj's caller refuses that) */
            return dashi_fail(err, DASHI_E_BAD_VALUE, name, "%s: at most %d trajectories", name, max);
        for (uint32_t i = 0; i < v->via.array.size; i++)
            items[count++] = v->via.array.ptr[i];
    } else if (v->type == MSGPACK_OBJECT_STR) {
        const char *s = v->via.str.ptr, *end = s + v->via.str.size;
        while (s < end) {
            const char *comma = memchr(s, ',', (size_t)(end - s));
            size_t len = (size_t)((comma ? comma : end) - s);
            if (count == max || len == 0 || len >= sizeof texts[0])
                return dashi_fail(err, DASHI_E_BAD_VALUE, name, "%s: up to %d hashes or job ids separated by commas",
                                  name, max);
            memcpy(texts[count], s, len);
            texts[count][len] = 0;
            char *e;
            unsigned long long id = strtoull(texts[count], &e, 10);
            msgpack_object o = {0};
            if (len < 20 && !*e && texts[count][0] != '-') {
                o.type = MSGPACK_OBJECT_POSITIVE_INTEGER;
                o.via.u64 = id;
            } else {
                o.type = MSGPACK_OBJECT_STR;
                o.via.str.ptr = texts[count];
                o.via.str.size = (uint32_t)len;
            }
            items[count++] = o;
            s += len + (comma ? 1 : 0);
        }
    } else {
        items[count++] = *v;
    }
    for (int i = 0; i < count; i++) {
        msgpack_object_kv kv = {.key = {.type = MSGPACK_OBJECT_STR, .via.str = {(uint32_t)strlen(name), name}},
                                .val = items[i]};
        msgpack_object one = {.type = MSGPACK_OBJECT_MAP, .via.map = {1, &kv}};
        if (job_input_ref(ctx, &one, name, "trajectory", true, hashes[i], &jobs[i], plan, err))
            return -1;
    }
    *n_out = count;
    return 0;
}

static int resolve_eval(const struct job_submit_ctx *ctx, const msgpack_object *args, void *params,
                        struct job_plan *plan, struct dashi_error *err)
{
    struct train_params *p = params;
    return parse_traj_list(ctx, args, "eval_traj", TRAIN_MAX_EVAL, p->eval_traj, p->eval_job, &p->n_eval, plan, err);
}

static int resolve_traj(const struct job_submit_ctx *ctx, const msgpack_object *args, void *params,
                        struct job_plan *plan, struct dashi_error *err)
{
    struct train_params *p = params;
    if (parse_traj_list(ctx, args, "traj", TRAIN_MAX_TRAJ, p->traj, p->traj_job, &p->n_traj, plan, err) != 0)
        return -1;
    if (p->n_traj == 0)
        return dashi_fail(err, DASHI_E_MISSING_FIELD, "traj", "traj is required (a blob hash or a job id, or a list)");
    return 0;
}

/* One trajectory as one value (what a train of one trajectory always stored), several
 * as an array. */
static void pack_traj_ref(msgpack_packer *pk, const char *hash, int64_t job)
{
    if (job)
        msgpack_pack_int64(pk, job);
    else
        pk_str(pk, hash);
}

static void pack_traj(const void *params, msgpack_packer *pk)
{
    const struct train_params *p = params;
    if (p->n_traj > 1)
        msgpack_pack_array(pk, (size_t)p->n_traj);
    for (int i = 0; i < p->n_traj; i++)
        pack_traj_ref(pk, p->traj[i], p->traj_job[i]);
}

/* "full", "banded:K" or "lowrank:R"; lowrank is the rank-R truncated fit, so it must
 * agree with `rank` when that is given too (rank sits before operator in the table). */
static int parse_operator(const struct job_submit_ctx *ctx, const msgpack_object *args, void *params,
                          struct job_plan *plan, struct dashi_error *err)
{
    (void)ctx, (void)plan;
    struct train_params *p = params;
    char s[40];
    if (arg_str(args, "operator", false, "full", s, sizeof s, err) != 0)
        return -1;
    static const struct { const char *prefix; enum operator_kind kind; unsigned long long min; } classes[] = {
        {"banded:", OPERATOR_BANDED, 0}, {"lowrank:", OPERATOR_LOWRANK, 1}};
    p->op = (struct operator_class){OPERATOR_FULL, 0};
    if (strcmp(s, "full") != 0) {
        size_t i = 0, n = sizeof classes / sizeof classes[0];
        while (i < n && strncmp(s, classes[i].prefix, strlen(classes[i].prefix)) != 0)
            i++;
        if (i == n)
            return dashi_fail(err, DASHI_E_BAD_VALUE, "operator",
                              "operator must be full, banded:K or lowrank:R, got '%s'", s);
        const char *num = s + strlen(classes[i].prefix);
        char *end;
        unsigned long long w = strtoull(num, &end, 10);
        if (!num[0] || *end || num[0] == '-' || w < classes[i].min || w > 65535)
            return dashi_fail(err, DASHI_E_BAD_VALUE, "operator", "operator %s: '%s' must be an integer from %llu to 65535",
                              s, num, classes[i].min);
        p->op = (struct operator_class){classes[i].kind, (uint32_t)w};
    }
    bool lowrank = p->op.kind == OPERATOR_LOWRANK;
    if (p->op.kind != OPERATOR_FULL && p->rank && (!lowrank || p->rank != p->op.width))
        return dashi_fail(err, DASHI_E_BAD_VALUE, "operator", "operator %s and rank %llu disagree: give one of them", s,
                          (unsigned long long)p->rank);
    if (lowrank)
        p->rank = p->op.width;
    return 0;
}

static void pack_operator(const void *params, msgpack_packer *pk)
{
    const struct train_params *p = params;
    char s[40];
    if (p->op.kind == OPERATOR_FULL)
        snprintf(s, sizeof s, "full");
    else
        snprintf(s, sizeof s, "%s:%u", p->op.kind == OPERATOR_BANDED ? "banded" : "lowrank", p->op.width);
    pk_str(pk, s);
}

static void pack_eval_traj(const void *params, msgpack_packer *pk)
{
    const struct train_params *p = params;
    msgpack_pack_array(pk, (size_t)p->n_eval);
    for (int i = 0; i < p->n_eval; i++)
        pack_traj_ref(pk, p->eval_traj[i], p->eval_job[i]);
}

/* The grid size the encode configuration applies to (0 until the trajectory exists). */
static void pack_n(const void *params, msgpack_packer *pk)
{
    msgpack_pack_uint64(pk, ((const struct train_params *)params)->n);
}

#define P struct train_params
static const struct param_spec train_params[] = {
    PARAM_CUSTOM("traj", resolve_traj, pack_traj, "hashes or job ids",
                 "the training trajectories (F×N×N f8, N even >= 8, one N): one, an array or a comma-separated "
                 "string of up to 4; transitions are paired within each",
                 .flags = PARAM_REQUIRED | PARAM_REFERENCE),
    PARAM_CUSTOM("frames", parse_frames, pack_frames, "`\"A:B\"`", "training frames A to B-1 (of each trajectory)",
                 .default_doc = "all"),
    PARAM_CUSTOM("eval_frames", parse_eval_frames, pack_eval_frames, "`\"C:D\"`",
                 "held-out frames of the same trajectory"),
    PARAM_CUSTOM("eval_traj", resolve_eval, pack_eval_traj, "hashes or job ids",
                 "up to 4 other trajectories at the same N: one, an array, or a comma-separated string",
                 .flags = PARAM_REFERENCE),
    PARAM_F64("ridge", P, ridge, 1e-3, 0, HUGE_VAL, "ridge regularisation of the fit"),
    PARAM_GROUP(P, enc, encode_param_group),
    PARAM_U64("topk", P, topk, 128, 0, 1u << 24, "anchors: the largest residual cells kept"),
    PARAM_U64("rank", P, rank, 0, 0, 1u << 24, "rank of the fit (0: full); at most min(T, D)"),
    PARAM_CUSTOM("operator", parse_operator, pack_operator, "`full` \\| `banded:K` \\| `lowrank:R`",
                 "the operator class: A zero outside |i−j| <= K, or of rank R (as `rank`)", .default_doc = "`full`"),
    PARAM_BOOL("stabilize", P, stabilize, false, "move the eigenvalues of A outside the unit disc just inside it"),
    PARAM_ENUM("mode", P, mode, JOB_MODE_DASHI, job_mode_names, "the DASHI encoder or the plain reference"),
    PARAM_BOOL("require_gpu", P, require_gpu, false, "refuse to run on a CPU implementation of Vulkan"),
    PARAM_BOOL("eval_decode", P, eval_decode, true, "decode the evaluation rollouts and score the fields"),
    PARAM_U64("N", P, n_given, 0, 0, 65536, "the grid size: when given, the trajectory's; stored as known at submit",
              .pack = pack_n, .default_doc = "the trajectory's"),
    PARAM_GROUP(P, common, job_common_param_group),
    PARAM_END,
};
#undef P
static const struct param_table train_table = {"`train`", train_params};


#define OUTPUT_HEADER_BYTES 256 /* an output's .npy header as the blob store writes it, at most */

/* The end of a frame range over a trajectory of `frames` frames. */
static uint64_t range_end(const struct frame_range *r, uint64_t frames) { return r->b == RANGE_END ? frames : r->b; }

/* Training frames summed over the trajectories. */
static uint64_t training_frames(const struct train_params *p)
{
    uint64_t sum = 0;
    for (int k = 0; k < p->n_traj; k++)
        sum += range_end(&p->frames, p->traj_frames[k]) - p->frames.a;
    return sum;
}

/* File bytes of the outputs (disk quota): A (D×D), Z (frames×D), z0 (D), anchors (topk),
 * mask_low (N×N u1) and, when evaluated, Z_eval (a D-vector per evaluated frame, counted for
 * the eval span and every eval trajectory: an upper bound). */
static uint64_t train_disk_estimate(const struct train_params *p, uint64_t d, uint64_t frames)
{
    uint64_t eval_frames = 0;
    if (p->eval_frames.given)
        eval_frames += range_end(&p->eval_frames, p->traj_frames[0]) - p->eval_frames.a;
    for (int i = 0; i < p->n_eval; i++)
        eval_frames += p->eval_len[i];
    uint64_t f8 = d * d + frames * d + d + p->topk + eval_frames * d;
    return 8 * f8 + (uint64_t)p->n * p->n + 6 * OUTPUT_HEADER_BYTES;
}

/* The input name of training trajectory k: traj, traj2, traj3, ... (eval_traj1.. for the
 * evaluation ones): the store's inputs, the output Z_traj2.. and the metric prefix train.traj2. */
static void traj_name(int k, char *buf, size_t cap)
{
    if (k == 0)
        snprintf(buf, cap, "traj");
    else
        snprintf(buf, cap, "traj%d", k + 1);
}

/* The training trajectories: one N; `frames` and (on the first) `eval_frames` within each. */
static int check_training(const struct job_submit_ctx *ctx, struct train_params *p, uint64_t *n,
                          struct dashi_error *err)
{
    for (int k = 0; k < p->n_traj; k++) {
        uint64_t nk, F;
        if (check_traj(ctx, "traj", p->traj[k], &p->traj_frames[k], &nk, err) != 0)
            return -1;
        if (k > 0 && nk != *n)
            return dashi_fail(err, DASHI_E_BAD_VALUE, "traj", "traj %d has N = %llu, traj 1 N = %llu: one N for all",
                              k + 1, (unsigned long long)nk, (unsigned long long)*n);
        *n = nk;
        F = p->traj_frames[k];
        uint64_t fb = range_end(&p->frames, F);
        if (p->frames.a >= fb || fb > F || fb - p->frames.a < 2)
            return dashi_fail(err, DASHI_E_BAD_VALUE, "frames",
                              "frames must hold at least 2 of the %llu frames of traj %d", (unsigned long long)F, k + 1);
    }
    if (p->n_given && p->n_given != *n)
        return dashi_fail(err, DASHI_E_BAD_VALUE, "N", "N = %llu, but the trajectory has N = %llu",
                          (unsigned long long)p->n_given, (unsigned long long)*n);
    const struct frame_range *ev = &p->eval_frames;
    uint64_t eb = range_end(ev, p->traj_frames[0]);
    if (ev->given && (ev->a >= eb || eb > p->traj_frames[0] || eb - ev->a < 2))
        return dashi_fail(err, DASHI_E_BAD_VALUE, "eval_frames",
                          "eval_frames must hold at least 2 of the trajectory's %llu frames",
                          (unsigned long long)p->traj_frames[0]);
    return 0;
}

static int train_validate(const struct job_submit_ctx *ctx, const msgpack_object *args, void **out,
                          struct job_plan *plan, struct dashi_error *err)
{
    struct train_params *p = calloc(1, sizeof *p);
    if (!p)
        return dashi_fail(err, DASHI_E_INTERNAL, "", "out of memory");
    *out = NULL;
    if (params_only(train_params, args, err) || params_parse(train_params, ctx, args, p, plan, err))
        goto fail;
    plan->total_steps = (uint64_t)p->n_traj + 1 + (uint64_t)p->n_eval;
    snprintf(plan->precision, sizeof plan->precision, "f64");
    snprintf(plan->mode, sizeof plan->mode, "%s", job_mode_names[p->mode]);
    plan->require_gpu = p->require_gpu;
    if (plan->ndeps > 0) { /* shapes are checked once the producing jobs have succeeded */
        *out = p;
        return 0;
    }
    uint64_t n = 0;
    if (check_training(ctx, p, &n, err) != 0)
        goto fail;
    p->n = (uint32_t)n;
    for (int i = 0; i < p->n_eval; i++) {
        uint64_t en;
        if (check_traj(ctx, "eval_traj", p->eval_traj[i], &p->eval_len[i], &en, err) != 0)
            goto fail;
        if (en != n || p->eval_len[i] < 2) {
            dashi_fail(err, DASHI_E_BAD_VALUE, "eval_traj",
                       "eval_traj %d must be a trajectory of at least 2 frames at N = %llu", i + 1,
                       (unsigned long long)n);
            goto fail;
        }
    }
    struct encode_config cfg = config_of(p);
    struct encode_bands bands;
    if (encode_bands_make(&cfg, &bands, err) != 0)
        goto fail;
    uint32_t d = bands.d;
    uint64_t decoder_bytes = train_decoder_memory_estimate(&cfg, &bands);
    encode_bands_free(&bands);
    uint64_t t = training_frames(p) - (uint64_t)p->n_traj; /* transitions */
    if (p->op.kind == OPERATOR_BANDED && p->op.width >= d) {
        dashi_fail(err, DASHI_E_BAD_VALUE, "operator", "operator banded:%u: K must be below D = %u (K = D - 1 is full)",
                   p->op.width, d);
        goto fail;
    }
    if (p->op.kind == OPERATOR_LOWRANK && p->rank > (t < d ? t : d)) {
        dashi_fail(err, DASHI_E_BAD_VALUE, "operator", "operator lowrank:%u: R must be at most min(T, D) = %llu",
                   p->op.width, (unsigned long long)(t < d ? t : d));
        goto fail;
    }
    if (p->rank > (t < d ? t : d)) {
        dashi_fail(err, DASHI_E_BAD_VALUE, "rank", "rank must be 0 (full) or at most min(T, D) = %llu",
                   (unsigned long long)(t < d ? t : d));
        goto fail;
    }
    if ((uint64_t)d * d > (1ull << 28)) {
        dashi_fail(err, DASHI_E_TOO_LARGE, "k_cut", "the proxy dimension D = %u is too large to fit", d);
        goto fail;
    }
    plan->disk_estimate = train_disk_estimate(p, d, training_frames(p));
    plan->mem_estimate = encoder_memory_estimate(&cfg);
    if (p->eval_decode && (p->eval_frames.given || p->n_eval > 0))
        plan->mem_estimate += decoder_bytes;
    if (ctx->vk && plan->mem_estimate > ctx->vk->memory_budget) {
        dashi_fail(err, DASHI_E_DEVICE_MEMORY, "traj", "the encoder needs %.1f MiB, the budget is %.1f MiB",
                   plan->mem_estimate / 1048576.0, ctx->vk->memory_budget / 1048576.0);
        goto fail;
    }
    for (int k = 0; k < p->n_traj; k++) {
        char name[32];
        traj_name(k, name, sizeof name);
        job_plan_input(plan, name, p->traj[k]);
    }
    for (int i = 0; i < p->n_eval; i++) {
        char name[32];
        snprintf(name, sizeof name, "eval_traj%d", i + 1);
        job_plan_input(plan, name, p->eval_traj[i]);
    }
    *out = p;
    return 0;
fail:
    free(p);
    return -1;
}

static void train_pack_params(const void *params, msgpack_packer *pk)
{
    params_pack(train_params, params, pk);
}

static void train_free_params(void *params) { free(params); }

/* ---- execution (GPU thread) ---- */

/* Scores summed over several spans, reported as their means under PREFIX.pooled. A span
 * whose correlation never fell below 0.95 counts its length (a censored time). */
struct pooled {
    double proxy_error, corr, rel_l2, fell;
    int spans, decoded;
};

struct train_state {
    const struct train_params *p;
    struct encoder *enc;
    uint32_t d;         /* proxy size */
    uint32_t t[TRAIN_MAX_TRAJ]; /* training frames of each trajectory */
    int64_t *anchors;
    double *Z[TRAIN_MAX_TRAJ]; /* each trajectory's training proxies (t[k] × D) */
    double *Zeval, *A;
    double *eval_truth; /* the eval span's frames, kept from stage 0 for its decoded scores */
    uint64_t n_eval_frames;
    int stage;
    double encode_ms, encode_gpu_ms, fit_ms, eval_ms;
    bool gpu_timing;
    struct train_decoder *decoder; /* made at the first decoded evaluation */
    double *zhat;                  /* the rollout being scored (frames × D) */
    struct pooled train_pool, eval_pool; /* over the training trajectories; over eval_traj */
};

static void state_free(struct train_state *s)
{
    if (!s)
        return;
    encoder_destroy(s->enc);
    train_decoder_destroy(s->decoder);
    free(s->zhat);
    free(s->anchors);
    for (int k = 0; k < TRAIN_MAX_TRAJ; k++)
        free(s->Z[k]);
    free(s->Zeval);
    free(s->eval_truth);
    free(s->A);
    free(s);
}

static int train_start(struct job_exec *ex, const void *params, void **out, struct dashi_error *err)
{
    const struct train_params *p = params;
    struct train_state *s = calloc(1, sizeof *s);
    if (!s)
        return dashi_fail(err, DASHI_E_INTERNAL, "", "out of memory");
    s->p = p;
    s->gpu_timing = true;
    struct encode_config cfg = config_of(p);
    if (encoder_create(job_vk(ex), job_fft(ex), &cfg, &s->enc, err) != 0) {
        state_free(s);
        return -1;
    }
    s->d = encoder_bands(s->enc)->d;
    s->anchors = malloc(p->topk ? p->topk * sizeof(int64_t) : 1);
    if (!s->anchors) {
        state_free(s);
        return dashi_fail(err, DASHI_E_INTERNAL, "", "out of memory");
    }
    *out = s;
    return 0;
}

static int put_f8(struct job_exec *ex, const char *name, int ndim, const uint64_t *shape, const void *data,
                  enum npy_dtype dtype, struct dashi_error *err)
{
    struct blob_meta meta;
    if (blobstore_put_array(job_blobs(ex), dtype, ndim, shape, data, &meta, err) != 0)
        return -1;
    job_emit_output(ex, name, meta.hash);
    return 0;
}

/* Encodes frames [a, b) of a trajectory (in host memory or resident on the device). */
static int encode_span(struct train_state *s, struct encode_frames traj, uint64_t a, uint64_t b, double *z,
                       struct dashi_error *err)
{
    double gms = -1, t0 = monotonic_ms();
    if (encoder_run_from(s->enc, traj, a, b - a, s->anchors, z, &gms, err) != 0)
        return -1;
    s->encode_ms += monotonic_ms() - t0;
    if (gms >= 0)
        s->encode_gpu_ms += gms;
    else
        s->gpu_timing = false;
    return 0;
}

/* Training trajectory k: bound on the device when its producer left it resident (no
 * host round trip), else the blob loaded and verified (*loaded, freed by the caller). */
static int open_traj(struct job_exec *ex, const struct train_params *p, int k, struct encode_frames *traj,
                     double **loaded, struct dashi_error *err)
{
    uint64_t shape[3] = {p->traj_frames[k], p->n, p->n};
    char name[32];
    traj_name(k, name, sizeof name);
    *loaded = NULL;
    *traj = (struct encode_frames){.dev = job_resident_acquire(ex, name, p->traj[k], NPY_F8, 3, shape)};
    if (traj->dev)
        return 0;
    struct npy_info info;
    if (blobstore_load(job_blobs(ex), "traj", p->traj[k], &info, (void **)loaded, err) != 0)
        return -1;
    traj->host = *loaded;
    return 0;
}

/* Frames [a, b) of the trajectory into host memory (the truth decoded fields are scored on). */
static int copy_frames(struct job_exec *ex, struct encode_frames traj, uint64_t nn, uint64_t a, uint64_t b,
                       double *out, struct dashi_error *err)
{
    size_t bytes = (size_t)(b - a) * nn * sizeof(double);
    if (traj.dev)
        return vk_download(job_vk(ex), traj.dev, a * nn * sizeof(double), out, bytes, err);
    memcpy(out, traj.host + a * nn, bytes);
    return 0;
}

/* Stage 0: anchors from the first training frame, proxies of the training span (and of
 * the same trajectory's eval span), outputs Z, z0, anchors, mask_low, Z_eval. */
static int stage_encode(struct job_exec *ex, struct train_state *s, struct dashi_error *err)
{
    const struct train_params *p = s->p;
    struct encode_frames traj;
    double *loaded;
    if (open_traj(ex, p, 0, &traj, &loaded, err) != 0)
        return -1;
    uint64_t F = p->traj_frames[0], nn = (uint64_t)p->n * p->n;
    uint64_t a = p->frames.a, b = range_end(&p->frames, F);
    s->t[0] = (uint32_t)(b - a);
    s->Z[0] = malloc((size_t)s->t[0] * s->d * sizeof(double));
    int rc = -1;
    if (!s->Z[0]) {
        dashi_fail(err, DASHI_E_INTERNAL, "", "out of memory");
        goto out;
    }
    double t0 = monotonic_ms();
    if (encoder_select_anchors_from(s->enc, traj, a, s->anchors, err) != 0)
        goto out;
    s->encode_ms += monotonic_ms() - t0;
    if (encode_span(s, traj, a, b, s->Z[0], err) != 0)
        goto out;
    if (p->eval_frames.given) {
        uint64_t ea = p->eval_frames.a, eb = range_end(&p->eval_frames, F);
        s->n_eval_frames = eb - ea;
        s->Zeval = malloc((size_t)s->n_eval_frames * s->d * sizeof(double));
        if (!s->Zeval) {
            dashi_fail(err, DASHI_E_INTERNAL, "", "out of memory");
            goto out;
        }
        if (encode_span(s, traj, ea, eb, s->Zeval, err) != 0)
            goto out;
        if (p->eval_decode) {
            s->eval_truth = malloc((size_t)s->n_eval_frames * nn * sizeof(double));
            if (!s->eval_truth) {
                dashi_fail(err, DASHI_E_INTERNAL, "", "out of memory");
                goto out;
            }
            if (copy_frames(ex, traj, nn, ea, eb, s->eval_truth, err) != 0)
                goto out;
        }
    }
    uint64_t zshape[2] = {s->t[0], s->d}, dshape[1] = {s->d}, kshape[1] = {p->topk}, mshape[2] = {p->n, p->n};
    uint8_t *mask = malloc(nn);
    if (!mask) {
        dashi_fail(err, DASHI_E_INTERNAL, "", "out of memory");
        goto out;
    }
    encode_mask_low(encoder_bands(s->enc), mask);
    rc = put_f8(ex, "Z", 2, zshape, s->Z[0], NPY_F8, err) || put_f8(ex, "z0", 1, dshape, s->Z[0], NPY_F8, err) ||
                 put_f8(ex, "anchors", 1, kshape, s->anchors, NPY_I8, err) ||
                 put_f8(ex, "mask_low", 2, mshape, mask, NPY_U1, err)
             ? -1 : 0;
    free(mask);
    if (rc == 0 && s->Zeval) {
        uint64_t eshape[2] = {s->n_eval_frames, s->d};
        rc = put_f8(ex, "Z_eval", 2, eshape, s->Zeval, NPY_F8, err);
    }
out:
    job_resident_release(ex, traj.dev);
    free(loaded);
    return rc;
}

/* Stage k (1 <= k < n_traj): training trajectory k's proxies, with the anchors of the first
 * (one proxy space for the one operator), output Z_traj<k+1>. */
static int stage_encode_more(struct job_exec *ex, struct train_state *s, int k, struct dashi_error *err)
{
    const struct train_params *p = s->p;
    struct encode_frames traj;
    double *loaded;
    if (open_traj(ex, p, k, &traj, &loaded, err) != 0)
        return -1;
    uint64_t a = p->frames.a, b = range_end(&p->frames, p->traj_frames[k]);
    s->t[k] = (uint32_t)(b - a);
    s->Z[k] = malloc((size_t)s->t[k] * s->d * sizeof(double));
    int rc = -1;
    if (!s->Z[k])
        dashi_fail(err, DASHI_E_INTERNAL, "", "out of memory");
    else if (encode_span(s, traj, a, b, s->Z[k], err) == 0) {
        char name[32];
        snprintf(name, sizeof name, "Z_traj%d", k + 1);
        uint64_t zshape[2] = {s->t[k], s->d};
        rc = put_f8(ex, name, 2, zshape, s->Z[k], NPY_F8, err);
    }
    job_resident_release(ex, traj.dev);
    free(loaded);
    return rc;
}

/* Rolls A from z[0] over `count` proxies and reports ‖ẑ_t − z_t‖/‖z_t‖ per step t >= 1
 * under `prefix`.proxy_error, with summaries of its mean and last value. When zhat is not
 * NULL it receives ẑ_0..ẑ_{count-1} (count × D); *diverged (if not NULL) the first step
 * whose state is not finite, 0 when none. */
static int score_rollout(struct job_exec *ex, const struct train_state *s, const char *prefix, const double *z,
                         uint64_t count, double *zhat, uint64_t *diverged_out, struct pooled *pool,
                         struct dashi_error *err)
{
    uint32_t d = s->d;
    double *cur = malloc(2 * (size_t)d * sizeof *cur);
    if (!cur)
        return dashi_fail(err, DASHI_E_INTERNAL, "", "out of memory");
    double *next = cur + d;
    memcpy(cur, z, d * sizeof *cur);
    if (zhat)
        memcpy(zhat, z, d * sizeof *zhat);
    char key[64];
    snprintf(key, sizeof key, "%s.proxy_error", prefix);
    double sum = 0, last = 0;
    uint64_t diverged = 0;
    for (uint64_t t = 1; t < count; t++) {
        rollout_ref_step_f64(s->A, cur, next, d, 1);
        memcpy(cur, next, d * sizeof *cur);
        if (zhat)
            memcpy(zhat + t * d, cur, d * sizeof *zhat);
        double num = 0, den = 0;
        const double *truth = z + t * d;
        for (uint32_t i = 0; i < d; i++) {
            num += (cur[i] - truth[i]) * (cur[i] - truth[i]);
            den += truth[i] * truth[i];
        }
        last = sqrt(num) / (sqrt(den) + 1e-300);
        if (!isfinite(last)) {
            diverged = t;
            break;
        }
        sum += last;
        job_emit_metric(ex, key, (int64_t)t, last);
    }
    free(cur);
    if (diverged_out)
        *diverged_out = diverged;
    snprintf(key, sizeof key, "%s.proxy_error_final", prefix);
    job_emit_summary(ex, key, diverged ? INFINITY : last);
    snprintf(key, sizeof key, "%s.proxy_error_mean", prefix);
    double mean = diverged ? INFINITY : sum / (double)(count - 1);
    job_emit_summary(ex, key, mean);
    if (pool) {
        pool->proxy_error += mean;
        pool->spans++;
    }
    snprintf(key, sizeof key, "%s.steps", prefix);
    job_emit_summary(ex, key, (double)(count - 1));
    if (diverged) {
        snprintf(key, sizeof key, "%s.diverged_step", prefix);
        job_emit_summary(ex, key, (double)diverged);
    }
    return 0;
}

/* An evaluation span: its proxy error and, unless eval_decode is off or the rollout
 * diverged, the decoded fields against the span's frames (truth, count × N × N). */
static int score_eval_span(struct job_exec *ex, struct train_state *s, const char *prefix, const double *z,
                           uint64_t count, const double *truth, struct pooled *pool, struct dashi_error *err)
{
    if (!s->p->eval_decode)
        return score_rollout(ex, s, prefix, z, count, NULL, NULL, pool, err);
    free(s->zhat);
    s->zhat = malloc((size_t)count * s->d * sizeof *s->zhat);
    if (!s->zhat)
        return dashi_fail(err, DASHI_E_INTERNAL, "", "out of host memory");
    uint64_t diverged = 0;
    if (score_rollout(ex, s, prefix, z, count, s->zhat, &diverged, pool, err) != 0)
        return -1;
    if (diverged)
        return 0; /* nothing finite to decode; the proxy summaries say where it diverged */
    if (!s->decoder) {
        struct encode_config cfg = config_of(s->p);
        if (train_decoder_create(ex, &cfg, encoder_bands(s->enc), s->anchors, &s->decoder, err) != 0)
            return -1;
    }
    struct train_decode_means m;
    if (train_decode_score(ex, s->decoder, prefix, s->zhat, truth, count, &m, err) != 0)
        return -1;
    if (pool) {
        pool->corr += m.corr_mean;
        pool->rel_l2 += m.rel_l2_mean;
        pool->fell += m.time_to_corr >= 0 ? (double)m.time_to_corr : (double)count;
        pool->decoded++;
    }
    return 0;
}

static void emit_pooled(struct job_exec *ex, const char *prefix, const struct pooled *pool)
{
    char key[64];
    snprintf(key, sizeof key, "%s.pooled.spans", prefix);
    job_emit_summary(ex, key, pool->spans);
    snprintf(key, sizeof key, "%s.pooled.proxy_error_mean", prefix);
    job_emit_summary(ex, key, pool->proxy_error / pool->spans);
    if (!pool->decoded)
        return;
    snprintf(key, sizeof key, "%s.pooled.corr_mean", prefix);
    job_emit_summary(ex, key, pool->corr / pool->decoded);
    snprintf(key, sizeof key, "%s.pooled.rel_l2_mean", prefix);
    job_emit_summary(ex, key, pool->rel_l2 / pool->decoded);
    snprintf(key, sizeof key, "%s.pooled.time_to_corr_below_0.95", prefix);
    job_emit_summary(ex, key, pool->fell / pool->decoded);
}

/* The transitions of every training trajectory, each paired within itself: X holds
 * z_0..z_{T_k−2} and Y z_1..z_{T_k−1} of each k, stacked. One trajectory needs no copy
 * (X = Z, Y = Z + D: the fit as it always was). *T: the transitions. */
static int stack_transitions(struct train_state *s, const double **X, const double **Y, double **owned, uint32_t *T,
                             struct dashi_error *err)
{
    int n = s->p->n_traj;
    size_t d = s->d, rows = 0;
    for (int k = 0; k < n; k++)
        rows += s->t[k] - 1;
    *T = (uint32_t)rows;
    *owned = NULL;
    if (n == 1) {
        *X = s->Z[0];
        *Y = s->Z[0] + d;
        return 0;
    }
    double *buf = malloc(2 * rows * d * sizeof *buf);
    if (!buf)
        return dashi_fail(err, DASHI_E_INTERNAL, "", "out of memory");
    double *x = buf, *y = buf + rows * d;
    for (int k = 0; k < n; k++) {
        size_t len = (s->t[k] - 1) * d;
        memcpy(x, s->Z[k], len * sizeof *x);
        memcpy(y, s->Z[k] + d, len * sizeof *y);
        x += len, y += len;
    }
    *X = buf, *Y = buf + rows * d;
    *owned = buf;
    return 0;
}

/* The operator of the class asked for: ridge.h's fit (full, or lowrank as its rank), whose
 * report also gives the conditioning of XᵀX + λI; a banded class then replaces A and the
 * numbers that depend on it. */
static int fit_operator(struct job_exec *ex, struct train_state *s, const double *X, const double *Y, uint32_t T,
                        struct ridge_report *rep, struct dashi_error *err)
{
    const struct train_params *p = s->p;
    /* The fit's products on a real GPU; on lavapipe the host's BLAS is faster. */
    struct vk_runtime *vk = job_vk(ex)->is_cpu ? NULL : job_vk(ex);
    if (ridge_fit(X, Y, T, s->d, p->ridge, (uint32_t)p->rank, vk, s->A, rep, err) != 0)
        return -1;
    if (p->op.kind != OPERATOR_BANDED)
        return 0;
    if (operator_fit_banded(X, Y, T, s->d, p->ridge, p->op.width, s->A, err) != 0 ||
        operator_fit_residual(X, Y, T, s->d, s->A, &rep->fit_residual, err) != 0 ||
        operator_spectral_radius(s->A, s->d, &rep->spectral_radius, err) != 0)
        return -1;
    rep->unstable = rep->spectral_radius > 1.0;
    return 0;
}

/* stabilize: A's eigenvalues outside the unit disc moved inside it, the change reported. */
static int stabilize_operator(struct job_exec *ex, struct train_state *s, struct ridge_report *rep,
                              struct dashi_error *err)
{
    struct operator_stabilize_report st;
    if (operator_stabilize(s->A, s->d, &st, err) != 0)
        return -1;
    job_emit_summary(ex, "train.spectral_radius_unstabilized", st.radius_before);
    job_emit_summary(ex, "train.stabilize_moved", st.moved);
    job_emit_summary(ex, "train.stabilize_rel_change", st.rel_change);
    rep->spectral_radius = st.radius_after;
    rep->unstable = st.radius_after > 1.0;
    return 0;
}

/* Stage n_traj: the fit, its diagnostics, train.* (train.trajK.* for the further training
 * trajectories) and the same-trajectory eval.* scores. */
static int stage_fit(struct job_exec *ex, struct train_state *s, struct dashi_error *err)
{
    const struct train_params *p = s->p;
    uint32_t d = s->d, T;
    s->A = malloc((size_t)d * d * sizeof(double));
    if (!s->A)
        return dashi_fail(err, DASHI_E_INTERNAL, "", "out of memory");
    const double *X = NULL, *Y = NULL;
    double *owned;
    if (stack_transitions(s, &X, &Y, &owned, &T, err) != 0)
        return -1;
    struct ridge_report rep;
    double t0 = monotonic_ms();
    int rc = fit_operator(ex, s, X, Y, T, &rep, err);
    free(owned);
    if (rc != 0 || (p->stabilize && stabilize_operator(ex, s, &rep, err) != 0))
        return -1;
    s->fit_ms = monotonic_ms() - t0;
    uint64_t ashape[2] = {d, d};
    if (put_f8(ex, "A", 2, ashape, s->A, NPY_F8, err) != 0)
        return -1;
    job_emit_summary(ex, "D", d);
    job_emit_summary(ex, "M", encoder_bands(s->enc)->m);
    job_emit_summary(ex, "train.frames", s->t[0]);
    if (p->n_traj > 1) {
        job_emit_summary(ex, "train.trajectories", p->n_traj);
        job_emit_summary(ex, "train.transitions", T);
    }
    job_emit_summary(ex, "train.fit_residual", rep.fit_residual);
    job_emit_summary(ex, "train.cond", rep.cond);
    job_emit_summary(ex, "train.sigma_max", rep.sigma_max);
    job_emit_summary(ex, "train.sigma_min", rep.sigma_min);
    job_emit_summary(ex, "train.numerical_rank", rep.numerical_rank);
    job_emit_summary(ex, "rank", rep.rank_used);
    job_emit_summary(ex, "train.spectral_radius", rep.spectral_radius);
    job_emit_summary(ex, "train.unstable", rep.unstable ? 1 : 0);
    job_emit_summary(ex, "solve_ms", rep.solve_ms);
    job_emit_summary(ex, "diag_ms", rep.diag_ms);
    job_emit_summary(ex, "fit_on_gpu", rep.on_gpu ? 1 : 0);
    if (rep.gpu_ms >= 0)
        job_emit_summary(ex, "fit_gpu_ms", rep.gpu_ms);
    job_emit_summary(ex, "train.support_frac_first", s->Z[0][2 * encoder_bands(s->enc)->m]);
    t0 = monotonic_ms();
    struct pooled *pool = p->n_traj > 1 ? &s->train_pool : NULL;
    for (int k = 0; k < p->n_traj; k++) {
        char prefix[32];
        snprintf(prefix, sizeof prefix, k ? "train.traj%d" : "train", k + 1);
        if (score_rollout(ex, s, prefix, s->Z[k], s->t[k], NULL, NULL, pool, err) != 0)
            return -1;
    }
    if (s->Zeval && score_eval_span(ex, s, "eval", s->Zeval, s->n_eval_frames, s->eval_truth, NULL, err) != 0)
        return -1;
    s->eval_ms += monotonic_ms() - t0;
    return 0;
}

/* Stage 2 + i: another trajectory, all its frames, with the training anchors. */
static int stage_eval_traj(struct job_exec *ex, struct train_state *s, int i, struct dashi_error *err)
{
    const struct train_params *p = s->p;
    struct npy_info info;
    double *traj = NULL;
    if (blobstore_load(job_blobs(ex), "eval_traj", p->eval_traj[i], &info, (void **)&traj, err) != 0)
        return -1;
    uint64_t F = info.shape[0];
    double *z = malloc((size_t)F * s->d * sizeof *z);
    int rc = -1;
    if (!z) {
        dashi_fail(err, DASHI_E_INTERNAL, "", "out of memory");
        goto out;
    }
    if (encode_span(s, (struct encode_frames){.host = traj}, 0, F, z, err) != 0)
        goto out;
    char name[32];
    snprintf(name, sizeof name, "Z_eval_traj%d", i + 1);
    uint64_t shape[2] = {F, s->d};
    if (put_f8(ex, name, 2, shape, z, NPY_F8, err) != 0)
        goto out;
    snprintf(name, sizeof name, "eval.traj%d", i + 1);
    double t0 = monotonic_ms();
    rc = score_eval_span(ex, s, name, z, F, traj, &s->eval_pool, err);
    s->eval_ms += monotonic_ms() - t0;
out:
    free(traj);
    free(z);
    return rc;
}

static int train_slice(struct job_exec *ex, void *state, bool *done, struct dashi_error *err)
{
    struct train_state *s = state;
    int rc, fit = s->p->n_traj, total = fit + 1 + s->p->n_eval;
    if (s->stage == 0)
        rc = stage_encode(ex, s, err);
    else if (s->stage < fit)
        rc = stage_encode_more(ex, s, s->stage, err);
    else if (s->stage == fit)
        rc = stage_fit(ex, s, err);
    else
        rc = stage_eval_traj(ex, s, s->stage - fit - 1, err);
    if (rc != 0)
        return -1;
    s->stage++;
    job_emit_progress(ex, (uint64_t)s->stage, (uint64_t)total);
    *done = s->stage >= total;
    return 0;
}

static int train_finish(struct job_exec *ex, void *state, struct dashi_error *err)
{
    (void)err;
    struct train_state *s = state;
    job_emit_summary(ex, "encode_ms", s->encode_ms);
    if (s->gpu_timing)
        job_emit_summary(ex, "encode_gpu_ms", s->encode_gpu_ms);
    job_emit_summary(ex, "fit_ms", s->fit_ms);
    job_emit_summary(ex, "eval_ms", s->eval_ms);
    if (s->train_pool.spans)
        emit_pooled(ex, "train", &s->train_pool);
    if (s->eval_pool.spans)
        emit_pooled(ex, "eval", &s->eval_pool);
    return 0;
}

static void train_destroy(void *state) { state_free(state); }

const struct job_kind job_kind_train = {
    .name = "train",
    .params = (const struct param_table *const[]){&train_table, NULL},
    .validate = train_validate,
    .pack_params = train_pack_params,
    .free_params = train_free_params,
    .start = train_start,
    .slice = train_slice,
    .finish = train_finish,
    .destroy = train_destroy,
};
