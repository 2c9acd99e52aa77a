/* SPDX-License-Identifier: MIT */
/* The rollout job (docs/numerics.md "Rollout"): z_{t+1} = z_t · A for `steps` steps from z0 (one
 * state or a batch), hashing states every `hash_every` steps and optionally saving them. The
 * numerics live in rollout_gpu.c; this file is validation, slicing and reporting. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "io_worker.h"
#include "job.h"
#include "job_params.h"
#include "monotonic.h"
#include "rollout_gpu.h"
#include "zhash.h"

#define ROLLOUT_MAX_STEPS 1000000000ull
#define ROLLOUT_MAX_BATCH 65536
#define ROLLOUT_MAX_HASHES 10000000ull
#define ROLLOUT_MAX_SAVED_BYTES (8ull << 30)
#define RECORD_BYTES (64ull << 20) /* host bytes for the recorded states of one run */

struct rollout_params {
    char op[DASHI_HASH_HEX + 1], z0[DASHI_HASH_HEX + 1], truth[DASHI_HASH_HEX + 1];
    int64_t op_job, z0_job; /* producing jobs: a train job's "A"; its "z0" or a rollout's "z_final" */
    uint64_t steps, hash_every, save_every;
    enum job_precision precision;
    enum rollout_mode mode;
    bool require_gpu;
    uint32_t D, B;
    bool batched; /* z0 was B×D rather than D */
    int split;    /* SPLIT_AUTO: its trajectories may run in parts on idle devices (sched_split.h) */
    struct job_common_params common; /* keep */
};

static const char *const modes[] = {"exact", "fast", NULL}; /* enum rollout_mode */
enum { SPLIT_AUTO, SPLIT_OFF };
static const char *const split_names[] = {"auto", "off", NULL};

#define P struct rollout_params
static const struct param_spec rollout_params[] = {
    PARAM_INPUT("op", P, op, op_job, "A", "the operator: a D×D f8 array (1 <= D <= 65536)", .flags = PARAM_REQUIRED),
    PARAM_INPUT("z0", P, z0, z0_job, "z0,z_final", "the initial state: D or B×D f8 (B <= 65536)",
                .flags = PARAM_REQUIRED),
    PARAM_HASH("truth", P, truth, "optional, shaped like z0: adds the summary proxy_error_final"),
    PARAM_U64("steps", P, steps, 0, 1, ROLLOUT_MAX_STEPS, "steps to take", .flags = PARAM_REQUIRED),
    PARAM_U64("hash_every", P, hash_every, 1, 0, UINT64_MAX, "steps between hashed states (0: none); at most steps"),
    PARAM_U64("save_every", P, save_every, 0, 0, UINT64_MAX, "steps between saved states (0: none); at most steps"),
    PARAM_ENUM("precision", P, precision, JOB_F64, job_precision_names, "arithmetic of the products"),
    PARAM_ENUM("mode", P, mode, ROLLOUT_EXACT, modes, "`exact`: step by step; `fast`: batched where it pays"),
    PARAM_BOOL("require_gpu", P, require_gpu, false, "refuse to run on a CPU implementation of Vulkan"),
    PARAM_ENUM("split", P, split, SPLIT_AUTO, split_names,
               "`auto`: a batch (B >= 2, save_every 0) may run its trajectories in parts on idle devices; `off`: "
               "on one device"),
    PARAM_GROUP(P, common, job_common_param_group),
    PARAM_END,
};
#undef P
static const struct param_table rollout_table = {"`rollout`", rollout_params};

static uint64_t gcd_u64(uint64_t a, uint64_t b)
{
    while (b) {
        uint64_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

/* Steps between recorded states: every hashed and every saved step (0: none). */
static uint64_t record_every_of(const struct rollout_params *p)
{
    if (p->hash_every && p->save_every)
        return gcd_u64(p->hash_every, p->save_every);
    return p->hash_every ? p->hash_every : p->save_every;
}

/* Runs are sized by time (rollout_slice); their longest is no longer than the job and
 * keeps one run's recorded states within RECORD_BYTES on the host. The buffers for a run
 * (host records, readback, the persistent kernel's ring) are sized by that longest run,
 * so a short job does not reserve room for 16,384 steps. */
static struct rollout_config config_of(const struct rollout_params *p, uint32_t B)
{
    uint64_t most = ROLLOUT_MAX_RUN, every = record_every_of(p);
    if (p->steps < most)
        most = p->steps;
    if (every) {
        uint64_t states = RECORD_BYTES / ((uint64_t)B * p->D * sizeof(double)); /* per run, at most */
        uint64_t fit = states > 1 ? (states - 1) * every : every;
        if (fit < most)
            most = fit;
    }
    return (struct rollout_config){.D = p->D, .B = B,
                                   .precision = p->precision == JOB_F32 ? ROLLOUT_F32 : ROLLOUT_F64,
                                   .mode = p->mode,
                                   .max_steps_per_run = (uint32_t)most,
                                   .expected_steps = p->steps};
}

static int rollout_validate(const struct job_submit_ctx *ctx, const msgpack_object *args, void **out,
                            struct job_plan *plan, struct dashi_error *err)
{
    struct rollout_params *p = calloc(1, sizeof *p);
    if (!p)
        return dashi_fail(err, DASHI_E_INTERNAL, "", "out of memory");
    *out = NULL;
    struct blob_meta a, z, t;
    const struct blob_want f8 = {.dtype = NPY_F8, .finite = true};
    if (params_only(rollout_params, args, err) || params_parse(rollout_params, ctx, args, p, plan, err))
        goto fail;
    plan->total_steps = p->steps;
    snprintf(plan->precision, sizeof plan->precision, "%s", job_precision_names[p->precision]);
    snprintf(plan->mode, sizeof plan->mode, "%s", modes[p->mode]);
    plan->require_gpu = p->require_gpu;
    if (plan->ndeps > 0) { /* shapes are checked when the producing jobs have succeeded */
        *out = p;
        return 0;
    }
    if (job_blob_check(ctx, "op", p->op, f8, "a float64 array", &a, err) ||
        job_blob_check(ctx, "z0", p->z0, f8, "a float64 array", &z, err))
        goto fail;
    if (a.info.ndim != 2 || a.info.shape[0] != a.info.shape[1] || a.info.shape[0] == 0 || a.info.shape[0] > 65536) {
        dashi_fail(err, DASHI_E_BAD_VALUE, "op", "op must be a square D×D array with 1 <= D <= 65536");
        goto fail;
    }
    p->D = (uint32_t)a.info.shape[0];
    if (z.info.ndim == 1 && z.info.shape[0] == p->D) {
        p->B = 1;
    } else if (z.info.ndim == 2 && z.info.shape[1] == p->D && z.info.shape[0] >= 1 &&
               z.info.shape[0] <= ROLLOUT_MAX_BATCH) {
        p->B = (uint32_t)z.info.shape[0];
        p->batched = true;
    } else {
        dashi_fail(err, DASHI_E_BAD_VALUE, "z0",
                   "z0 must have shape (D,) or (B, D) with D = %u (the operator's size) and B <= %d", p->D,
                   ROLLOUT_MAX_BATCH);
        goto fail;
    }
    if (p->truth[0]) {
        if (job_blob_check(ctx, "truth", p->truth, f8, "a float64 array", &t, err))
            goto fail;
        if (t.info.count != (uint64_t)p->B * p->D) {
            dashi_fail(err, DASHI_E_BAD_VALUE, "truth", "truth must have the shape of z0");
            goto fail;
        }
    }
    if (p->hash_every > p->steps) {
        dashi_fail(err, DASHI_E_BAD_VALUE, "hash_every", "hash_every must be between 0 (no hashes) and steps (%llu)",
                   (unsigned long long)p->steps);
        goto fail;
    }
    if (p->hash_every && (p->steps / p->hash_every) * p->B > ROLLOUT_MAX_HASHES) {
        dashi_fail(err, DASHI_E_BAD_VALUE, "hash_every",
                   "hash_every = %llu would store %llu hashes; at most %llu: raise hash_every",
                   (unsigned long long)p->hash_every, (unsigned long long)((p->steps / p->hash_every) * p->B),
                   ROLLOUT_MAX_HASHES);
        goto fail;
    }
    if (p->save_every > p->steps) {
        dashi_fail(err, DASHI_E_BAD_VALUE, "save_every", "save_every must be between 0 (no saved states) and steps");
        goto fail;
    }
    if (p->save_every && (p->steps / p->save_every) * p->B * p->D * 8 > ROLLOUT_MAX_SAVED_BYTES) {
        dashi_fail(err, DASHI_E_TOO_LARGE, "save_every", "the saved states would exceed %llu GiB: raise save_every",
                   ROLLOUT_MAX_SAVED_BYTES >> 30);
        goto fail;
    }
    struct rollout_config cfg = config_of(p, p->B);
    cfg.tuning = ctx->rollout_tuning;
    plan->mem_estimate = rollout_gpu_memory_estimate(&cfg);
    /* Outputs and one checkpoint: the saved states, z_final (headers aside). */
    uint64_t state_bytes = (uint64_t)p->B * p->D * 8;
    plan->disk_estimate = (p->save_every ? p->steps / p->save_every * state_bytes : 0) + 2 * state_bytes;
    job_plan_input(plan, "op", p->op);
    job_plan_input(plan, "z0", p->z0);
    job_plan_input(plan, "truth", p->truth);
    *out = p;
    return 0;
fail:
    free(p);
    return -1;
}

static void rollout_pack_params(const void *params, msgpack_packer *pk)
{
    params_pack(rollout_params, params, pk); /* a producing job as its id, so a resume resolves it again */
}

static void rollout_free_params(void *params)
{
    free(params);
}

/* Each trajectory of a batch is stepped on its own (its products never mix with another
 * trajectory's), so the batch can be cut into parts. Saved states interleave all the
 * trajectories of a step in one stream: a rollout that saves them runs whole. */
static uint32_t rollout_split_units(const void *params)
{
    const struct rollout_params *p = params;
    return p->split == SPLIT_AUTO && p->batched && !p->save_every ? p->B : 0;
}

/* ---- execution (GPU thread) ---- */

struct rollout_state {
    const struct rollout_params *p;
    struct rollout_gpu *engine;
    uint64_t record_every;
    double *records;           /* room for one run's recorded states */
    struct io_stream *io;      /* the states, checkpoints and outputs are written there */
    struct blob_writer *saved; /* the "states" output, when save_every > 0: the I/O thread's */
    uint32_t steps_per_run;    /* adapted to the slice target */
    uint32_t max_run;
    double gpu_ms, host_ms;    /* of the hot loop only */
    bool gpu_timing;           /* all runs had timestamps */
    uint64_t hashes;
    uint64_t step0;            /* the checkpoint's step when resumed, else 0 */
    uint32_t first, count;     /* the trajectories it runs (job_part: all but in a split job) */
    int part, nparts;
    double last_checkpoint_ms;
};

/* The "states" output (save_every > 0), holding the states an unbroken run had saved up
 * to step0 (steps save_every, 2 save_every, ... <= step0): a resumed job continues it. */
static int open_saved(struct job_exec *ex, struct rollout_state *s, struct dashi_error *err)
{
    const struct rollout_params *p = s->p;
    if (!p->save_every)
        return 0;
    uint64_t shape[3] = {p->steps / p->save_every, p->B, p->D};
    if (!p->batched)
        shape[1] = p->D;
    uint64_t keep = s->step0 / p->save_every * p->B * p->D * sizeof(double);
    return job_output_writer(ex, "states", NPY_F8, p->batched ? 3 : 2, shape, keep, &s->saved, err);
}

static int rollout_start(struct job_exec *ex, const void *params, void **out, struct dashi_error *err)
{
    const struct rollout_params *p = params;
    struct rollout_state *s = calloc(1, sizeof *s);
    if (!s)
        return dashi_fail(err, DASHI_E_INTERNAL, "", "out of memory");
    s->p = p;
    s->io = job_io(ex);
    s->gpu_timing = true;
    struct npy_info ai, zi;
    double *A = NULL, *z0 = NULL;
    s->nparts = job_part(ex, p->B, &s->part, &s->first, &s->count);
    struct rollout_config cfg = config_of(p, s->count);
    cfg.tuning = job_rollout_tuning(ex);
    /* A resumed job starts from its checkpoint (the B×D state after step0 steps). */
    const char *ck = job_resume_checkpoint(ex, &s->step0);
    if (!ck[0])
        s->step0 = 0;
    if (open_saved(ex, s, err) != 0) {
        if (!s->step0 || err->code != DASHI_E_NOT_FOUND)
            goto fail;
        /* The states saved before the checkpoint are gone: start again from step 0. */
        fprintf(stderr, "dashid: rollout: %s; starting again from step 0\n", err->message);
        dashi_error_clear(err);
        ck = "";
        s->step0 = 0;
        if (open_saved(ex, s, err) != 0)
            goto fail;
    }
    if (blobstore_load(job_blobs(ex), "op", p->op, &ai, (void **)&A, err) ||
        blobstore_load(job_blobs(ex), ck[0] ? "checkpoint" : "z0", ck[0] ? ck : p->z0, &zi, (void **)&z0, err))
        goto fail;
    if (ck[0] && (zi.dtype != NPY_F8 || zi.count != (uint64_t)p->B * p->D || s->step0 > p->steps)) {
        dashi_fail(err, DASHI_E_BAD_VALUE, "checkpoint", "checkpoint %s is not a %u×%u float64 state of this job", ck,
                   p->B, p->D);
        goto fail;
    }
    if (rollout_gpu_create_at(job_vk(ex), &cfg, A, z0 + (size_t)s->first * p->D, s->step0, &s->engine, err))
        goto fail;
    s->last_checkpoint_ms = monotonic_ms();
    if (p->hash_every) /* the hashes before the checkpoint were reported by the first run */
        s->hashes = s->step0 / p->hash_every * s->count;
    free(A);
    free(z0);
    A = z0 = NULL;
    s->max_run = cfg.max_steps_per_run;
    s->steps_per_run = s->max_run < 16 ? s->max_run : 16; /* first slice measures the step time */
    s->record_every = record_every_of(p);
    if (s->record_every) {
        size_t room = (size_t)(s->max_run / s->record_every + 1) * s->count * p->D;
        s->records = malloc(room * sizeof(double));
        if (!s->records) {
            dashi_fail(err, DASHI_E_INTERNAL, "", "out of memory for recorded states");
            goto fail;
        }
    }
    *out = s;
    return 0;
fail:
    free(A);
    free(z0);
    blob_writer_close(s->saved); /* no request named it yet: still this thread's */
    if (s->engine)
        rollout_gpu_destroy(s->engine);
    free(s->records);
    free(s);
    return -1;
}

/* The current state (the shape of z0), stored and reported with its step by the I/O
 * thread once the states saved so far are durable: the checkpoint counts on them. */
static int rollout_checkpoint(struct rollout_state *s, struct dashi_error *err)
{
    const struct rollout_params *p = s->p;
    double *z = malloc((size_t)p->B * p->D * sizeof *z);
    if (!z)
        return dashi_fail(err, DASHI_E_INTERNAL, "", "out of memory for a checkpoint");
    uint64_t shape[2] = {p->B, p->D};
    if (!p->batched)
        shape[0] = p->D;
    if (rollout_gpu_read_state(s->engine, z, err) != 0) {
        free(z);
        return -1;
    }
    io_checkpoint(s->io, &s->saved, 1, NPY_F8, p->batched ? 2 : 1, shape, z, rollout_gpu_steps(s->engine));
    return 0;
}

static int rollout_slice(struct job_exec *ex, void *state, bool *done, struct dashi_error *err)
{
    struct rollout_state *s = state;
    const struct rollout_params *p = s->p;
    double budget_ms = job_slice_target_ms(ex);
    double slice_start = monotonic_ms();
    /* Several runs per slice until the GPU-time target is reached. */
    while (rollout_gpu_steps(s->engine) < p->steps && monotonic_ms() - slice_start < budget_ms) {
        uint64_t doneSteps = rollout_gpu_steps(s->engine);
        uint64_t left = p->steps - doneSteps;
        uint32_t n = left < s->steps_per_run ? (uint32_t)left : s->steps_per_run;
        uint32_t nrec = 0;
        uint64_t bad = 0;
        double gms = -1;
        /* Room for the states this run saves, handed to the I/O thread after it. */
        size_t state_bytes = (size_t)s->count * p->D * sizeof(double);
        struct io_buf *buf = p->save_every ? io_staging_get(s->io, (n / p->save_every + 1) * state_bytes) : NULL;
        if (p->save_every && !buf)
            break; /* waiting on I/O: the scheduler runs others until staging is freed */
        unsigned char *out = buf ? io_buf_data(buf) : NULL;
        size_t nout = 0;
        double t0 = monotonic_ms();
        if (rollout_gpu_run(s->engine, n, s->record_every, s->records, &nrec, &bad, &gms, err) != 0) {
            if (buf)
                io_release(s->io, buf);
            return -1;
        }
        double hms = monotonic_ms() - t0;
        s->host_ms += hms;
        if (gms >= 0)
            s->gpu_ms += gms;
        else
            s->gpu_timing = false;
        if (bad) {
            if (buf)
                io_release(s->io, buf);
            return dashi_fail(err, DASHI_E_DIVERGED, "", "the state became non-finite (NaN or Inf) at step %llu",
                              (unsigned long long)bad);
        }
        uint64_t t = (doneSteps / (s->record_every ? s->record_every : 1) + 1) * s->record_every;
        for (uint32_t k = 0; k < nrec; k++, t += s->record_every) {
            const double *rec = s->records + (size_t)k * s->count * p->D;
            if (p->hash_every && t % p->hash_every == 0)
                for (uint32_t b = 0; b < s->count; b++) {
                    char hex[33];
                    zhash_hex(rec + (size_t)b * p->D, p->D, hex);
                    job_emit_hash(ex, s->first + b, t, hex);
                    s->hashes++;
                }
            if (p->save_every && t % p->save_every == 0)
                memcpy(out + nout++ * state_bytes, rec, state_bytes);
        }
        if (buf) {
            if (nout)
                io_append(s->io, s->saved, out, nout * state_bytes);
            io_release(s->io, buf);
        }
        /* Runs of about a quarter of the slice, so cancellation stays prompt. */
        double ms_per_step = (gms > 0 ? gms : hms) / n;
        s->steps_per_run = rollout_gpu_run_steps(s->engine, s->steps_per_run, ms_per_step, budget_ms / 4);
        if (job_should_stop(ex))
            break;
    }
    job_emit_progress(ex, rollout_gpu_steps(s->engine), p->steps);
    *done = rollout_gpu_steps(s->engine) >= p->steps;
    /* Checkpoint at most every checkpoint_every_s, and when the job is told to stop (the
     * daemon stopping or a cancel), so `dashi resume` loses little. The parts of a split
     * job are at different steps: it takes none (docs/architecture.md "Split batches"). */
    if (!*done && s->nparts == 1 &&
        (job_should_stop(ex) || monotonic_ms() - s->last_checkpoint_ms >= job_checkpoint_interval_ms(ex))) {
        if (rollout_checkpoint(s, err) != 0)
            return -1;
        s->last_checkpoint_ms = monotonic_ms();
    }
    return 0;
}

/* What each part of a split job tells the part that writes the job's outputs. */
struct part_timing {
    double gpu_ms, host_ms;
    bool gpu_timing;
    uint64_t hashes;
};

/* The job's final state (B×D, or D) into *z (malloc'd), with the timings of its hot loop
 * and its hash count: the engine's; for a split job, the parts' assembled, the slowest
 * part's timings (they ran side by side) and all their hashes. *last false: this part of
 * a split job has given its share, and the job's outputs are another part's to write
 * (or, after a failure, no part's). */
static int final_state(struct job_exec *ex, struct rollout_state *s, double **z, struct part_timing *t,
                       bool *last, struct dashi_error *err)
{
    const struct rollout_params *p = s->p;
    size_t mine = (size_t)s->count * p->D * sizeof(double);
    *z = malloc(mine);
    *t = (struct part_timing){s->gpu_ms, s->host_ms, s->gpu_timing, s->hashes};
    *last = true;
    if (!*z)
        return dashi_fail(err, DASHI_E_INTERNAL, "", "out of memory");
    if (rollout_gpu_read_state(s->engine, *z, err) != 0 || s->nparts == 1)
        return 0 - (err->code != DASHI_OK);
    size_t all = (size_t)p->B * p->D * sizeof(double);
    struct part_timing *times = job_split_shared(ex, s->nparts * sizeof *times + all);
    if (!times)
        return dashi_fail(err, DASHI_E_INTERNAL, "", "out of memory for the split job's outputs");
    double *assembled = (double *)(times + s->nparts);
    memcpy(assembled + (size_t)s->first * p->D, *z, mine);
    times[s->part] = *t;
    free(*z);
    *z = NULL;
    if (!(*last = job_split_last(ex)))
        return 0;
    if (!(*z = malloc(all)))
        return dashi_fail(err, DASHI_E_INTERNAL, "", "out of memory");
    memcpy(*z, assembled, all);
    *t = (struct part_timing){0, 0, true, 0};
    for (int k = 0; k < s->nparts; k++) {
        t->gpu_ms = fmax(t->gpu_ms, times[k].gpu_ms);
        t->host_ms = fmax(t->host_ms, times[k].host_ms);
        t->gpu_timing = t->gpu_timing && times[k].gpu_timing;
        t->hashes += times[k].hashes;
    }
    return 0;
}

static int rollout_finish(struct job_exec *ex, void *state, struct dashi_error *err)
{
    struct rollout_state *s = state;
    const struct rollout_params *p = s->p;
    size_t count = (size_t)p->B * p->D;
    double *z;
    struct part_timing timing;
    bool last;
    if (final_state(ex, s, &z, &timing, &last, err) != 0) {
        free(z);
        return -1;
    }
    if (!last)
        return 0;
    uint64_t shape[2] = {p->B, p->D};
    if (!p->batched)
        shape[0] = p->D;
    if (p->truth[0]) {
        struct npy_info ti;
        double *truth;
        if (blobstore_load(job_blobs(ex), "truth", p->truth, &ti, (void **)&truth, err) != 0) {
            free(z);
            return -1;
        }
        double num = 0, den = 0;
        for (size_t i = 0; i < count; i++) {
            num += (z[i] - truth[i]) * (z[i] - truth[i]);
            den += truth[i] * truth[i];
        }
        free(truth);
        job_emit_summary(ex, "proxy_error_final", sqrt(num) / (sqrt(den) + 1e-300));
    }
    /* Published by the I/O thread; the job's end is recorded after them. */
    io_put(s->io, "z_final", NPY_F8, p->batched ? 2 : 1, shape, z);
    if (s->saved)
        io_end(s->io, s->saved, "states");
    s->saved = NULL;
    /* Timing of the hot loop only (no hashing, no saving): GPU timestamps when every run
     * had them, else the host's view of the runs. */
    double loop_ms = timing.gpu_timing ? timing.gpu_ms : timing.host_ms;
    double steps = (double)(p->steps - s->step0); /* the steps this run made (all unless resumed) */
    job_emit_summary(ex, "steps", (double)p->steps);
    job_emit_summary(ex, "ns_per_step", loop_ms * 1e6 / steps);
    job_emit_summary(ex, "steps_per_s", steps / (loop_ms * 1e-3));
    job_emit_summary(ex, "trajectory_steps_per_s", steps * p->B / (loop_ms * 1e-3));
    job_emit_summary(ex, "gpu_timestamps", timing.gpu_timing ? 1 : 0);
    if (timing.gpu_timing)
        job_emit_summary(ex, "gpu_ms", timing.gpu_ms);
    job_emit_summary(ex, "host_ms", timing.host_ms);
    job_emit_summary(ex, "hashes", (double)timing.hashes);
    /* Devices the trajectories ran on (split batches, docs/architecture.md). */
    job_emit_summary(ex, "parts", s->nparts);
    /* How the products were computed (the daemon's DASHI_ROLLOUT_SPLIT, docs/numerics.md):
     * 0 for IEEE arithmetic in the job's precision, else the split product's digits. */
    job_emit_summary(ex, "split_digits", rollout_gpu_split_digits(s->engine));
    /* Steps computed together from one state (fast batches, docs/numerics.md "Blocks of
     * steps"); 1: step by step. */
    job_emit_summary(ex, "block_steps", rollout_gpu_block_steps(s->engine));
    return 0;
}

static void rollout_destroy(void *state)
{
    struct rollout_state *s = state;
    if (!s)
        return;
    io_close(s->io, s->saved, false); /* kept while the job is interrupted (job_output_writer) */
    rollout_gpu_destroy(s->engine);
    free(s->records);
    free(s);
}

const struct job_kind job_kind_rollout = {
    .name = "rollout",
    .params = (const struct param_table *const[]){&rollout_table, NULL},
    .validate = rollout_validate,
    .pack_params = rollout_pack_params,
    .free_params = rollout_free_params,
    .start = rollout_start,
    .slice = rollout_slice,
    .finish = rollout_finish,
    .destroy = rollout_destroy,
    .split_units = rollout_split_units,
};
