/* SPDX-License-Identifier: MIT */
/* The LES job (the truth lane, docs/numerics.md "LES"): validation, slicing, outputs and checkpoints
 * around the engine of les_gpu.c.
 *
 * Outputs: omega_final (N×N f8), trajectory (F×N×N f8: t=0 and every save_every-th
 * step, streamed to the blob store a run at a time so the GPU never holds it all),
 * energy and enstrophy (steps+1 f8, also streamed). Metrics energy/enstrophy per step.
 * A checkpoint (the field as an N×N blob, plus its step) at most every checkpoint_every_s
 * of wall time and when the job is stopped. The three streamed outputs are resumable
 * writers (job_output_writer) made durable before each checkpoint is reported, so a
 * resumed job keeps what they held at the checkpoint's step and continues them: its
 * outputs are those of an unbroken run, byte for byte (docs/storage.md "Resume").
 *
 * Write-behind (io_worker.h): each run's frames and series are read back into a staging
 * buffer that the I/O thread appends and returns; the writers, the checkpoints and the
 * outputs are the I/O thread's, so the GPU thread never hashes or writes. The staging is
 * host-visible Vulkan memory: the GPU copies the frames into it and the host touches them
 * no more. Runs overlap (les_gpu_submit): run k+1 is submitted before run k is collected,
 * so the GPU thread does not wait on the GPU between them. Without a staging buffer the
 * slice collects what it submitted and ends early ("waiting on I/O"); other jobs run.
 * The summary metrics say where the time went (docs/protocol.md, "les").
 * When the trajectory fits the resident budget (f64, not resumed) its frames are also kept
 * whole on the device and offered to the resident cache at finish, for the train job that
 * encodes them (docs/architecture.md "Device-resident results"). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fft_vkfft.h"
#include "ic.h"
#include "io_worker.h"
#include "job.h"
#include "job_params.h"
#include "monotonic.h"
#include "les_gpu.h"

#define LES_MAX_STEPS 100000000ull
#define LES_RUN_MAX_STEPS 4096u
#define LES_FRAME_RING_BYTES (256ull << 20)   /* device bytes for one run's saved frames */
#define LES_MAX_TRAJECTORY_BYTES (64ull << 30)

struct les_params {
    uint64_t n, steps, save_every, seed;
    double dt, nu0, cs;
    char ic[DASHI_HASH_HEX + 1]; /* empty: generated from seed */
    enum job_precision precision;
    enum job_mode mode;
    bool dealias, require_gpu;
    struct job_common_params common; /* keep */
};

static bool has_ic(const void *params) { return ((const struct les_params *)params)->ic[0] != 0; }
static bool has_seed(const void *params) { return !has_ic(params); }

#define P struct les_params
static const struct param_spec les_params[] = {
    PARAM_U64("N", P, n, 64, LES_MIN_N, LES_MAX_N, "grid size N×N (even); with ic, default the field's N"),
    PARAM_U64("steps", P, steps, 300, 1, LES_MAX_STEPS, "time steps"),
    PARAM_F64("dt", P, dt, 0.01, 0, HUGE_VAL, "time step", .flags = PARAM_ABOVE_MIN),
    PARAM_F64("nu0", P, nu0, 1e-4, 0, HUGE_VAL, "molecular viscosity"),
    PARAM_F64("cs", P, cs, 0.17, 0, HUGE_VAL, "Smagorinsky constant"),
    PARAM_U64("seed", P, seed, 0, 0, UINT32_MAX, "seed of the generated initial field (not with ic)",
              .packed = has_seed),
    PARAM_HASH("ic", P, ic, "the initial field instead: an N×N f8 array (not with seed)", .packed = has_ic),
    PARAM_U64("save_every", P, save_every, 1, 0, UINT64_MAX,
              "steps between trajectory frames (0: no trajectory); at most steps"),
    PARAM_ENUM("precision", P, precision, JOB_F64, job_precision_names, "arithmetic of the solver"),
    PARAM_BOOL("dealias", P, dealias, false, "2/3-rule dealiasing (mode dashi only)"),
    PARAM_ENUM("mode", P, mode, JOB_MODE_DASHI, job_mode_names, "the DASHI solver or the plain reference"),
    PARAM_BOOL("require_gpu", P, require_gpu, false, "refuse to run on a CPU implementation of Vulkan"),
    PARAM_GROUP(P, common, job_common_param_group),
    PARAM_END,
};
#undef P
static const struct param_table les_table = {"`les`", les_params};

/* The run configuration; the frame ring is also bounded by the device's largest storage
 * buffer (lavapipe allows 128 MiB), so validation and start agree on what is allocated. */
static struct les_config config_of(const struct les_params *p, const struct vk_runtime *vk)
{
    struct les_config c = {.n = (uint32_t)p->n, .dt = p->dt, .nu0 = p->nu0, .cs = p->cs,
                           .f32 = p->precision == JOB_F32, .dealias = p->dealias, .max_steps = LES_RUN_MAX_STEPS};
    if (p->save_every) {
        uint64_t frame = p->n * p->n * (c.f32 ? 4 : 8);
        uint64_t ring = LES_FRAME_RING_BYTES;
        if (vk && vk->max_storage_range < ring)
            ring = vk->max_storage_range;
        uint64_t frames = ring / frame, saved = p->steps / p->save_every + 1;
        if (frames > saved) /* a short run needs no bigger ring */
            frames = saved;
        c.max_frames = (uint32_t)(frames < 1 ? 1 : frames > LES_RUN_MAX_STEPS ? LES_RUN_MAX_STEPS : frames);
    }
    return c;
}

static uint64_t trajectory_bytes(const struct les_params *p)
{
    return (p->steps / p->save_every + 1) * p->n * p->n * sizeof(double);
}

/* Whether the job plans to keep its trajectory on the device: f64 frames (the blob's own
 * bytes) within the resident budget, one buffer the device allows, and room for the engine
 * beside it. Validation counts the frames in the estimate exactly when this holds. */
static bool keeps_trajectory(const struct les_params *p, uint64_t engine_bytes, uint64_t resident_budget,
                             const struct vk_runtime *vk)
{
    if (!p->save_every || p->precision != JOB_F64)
        return false;
    uint64_t bytes = trajectory_bytes(p);
    return bytes <= resident_budget && (!vk || (bytes <= vk->max_storage_range &&
                                                engine_bytes + bytes <= vk->memory_budget));
}

static int les_validate(const struct job_submit_ctx *ctx, const msgpack_object *args, void **out,
                        struct job_plan *plan, struct dashi_error *err)
{
    struct les_params *p = calloc(1, sizeof *p);
    if (!p)
        return dashi_fail(err, DASHI_E_INTERNAL, "", "out of memory");
    *out = NULL;
    if (params_only(les_params, args, err) || params_parse(les_params, ctx, args, p, plan, err))
        goto fail;
    if (p->ic[0]) {
        if (param_given(args, "seed")) {
            dashi_fail(err, DASHI_E_BAD_VALUE, "ic", "give either seed or ic, not both");
            goto fail;
        }
        struct blob_meta m;
        const struct blob_want field = {.dtype = NPY_F8, .ndims = 1u << 2, .finite = true};
        if (job_blob_check(ctx, "ic", p->ic, field, "an N×N float64 array", &m, err))
            goto fail;
        if (!param_given(args, "N"))
            p->n = m.info.shape[0];
        if (m.info.shape[0] != p->n || m.info.shape[1] != p->n) {
            dashi_fail(err, DASHI_E_BAD_VALUE, "ic", "ic must be an N×N float64 array (N = %llu)",
                       (unsigned long long)p->n);
            goto fail;
        }
    }
    if (p->dealias && p->mode == JOB_MODE_REFERENCE) {
        dashi_fail(err, DASHI_E_BAD_VALUE, "dealias", "dealias is a mode=dashi option: the reference has none");
        goto fail;
    }
    if (p->save_every > p->steps) {
        dashi_fail(err, DASHI_E_BAD_VALUE, "save_every", "save_every must be between 0 (no trajectory) and steps");
        goto fail;
    }
    if (p->save_every && (p->steps / p->save_every + 1) * p->n * p->n * 8 > LES_MAX_TRAJECTORY_BYTES) {
        dashi_fail(err, DASHI_E_TOO_LARGE, "save_every", "the trajectory would exceed %llu GiB: raise save_every",
                   LES_MAX_TRAJECTORY_BYTES >> 30);
        goto fail;
    }
    struct les_config cfg = config_of(p, ctx->vk);
    if (les_config_validate(&cfg, ctx->vk, err) != 0)
        goto fail;
    plan->mem_estimate = les_gpu_memory_estimate(&cfg);
    if (keeps_trajectory(p, plan->mem_estimate, ctx->resident_budget, ctx->vk))
        plan->mem_estimate += trajectory_bytes(p);
    /* Outputs and one checkpoint: the trajectory, two series, omega_final (headers aside). */
    uint64_t field_bytes = p->n * p->n * 8;
    plan->disk_estimate = (p->save_every ? (p->steps / p->save_every + 1) * field_bytes : 0) +
                          2 * (p->steps + 1) * 8 + 2 * field_bytes;
    plan->total_steps = p->steps;
    snprintf(plan->precision, sizeof plan->precision, "%s", job_precision_names[p->precision]);
    snprintf(plan->mode, sizeof plan->mode, "%s", job_mode_names[p->mode]);
    plan->require_gpu = p->require_gpu;
    plan->ninputs = 0;
    job_plan_input(plan, "ic", p->ic);
    *out = p;
    return 0;
fail:
    free(p);
    return -1;
}

static void les_pack_params(const void *params, msgpack_packer *pk)
{
    params_pack(les_params, params, pk);
}

static void les_free_params(void *params) { free(params); }

/* ---- execution (GPU thread) ---- */

struct les_state {
    const struct les_params *p;
    struct vk_runtime *vk;
    struct les_config cfg;
    struct les_gpu *engine;
    uint64_t step0;        /* first step the outputs cover (0 unless resumed) */
    struct io_stream *io;
    struct blob_writer *traj, *energy, *enstrophy; /* the I/O thread's once started */
    uint32_t buf_frames;   /* frames one staging buffer holds (at most cfg.max_frames) */
    uint32_t steps_per_run;
    struct les_pending {   /* runs submitted, not collected: oldest first */
        struct io_buf *buf;
        uint64_t cur;      /* the step the run starts from */
        uint32_t n;
        double *frames, *e, *z;
    } pending[LES_RUNS_IN_FLIGHT];
    unsigned npending;
    /* Where the time went (summary metrics). */
    double gpu_ms, readback_ms, host_ms, wait_ms, slice_ms, io_wait_ms, io_wait_since;
    uint64_t frames_saved, frames_host_copied, runs, runs_overlapped, io_waits;
    bool gpu_timing;
    double energy_last, enstrophy_last;
    double last_checkpoint_ms;
    struct vk_buffer kept; /* the whole trajectory on the device, when it is kept (else empty) */
};

/* Resumable outputs are closed, not removed: an interrupted job continues them. Before
 * any request named them they are still this thread's (the retry in les_start). */
static void close_outputs(struct les_state *s, bool queued)
{
    struct blob_writer *ws[3] = {s->traj, s->energy, s->enstrophy};
    for (int i = 0; i < 3; i++)
        if (queued)
            io_close(s->io, ws[i], false);
        else
            blob_writer_close(ws[i]);
    s->traj = s->energy = s->enstrophy = NULL;
}

static void state_free(struct les_state *s)
{
    if (!s)
        return;
    les_gpu_destroy(s->engine); /* waits for runs in flight: then their staging is free */
    for (unsigned i = 0; i < s->npending; i++)
        io_release(s->io, s->pending[i].buf);
    close_outputs(s, true);
    vk_buffer_free(s->vk, &s->kept);
    free(s);
}

/* The starting field: the checkpoint when resuming, else the uploaded ic, else the seed's. */
static int initial_field(struct job_exec *ex, const struct les_params *p, bool resume, double *w, uint64_t *step0,
                         struct dashi_error *err)
{
    size_t nn = (size_t)p->n * p->n;
    const char *ck = resume ? job_resume_checkpoint(ex, step0) : NULL;
    const char *hash = ck && ck[0] ? ck : p->ic[0] ? p->ic : NULL;
    if (!(ck && ck[0]))
        *step0 = 0;
    if (!hash)
        return les_initial_condition((uint32_t)p->seed, p->n, w, err);
    struct npy_info info;
    void *data = NULL;
    if (blobstore_load(job_blobs(ex), ck && ck[0] ? "checkpoint" : "ic", hash, &info, &data, err) != 0)
        return -1;
    if (info.dtype != NPY_F8 || info.count != nn) {
        free(data);
        return dashi_fail(err, DASHI_E_BAD_VALUE, ck && ck[0] ? "checkpoint" : "ic", "not an N×N float64 field");
    }
    memcpy(w, data, nn * sizeof(double));
    free(data);
    return 0;
}

/* The streamed outputs, holding what an unbroken run had written up to step0: the series'
 * entries 0..step0 and the frames of steps 0, save_every, ... <= step0. A fresh start
 * then writes frame 0 (les_start); a resumed one finds it in what it keeps. */
static int open_outputs(struct job_exec *ex, struct les_state *s, struct dashi_error *err)
{
    const struct les_params *p = s->p;
    size_t nn = (size_t)p->n * p->n;
    uint64_t series_shape[1] = {p->steps + 1};
    uint64_t series_keep = s->step0 ? (s->step0 + 1) * sizeof(double) : 0;
    if (job_output_writer(ex, "energy", NPY_F8, 1, series_shape, series_keep, &s->energy, err) != 0 ||
        job_output_writer(ex, "enstrophy", NPY_F8, 1, series_shape, series_keep, &s->enstrophy, err) != 0)
        return -1;
    if (!p->save_every)
        return 0;
    uint64_t shape[3] = {p->steps / p->save_every + 1, p->n, p->n};
    uint64_t frames_keep = s->step0 ? (s->step0 / p->save_every + 1) * nn * sizeof(double) : 0;
    return job_output_writer(ex, "trajectory", NPY_F8, 3, shape, frames_keep, &s->traj, err);
}

/* Frames per staging buffer: about io_staging_target with the series beside them, and
 * within one buffer the device allows (the GPU copies into it), at least one. */
static uint32_t frames_per_buffer(const struct les_state *s)
{
    uint64_t frame = (uint64_t)s->p->n * s->p->n * sizeof(double);
    uint64_t room = io_staging_target(s->io), series = 2 * ((uint64_t)s->cfg.max_steps + 1) * sizeof(double);
    if (room > s->vk->max_storage_range)
        room = s->vk->max_storage_range;
    room = room > series ? room - series : 0;
    uint64_t k = room / frame;
    if (k > s->cfg.max_frames)
        k = s->cfg.max_frames;
    return k < 1 ? 1 : (uint32_t)k;
}

/* Keeps the trajectory on the device when validation planned it and the job starts from
 * step 0 (a resumed one has its first frames only on disk): frame 0 is w0, the engine
 * copies the others as it saves them. Out of device memory it streams as without. */
static int keep_trajectory(struct job_exec *ex, struct les_state *s, const double *w0, struct dashi_error *err)
{
    const struct les_params *p = s->p;
    if (s->step0 != 0 ||
        !keeps_trajectory(p, les_gpu_memory_estimate(&s->cfg), job_resident_budget(ex), job_vk(ex)))
        return 0;
    if (vk_buffer_alloc(job_vk(ex), trajectory_bytes(p), VK_MEM_DEVICE, &s->kept, err) != 0) {
        if (err->code != DASHI_E_DEVICE_MEMORY)
            return -1;
        dashi_error_clear(err);
        return 0;
    }
    if (vk_upload(job_vk(ex), &s->kept, 0, w0, (size_t)p->n * p->n * sizeof(double), err) != 0)
        return -1;
    les_gpu_keep_frames(s->engine, &s->kept, 1);
    return 0;
}

static int les_start(struct job_exec *ex, const void *params, void **out, struct dashi_error *err)
{
    const struct les_params *p = params;
    struct les_state *s = calloc(1, sizeof *s);
    if (!s)
        return dashi_fail(err, DASHI_E_INTERNAL, "", "out of memory");
    s->p = p;
    s->io = job_io(ex);
    s->vk = job_vk(ex);
    s->kept.block = -1;
    s->cfg = config_of(p, job_vk(ex));
    s->gpu_timing = true;
    size_t nn = (size_t)p->n * p->n;
    double *w0 = malloc(nn * sizeof *w0);
    if (!w0) {
        dashi_fail(err, DASHI_E_INTERNAL, "", "out of host memory");
        goto fail;
    }
    /* A resumed job whose partial outputs are gone (removed by hand, or left by a daemon
     * that kept none) starts again from step 0: slower, but its outputs stay exact. */
    for (bool resume = true;; resume = false) {
        if (initial_field(ex, p, resume, w0, &s->step0, err) != 0)
            goto fail;
        if (open_outputs(ex, s, err) == 0)
            break;
        if (!resume || s->step0 == 0 || err->code != DASHI_E_NOT_FOUND)
            goto fail;
        fprintf(stderr, "dashid: les: %s; starting again from step 0\n", err->message);
        close_outputs(s, false);
        dashi_error_clear(err);
    }
    if (les_gpu_create(job_vk(ex), job_fft(ex), &s->cfg, w0, s->step0, &s->engine, err) != 0 ||
        keep_trajectory(ex, s, w0, err) != 0)
        goto fail;
    s->buf_frames = s->cfg.max_frames ? frames_per_buffer(s) : 0;
    s->steps_per_run = 4; /* the first run measures the step time */
    s->last_checkpoint_ms = monotonic_ms();
    if (s->traj && s->step0 == 0)
        io_append_owned(s->io, s->traj, w0, nn * sizeof(double)); /* frame 0; the I/O thread frees w0 */
    else
        free(w0);
    *out = s;
    return 0;
fail:
    free(w0);
    state_free(s);
    return -1;
}

/* Steps the next run may take without saving more frames than the device ring holds. */
static uint32_t run_length(const struct les_state *s, uint64_t cur)
{
    const struct les_params *p = s->p;
    uint64_t n = p->steps - cur;
    if (n > s->steps_per_run)
        n = s->steps_per_run;
    if (p->save_every) {
        uint64_t last_ok = (cur / p->save_every + s->buf_frames + 1) * p->save_every - 1;
        if (cur + n > last_ok)
            n = last_ok - cur;
    }
    return n < 1 ? 1 : (uint32_t)n;
}

/* The field, stored and reported by the I/O thread after the outputs so far are durable:
 * the checkpoint that counts on them is never recorded before them. */
static int checkpoint(struct les_state *s, struct dashi_error *err)
{
    size_t nn = (size_t)s->p->n * s->p->n;
    double *w = malloc(nn * sizeof *w);
    if (!w)
        return dashi_fail(err, DASHI_E_INTERNAL, "", "out of host memory");
    if (les_gpu_read_field(s->engine, w, err) != 0) {
        free(w);
        return -1;
    }
    uint64_t shape[2] = {s->p->n, s->p->n};
    struct blob_writer *const ws[3] = {s->energy, s->enstrophy, s->traj};
    io_checkpoint(s->io, ws, 3, NPY_F8, 2, shape, w, les_gpu_step(s->engine));
    return 0;
}

/* Submits a run into a staging buffer laid out as [frames | energy | enstrophy]; the GPU
 * copies the frames straight into it when it is host-visible Vulkan memory. 1 when no
 * buffer is free (the slice waits on I/O), 0 submitted, -1 failed. */
static int submit_run(struct les_state *s, uint32_t n, struct dashi_error *err)
{
    const struct les_params *p = s->p;
    size_t nn = (size_t)p->n * p->n;
    uint32_t save_every = (uint32_t)(p->save_every > UINT32_MAX ? 0 : p->save_every);
    size_t nframes = les_gpu_frames_in(s->engine, n, save_every);
    struct io_buf *buf = io_staging_get(s->io, (nframes * nn + 2 * ((size_t)n + 1)) * sizeof(double));
    if (!buf)
        return 1;
    struct les_pending *r = &s->pending[s->npending];
    *r = (struct les_pending){.buf = buf, .cur = les_gpu_step(s->engine), .n = n, .frames = io_buf_data(buf)};
    r->e = r->frames + nframes * nn;
    r->z = r->e + n + 1;
    const struct les_dest dst = {.frames = nframes ? r->frames : NULL, .frames_vk = io_buf_vk(buf),
                                 .energy = r->e, .enstrophy = r->z};
    double t0 = monotonic_ms();
    int rc = les_gpu_submit(s->engine, n, save_every, &dst, err);
    s->host_ms += monotonic_ms() - t0;
    if (rc != 0) {
        io_release(s->io, buf);
        return -1;
    }
    s->runs_overlapped += s->npending > 0;
    s->npending++;
    return 0;
}

/* Sizes the next run to about a quarter of the slice, so cancellation stays prompt. */
static void size_runs(struct les_state *s, const struct les_run *run, double host_ms, double budget_ms)
{
    double per_step = (run->gpu_ms > 0 ? run->gpu_ms : host_ms) / run->steps;
    double want = per_step > 0 ? budget_ms / 4 / per_step : LES_RUN_MAX_STEPS;
    s->steps_per_run = want < 1 ? 1 : want > LES_RUN_MAX_STEPS ? LES_RUN_MAX_STEPS : (uint32_t)want;
}

/* Waits for the oldest run and hands its frames and series to the I/O thread. */
static int collect_run(struct job_exec *ex, struct les_state *s, struct dashi_error *err)
{
    size_t nn = (size_t)s->p->n * s->p->n;
    struct les_pending r = s->pending[0];
    memmove(s->pending, s->pending + 1, --s->npending * sizeof *s->pending);
    struct les_run run;
    double t0 = monotonic_ms();
    int rc = les_gpu_collect(s->engine, &run, err);
    double hms = monotonic_ms() - t0;
    s->host_ms += hms;
    if (rc == 0 && run.nonfinite_step >= 0)
        rc = dashi_fail(err, DASHI_E_DIVERGED, "step",
                        "the vorticity became non-finite (NaN or Inf) at step %lld: reduce dt",
                        (long long)run.nonfinite_step);
    if (rc != 0) {
        io_release(s->io, r.buf); /* les_gpu_collect waited: the GPU is done with it */
        return -1;
    }
    /* Entry 0 of a run is the field it started from: written once, by the run from
     * step 0 (a resumed job kept it with the rest up to its checkpoint). */
    uint32_t first = r.cur == 0 ? 0 : 1, n = r.n;
    for (uint32_t k = first; k <= n; k++) {
        job_emit_metric(ex, "energy", (int64_t)(r.cur + k), r.e[k]);
        job_emit_metric(ex, "enstrophy", (int64_t)(r.cur + k), r.z[k]);
    }
    io_append(s->io, s->energy, r.e + first, (n + 1 - first) * sizeof(double));
    io_append(s->io, s->enstrophy, r.z + first, (n + 1 - first) * sizeof(double));
    if (s->traj && run.frames)
        io_append(s->io, s->traj, r.frames, (size_t)run.frames * nn * sizeof(double));
    io_release(s->io, r.buf);
    s->energy_last = r.e[n];
    s->enstrophy_last = r.z[n];
    s->runs++;
    s->frames_saved += run.frames;
    s->frames_host_copied += run.host_copied_frames;
    s->wait_ms += run.wait_ms;
    if (run.gpu_ms >= 0 && run.readback_ms >= 0) {
        s->gpu_ms += run.gpu_ms;
        s->readback_ms += run.readback_ms;
    } else {
        s->gpu_timing = false;
    }
    size_runs(s, &run, hms, job_slice_target_ms(ex));
    return 0;
}

static int collect_all(struct job_exec *ex, struct les_state *s, struct dashi_error *err)
{
    while (s->npending)
        if (collect_run(ex, s, err) != 0)
            return -1;
    return 0;
}

/* Runs are submitted ahead: while the GPU runs the newest, the oldest is collected. A
 * slice ends with nothing in flight, so the scheduler may switch jobs or checkpoint. */
static int run_steps(struct job_exec *ex, struct les_state *s, double slice_start, struct dashi_error *err)
{
    const struct les_params *p = s->p;
    double budget_ms = job_slice_target_ms(ex);
    while (les_gpu_step(s->engine) < p->steps && monotonic_ms() - slice_start < budget_ms) {
        int rc = submit_run(s, run_length(s, les_gpu_step(s->engine)), err);
        if (rc < 0)
            return -1;
        if (rc > 0 && s->npending == 0) { /* waiting on I/O: the scheduler runs others until staging is freed */
            s->io_waits++;
            s->io_wait_since = monotonic_ms();
            break;
        }
        if ((rc > 0 || s->npending == LES_RUNS_IN_FLIGHT) && collect_run(ex, s, err) != 0)
            return -1;
        if (job_should_stop(ex))
            break;
    }
    return collect_all(ex, s, err);
}

static int les_slice(struct job_exec *ex, void *state, bool *done, struct dashi_error *err)
{
    struct les_state *s = state;
    const struct les_params *p = s->p;
    double slice_start = monotonic_ms();
    if (s->io_wait_since > 0) /* the time since the last slice ended waiting for staging */
        s->io_wait_ms += slice_start - s->io_wait_since;
    s->io_wait_since = 0;
    int rc = run_steps(ex, s, slice_start, err);
    s->slice_ms += monotonic_ms() - slice_start;
    if (rc != 0)
        return -1;
    uint64_t now_step = les_gpu_step(s->engine);
    job_emit_progress(ex, now_step, p->steps);
    *done = now_step >= p->steps;
    if (!*done && (job_should_stop(ex) || monotonic_ms() - s->last_checkpoint_ms >= job_checkpoint_interval_ms(ex))) {
        if (checkpoint(s, err) != 0)
            return -1;
        s->last_checkpoint_ms = monotonic_ms();
    }
    return 0;
}

/* The outputs are published by the I/O thread; the job's end is recorded after them. */
static void finish_writer(struct les_state *s, struct blob_writer **w, const char *name)
{
    if (*w)
        io_end(s->io, *w, name);
    *w = NULL;
}

/* The kept frames go to the resident cache (or are freed here when it has no room). */
/* Whether the cache took the kept trajectory (its hash follows from the I/O thread). */
static bool offer_trajectory(struct job_exec *ex, struct les_state *s)
{
    const struct les_params *p = s->p;
    if (s->kept.block < 0)
        return false;
    uint64_t shape[3] = {p->steps / p->save_every + 1, p->n, p->n};
    if (job_resident_offer(ex, "trajectory", "", &s->kept, NPY_F8, 3, shape))
        return true;
    vk_buffer_free(s->vk, &s->kept);
    return false;
}

/* Where the GPU thread's time went (docs/protocol.md "les"): the lead reads these from
 * `show --json` to tell compute, readback, waiting on the GPU and waiting on the disk apart. */
static void emit_data_plane(struct job_exec *ex, const struct les_state *s)
{
    if (s->gpu_timing) {
        job_emit_summary(ex, "gpu_ms", s->gpu_ms);
        job_emit_summary(ex, "readback_gpu_ms", s->readback_ms);
    }
    job_emit_summary(ex, "gpu_thread_ms", s->slice_ms);
    job_emit_summary(ex, "readback_wait_ms", s->wait_ms);
    job_emit_summary(ex, "io_wait_ms", s->io_wait_ms);
    job_emit_summary(ex, "io_wait_slices", (double)s->io_waits);
    job_emit_summary(ex, "runs", (double)s->runs);
    job_emit_summary(ex, "runs_overlapped", (double)s->runs_overlapped);
    if (s->frames_saved)
        job_emit_summary(ex, "host_copies_per_frame", (double)s->frames_host_copied / (double)s->frames_saved);
}

static int les_finish(struct job_exec *ex, void *state, struct dashi_error *err)
{
    struct les_state *s = state;
    const struct les_params *p = s->p;
    size_t nn = (size_t)p->n * p->n;
    double *w = malloc(nn * sizeof *w);
    if (!w)
        return dashi_fail(err, DASHI_E_INTERNAL, "", "out of host memory");
    uint64_t shape[2] = {p->n, p->n};
    if (les_gpu_read_field(s->engine, w, err) != 0) {
        free(w);
        return -1;
    }
    io_put(s->io, "omega_final", NPY_F8, 2, shape, w);
    finish_writer(s, &s->energy, "energy");
    finish_writer(s, &s->enstrophy, "enstrophy");
    /* The trajectory kept on the device goes to the resident cache before its end is
     * queued, so the I/O thread's report of its hash always finds the entry. */
    if (s->traj && offer_trajectory(ex, s)) {
        io_end_resident(s->io, s->traj, "trajectory");
        s->traj = NULL;
    }
    finish_writer(s, &s->traj, "trajectory");
    double steps = (double)(p->steps - s->step0); /* the steps this run made (all unless resumed) */
    double loop_ms = s->gpu_timing ? s->gpu_ms : s->host_ms;
    job_emit_summary(ex, "steps", (double)p->steps);
    job_emit_summary(ex, "steps_per_s", steps / (loop_ms * 1e-3));
    job_emit_summary(ex, "gpu_timestamps", s->gpu_timing ? 1 : 0);
    if (s->gpu_timing)
        job_emit_summary(ex, "gpu_ms_per_step", s->gpu_ms / steps);
    job_emit_summary(ex, "host_ms_per_step", s->host_ms / steps);
    emit_data_plane(ex, s);
    job_emit_summary(ex, "ffts_per_step", LES_FFTS_PER_STEP);
    job_emit_summary(ex, "energy_final", s->energy_last);
    job_emit_summary(ex, "enstrophy_final", s->enstrophy_last);
    return 0;
}

static void les_destroy(void *state) { state_free(state); }

const struct job_kind job_kind_les = {
    .name = "les",
    .params = (const struct param_table *const[]){&les_table, NULL},
    .validate = les_validate,
    .pack_params = les_pack_params,
    .free_params = les_free_params,
    .start = les_start,
    .slice = les_slice,
    .finish = les_finish,
    .destroy = les_destroy,
};
