/* SPDX-License-Identifier: MIT */
/* The atoms job (track mode, docs/numerics.md "Atoms and threads"): for every `every`-th frame of a
 * trajectory (F×N×N float64, e.g. an LES job's "trajectory"; an N×N field counts as one frame),
 * the closed carrier (closure.c), its atoms (atoms.c) pruned by the first three steps of
 * the normal form (normal_form.c: gamma_min, min_cells, lambda, budget) and the threading
 * to the previous processed frame (lineage_thread.c). Evolve mode (v5) lives in
 * job_atoms_evolve.c; this file owns the kind and hands `mode: evolve` jobs over to it.
 *
 * Frames are read from the blob a slice at a time (the input is never held whole). The
 * atom, lineage and audit rows accumulate on the host and become the outputs "atoms",
 * "lineage" and "atom_audit" (float64 tables, layouts in store_atoms.h), which the kind's
 * on_succeeded (store_atoms_import) puts into the database's tables when the job succeeds.
 * `step` in every row and metric is the frame index in the input.
 *
 * Per-step metrics: atoms.count, atoms.gamma_total, atoms.closure_depth,
 * atoms.filaments_born, atoms.filaments_survived, atoms.annihilation_level_mean (the
 * frame's annihilation trace, closure_trace.h), atoms.description_length, and from the second frame on events.continuation/split/
 * merge/birth/death, audit.abs_residual, audit.signed_residual. Summaries add
 * closure_depth_mean/max over the frames and the traces of all frames pooled
 * (job_closure_trace.h: filaments_born, filaments_survived, annihilation_level_mean,
 * closure.alive_fraction.L1..L8, closure.alive per level). The GPU path traces each frame on
 * the host from the same ω (the trace needs the labels of s_0) and checks its depth is the
 * GPU's; that host closure is host work per frame beside the GPU, so `trace off` leaves out the
 * trace and its metrics (the depth metrics stay).
 *
 * `carrier` says where the closed carrier, the labelling and the per-atom reductions run:
 * `gpu` (atoms_gpu.h, a batch of frames per submission, the same frames as the host
 * path; a device without 64-bit buffer atomics or too small a storage-buffer range fails
 * the job), `host` (atoms.c), or `auto` (the default): the GPU path on a GPU, the host
 * path on a CPU implementation of Vulkan (lavapipe runs the GPU path ~40× slower than the
 * host code) or where the GPU path cannot run. The threading is host code. The summary
 * carrier_on_gpu says which ran. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "atoms.h"
#include "atoms_gpu.h"
#include "job.h"
#include "job_atoms.h"
#include "job_closure_trace.h"
#include "lineage_thread.h"
#include "monotonic.h"
#include "store_atoms.h"

enum atoms_carrier { CARRIER_AUTO, CARRIER_GPU, CARRIER_HOST };
static const char *const carriers[] = {"auto", "gpu", "host", NULL};
enum atoms_trace { TRACE_ON, TRACE_OFF };
static const char *const traces[] = {"on", "off", NULL};

struct atoms_params {
    char from[DASHI_HASH_HEX + 1];
    int64_t from_job;
    enum atoms_mode_id mode;
    uint64_t every;
    double tau, gate, min_overlap;
    struct atoms_knobs knobs;
    enum atoms_carrier carrier;
    enum atoms_trace trace;
    uint64_t n, frames; /* from the input's shape (0 while it is still being produced) */
    struct atoms_evolve_params *evolve; /* mode evolve: everything is in there */
    struct job_common_params common; /* keep */
};

#define P struct atoms_params
static const struct param_spec track_params[] = {
    ATOMS_COMMON_PARAMS(P),
    /* gate and min_overlap default to the threading's own defaults (thread_params_default) */
    PARAM_F64("gate", P, gate, 4, 0, 1e6, "largest centroid distance of a continuation, in units of ε̄"),
    PARAM_F64("min_overlap", P, min_overlap, 0.1, 0, 1, "shared cells (of the smaller atom) of a shared link"),
    PARAM_ENUM("carrier", P, carrier, CARRIER_AUTO, carriers,
               "where carrier, labels and measures run: `auto` the GPU path on a GPU, else the host"),
    PARAM_ENUM("trace", P, trace, TRACE_ON, traces,
               "each frame's annihilation trace (filament metrics); on the GPU path it recloses ω on the host: "
               "`off` for speed"),
    PARAM_END,
};
#undef P
static const struct param_table track_table = {"`atoms`, mode `track`", track_params};

/* Whether a track job with this choice runs the GPU path on vk (auto: on a real GPU). */
static bool carrier_wants_gpu(enum atoms_carrier carrier, const struct vk_runtime *vk)
{
    return carrier == CARRIER_GPU || (carrier == CARRIER_AUTO && !(vk && vk->is_cpu));
}

static int atoms_validate(const struct job_submit_ctx *ctx, const msgpack_object *args, void **out,
                          struct job_plan *plan, struct dashi_error *err)
{
    struct atoms_params *p = calloc(1, sizeof *p);
    if (!p)
        return dashi_fail(err, DASHI_E_INTERNAL, "", "out of memory");
    *out = NULL;
    int mode;
    if (arg_enum(args, "mode", false, ATOMS_TRACK, atoms_mode_names, &mode, err))
        goto fail;
    if (mode == ATOMS_EVOLVE) {
        p->mode = ATOMS_EVOLVE;
        if (params_refuse_foreign(atoms_evolve_params, "evolve", track_params, "track", args, err) ||
            atoms_evolve_validate(ctx, args, &p->evolve, plan, err))
            goto fail;
        *out = p;
        return 0;
    }
    if (params_refuse_foreign(track_params, "track", atoms_evolve_params, "evolve", args, err) ||
        params_only(track_params, args, err) || params_parse(track_params, ctx, args, p, plan, err))
        goto fail;
    snprintf(plan->precision, sizeof plan->precision, "f64");
    snprintf(plan->mode, sizeof plan->mode, "%s", atoms_mode_names[p->mode]);
    plan->require_gpu = false;
    plan->mem_estimate = 0; /* known with N, below */
    if (plan->ndeps > 0) { /* the input's shape is checked once its job has succeeded */
        plan->total_steps = 1;
        *out = p;
        return 0;
    }
    if (atoms_input_shape(ctx, p->from, &p->n, &p->frames, err))
        goto fail;
    plan->total_steps = (p->frames + p->every - 1) / p->every;
    /* A frame's 8-connected components are at most ceil(N/2)² (isolated cells); the budget
     * keeps fewer. */
    uint64_t most = ((p->n + 1) / 2) * ((p->n + 1) / 2);
    plan->disk_estimate = atoms_rows_disk_estimate(
        plan->total_steps, p->knobs.budget && p->knobs.budget < most ? p->knobs.budget : most);
    plan->mem_estimate = carrier_wants_gpu(p->carrier, ctx->vk) ? atoms_gpu_bytes_on(ctx->vk, (uint32_t)p->n) : 0;
    if (p->carrier == CARRIER_GPU && ctx->vk && plan->mem_estimate == 0) {
        dashi_fail(err, DASHI_E_NO_GPU, "carrier", "carrier gpu: %s cannot run the GPU path at N=%llu (it needs "
                   "64-bit buffer atomics and a storage-buffer range for the frames); use carrier host or auto",
                   ctx->vk->device_name, (unsigned long long)p->n);
        goto fail;
    }
    job_plan_input(plan, "from", p->from);
    *out = p;
    return 0;
fail:
    free(p);
    return -1;
}

static void atoms_pack_params(const void *params, msgpack_packer *pk)
{
    const struct atoms_params *p = params;
    if (p->evolve) {
        atoms_evolve_pack(p->evolve, pk);
        return;
    }
    params_pack(track_params, p, pk); /* exactly the arguments validate takes */
}

static void atoms_free_params(void *params)
{
    struct atoms_params *p = params;
    if (p)
        atoms_evolve_free(p->evolve);
    free(p);
}

/* ---- execution, track mode (GPU thread) ---- */

struct track_state {
    const struct atoms_params *p;
    struct thread_params tp;
    struct nf_params nf;
    struct atoms_input input;
    uint64_t next_frame;       /* input frame index of the next frame to process */
    uint64_t processed;
    int64_t prev_step;
    struct atom_frame prev;    /* count 0 and no labels before the first frame */
    bool have_prev;
    double *omega;
    int8_t *carrier;
    struct atoms_gpu *gpu;          /* NULL: the host path */
    struct atom_frame *gpu_frames;  /* the GPU's batch, handed out in order */
    int *gpu_depths;
    uint32_t gpu_count, gpu_next;
    struct atom_outputs out;
    double host_ms;
    struct atom_events events;
    struct closure_trace pooled; /* the annihilation traces of every frame, added */
    double depth_sum;
    int depth_max;
};

static void track_destroy(void *state)
{
    struct track_state *s = state;
    if (!s)
        return;
    atoms_input_close(&s->input);
    atom_frame_free(&s->prev);
    for (uint32_t b = s->gpu_next; b < s->gpu_count; b++)
        atom_frame_free(&s->gpu_frames[b]);
    free(s->gpu_frames);
    free(s->gpu_depths);
    atoms_gpu_destroy(s->gpu);
    free(s->omega);
    free(s->carrier);
    atom_outputs_free(&s->out);
    free(s);
}

static int track_start(struct job_exec *ex, const void *params, void **out, struct dashi_error *err)
{
    const struct atoms_params *p = params;
    struct track_state *s = calloc(1, sizeof *s);
    if (!s)
        return dashi_fail(err, DASHI_E_INTERNAL, "", "out of memory");
    s->p = p;
    atoms_knobs_nf(&p->knobs, p->n, &s->nf);
    thread_params_default(&s->tp);
    s->tp.gate = p->gate;
    s->tp.min_overlap = p->min_overlap;
    atom_outputs_init(&s->out);
    size_t nn = (size_t)p->n * p->n;
    s->omega = malloc(nn * sizeof *s->omega);
    s->carrier = malloc(nn);
    if (!s->omega || !s->carrier) {
        track_destroy(s);
        return dashi_fail(err, DASHI_E_INTERNAL, "", "out of host memory");
    }
    if (atoms_input_open(ex, p->from, p->n, p->frames, &s->input, err) != 0) {
        track_destroy(s);
        return -1;
    }
    struct dashi_error gerr = {0};
    if (!carrier_wants_gpu(p->carrier, job_vk(ex))) {
        s->gpu = NULL; /* the host path, as asked (or auto on a CPU device) */
    } else if (atoms_gpu_create(job_vk(ex), (uint32_t)p->n, atoms_gpu_default_batch((uint32_t)p->n), p->tau, &s->gpu,
                                &gerr) != 0) {
        if (p->carrier == CARRIER_GPU || (gerr.code != DASHI_E_NO_GPU && gerr.code != DASHI_E_DEVICE_MEMORY)) {
            *err = gerr;
            track_destroy(s);
            return -1;
        }
        s->gpu = NULL; /* the host path */
    } else {
        uint32_t b = atoms_gpu_batch(s->gpu);
        s->gpu_frames = calloc(b, sizeof *s->gpu_frames);
        s->gpu_depths = calloc(b, sizeof *s->gpu_depths);
        if (!s->gpu_frames || !s->gpu_depths) {
            track_destroy(s);
            return dashi_fail(err, DASHI_E_INTERNAL, "", "out of host memory");
        }
    }
    *out = s;
    return 0;
}

/* The annihilation trace of a frame the GPU closed, on the host from the same ω (the host
 * closure is the reference: its depth must be the GPU's). */
static int gpu_frame_trace(struct track_state *s, const double *omega, int gpu_depth, struct closure_trace *trace,
                           struct dashi_error *err)
{
    if (atoms_traced_carrier(omega, (uint32_t)s->p->n, s->p->tau, s->carrier, trace, err) != 0)
        return -1;
    if (trace->depth != gpu_depth)
        return dashi_fail(err, DASHI_E_INTERNAL, "", "frame %llu: the GPU closure depth %d is not the host's %d",
                          (unsigned long long)s->next_frame, gpu_depth, trace->depth);
    return 0;
}

/* The atoms of frame s->next_frame, pruned, and its annihilation trace: from the GPU's batch
 * (the next batch of frames is read and run when it is used up), or on the host. */
static int frame_atoms(struct job_exec *ex, struct track_state *s, struct atom_frame *cur, int *depth,
                       struct closure_trace *trace, struct dashi_error *err)
{
    const struct atoms_params *p = s->p;
    if (!s->gpu) {
        if (atoms_input_read(ex, &s->input, s->next_frame, s->omega, err) != 0)
            return -1;
        return atoms_frame_of(s->omega, (uint32_t)p->n, p->tau, &s->nf, s->carrier, cur, depth, trace, err);
    }
    if (s->gpu_next == s->gpu_count) {
        uint32_t count = 0;
        for (uint64_t f = s->next_frame; f < p->frames && count < atoms_gpu_batch(s->gpu); f += p->every)
            if (atoms_input_read(ex, &s->input, f, atoms_gpu_frame(s->gpu, count++), err) != 0)
                return -1;
        s->gpu_count = s->gpu_next = 0;
        if (atoms_gpu_run(s->gpu, count, s->gpu_frames, s->gpu_depths, err) != 0)
            return -1;
        s->gpu_count = count;
    }
    *cur = s->gpu_frames[s->gpu_next];
    *depth = s->gpu_depths[s->gpu_next];
    memset(&s->gpu_frames[s->gpu_next], 0, sizeof *cur);
    const double *omega = atoms_gpu_frame(s->gpu, s->gpu_next++);
    if (p->trace == TRACE_ON && gpu_frame_trace(s, omega, *depth, trace, err) != 0) {
        atom_frame_free(cur);
        return -1;
    }
    return atoms_frame_prune(cur, (uint32_t)p->n, &s->nf, err);
}

static int process_frame(struct job_exec *ex, struct track_state *s, struct dashi_error *err)
{
    int64_t step = (int64_t)s->next_frame;
    int depth = 0;
    struct atom_frame cur;
    struct closure_trace trace = {0};
    if (frame_atoms(ex, s, &cur, &depth, &trace, err) != 0)
        return -1;
    bool traced = s->p->trace == TRACE_ON;
    if (traced)
        closure_trace_add(&s->pooled, &trace);
    s->depth_sum += depth;
    s->depth_max = depth > s->depth_max ? depth : s->depth_max;
    double gamma_total = 0;
    for (size_t k = 0; k < cur.count; k++)
        gamma_total += cur.atoms[k].gamma;
    if (atom_table_atoms(&s->out.atoms, step, cur.atoms, cur.count) != 0)
        goto oom;
    struct thread_result r = {0};
    if (s->have_prev) {
        if (threads_link(&s->prev, &cur, &s->tp, &r, err) != 0) {
            atom_frame_free(&cur);
            return -1;
        }
        if (atom_table_edges(&s->out.lineage, s->prev_step, step, r.edges, r.nedges) != 0 ||
            atom_table_audit(&s->out.audit, s->prev_step, step, r.audit, r.naudit) != 0)
            goto oom_r;
        atom_events_step(ex, &s->events, step, r.events, r.abs_residual, r.signed_residual);
    }
    job_emit_metric(ex, "atoms.count", step, (double)cur.count);
    job_emit_metric(ex, "atoms.gamma_total", step, gamma_total);
    job_emit_metric(ex, "atoms.closure_depth", step, depth);
    if (traced) {
        job_emit_metric(ex, "atoms.filaments_born", step, (double)trace.born);
        job_emit_metric(ex, "atoms.filaments_survived", step, (double)trace.survived);
        job_emit_metric(ex, "atoms.annihilation_level_mean", step, closure_trace_mean_level(&trace));
    }
    job_emit_metric(ex, "atoms.description_length", step,
                    atoms_description_length(cur.atoms, cur.count, cur.n, r.edges, r.nedges));
    thread_result_free(&r);
    atom_frame_free(&s->prev);
    s->prev = cur;
    s->have_prev = true;
    s->prev_step = step;
    return 0;
oom_r:
    thread_result_free(&r);
oom:
    atom_frame_free(&cur);
    return dashi_fail(err, DASHI_E_INTERNAL, "", "out of host memory for the atom tables");
}

static int track_slice(struct job_exec *ex, void *state, bool *done, struct dashi_error *err)
{
    struct track_state *s = state;
    const struct atoms_params *p = s->p;
    double t0 = monotonic_ms(), budget = job_slice_target_ms(ex);
    while (s->next_frame < p->frames) {
        if (process_frame(ex, s, err) != 0)
            return -1;
        s->next_frame += p->every;
        s->processed++;
        if (monotonic_ms() - t0 >= budget || job_should_stop(ex))
            break;
    }
    s->host_ms += monotonic_ms() - t0;
    uint64_t total = (p->frames + p->every - 1) / p->every;
    job_emit_progress(ex, s->processed, total);
    *done = s->next_frame >= p->frames;
    return 0;
}

static int track_finish(struct job_exec *ex, void *state, struct dashi_error *err)
{
    struct track_state *s = state;
    if (atom_outputs_put(ex, &s->out, err) != 0)
        return -1;
    job_emit_summary(ex, "frames", (double)s->processed);
    job_emit_summary(ex, "atoms_total", (double)s->out.atoms.rows);
    job_emit_summary(ex, "edges_total", (double)s->out.lineage.rows);
    atom_events_summary(ex, &s->events);
    job_emit_summary(ex, "host_ms_per_frame", s->processed ? s->host_ms / (double)s->processed : 0);
    job_emit_summary(ex, "frames_per_s", s->host_ms > 0 ? (double)s->processed / (s->host_ms * 1e-3) : 0);
    job_emit_summary(ex, "carrier_on_gpu", s->gpu ? 1 : 0);
    job_emit_summary(ex, "closure_depth_mean", s->processed ? s->depth_sum / (double)s->processed : 0);
    job_emit_summary(ex, "closure_depth_max", s->depth_max);
    if (s->p->trace == TRACE_ON)
        job_emit_closure_trace(ex, &s->pooled);
    return 0;
}

static const struct atoms_mode atoms_mode_track = {
    .start = track_start,
    .slice = track_slice,
    .finish = track_finish,
    .destroy = track_destroy,
};

/* ---- the kind: runs the mode its parameters name ---- */

/* A running job: its mode and that mode's state. */
struct atoms_run {
    const struct atoms_mode *mode;
    void *state;
};

/* The mode p names and the parameters its start takes (evolve keeps all of its own). */
static const struct atoms_mode *mode_of(const struct atoms_params *p, const void **mode_params)
{
    if (p->evolve) {
        *mode_params = p->evolve;
        return &atoms_mode_evolve;
    }
    *mode_params = p;
    return &atoms_mode_track;
}

static int atoms_start(struct job_exec *ex, const void *params, void **out, struct dashi_error *err)
{
    struct atoms_run *run = malloc(sizeof *run);
    if (!run)
        return dashi_fail(err, DASHI_E_INTERNAL, "", "out of memory");
    const void *mode_params;
    run->mode = mode_of(params, &mode_params);
    if (run->mode->start(ex, mode_params, &run->state, err) != 0) {
        free(run);
        return -1;
    }
    *out = run;
    return 0;
}

static int atoms_slice(struct job_exec *ex, void *state, bool *done, struct dashi_error *err)
{
    struct atoms_run *run = state;
    return run->mode->slice(ex, run->state, done, err);
}

static int atoms_finish(struct job_exec *ex, void *state, struct dashi_error *err)
{
    struct atoms_run *run = state;
    return run->mode->finish(ex, run->state, err);
}

static void atoms_destroy(void *state)
{
    struct atoms_run *run = state;
    if (!run)
        return;
    run->mode->destroy(run->state);
    free(run);
}

const struct job_kind job_kind_atoms = {
    .name = "atoms",
    .params = (const struct param_table *const[]){&track_table, &atoms_evolve_table, NULL},
    .validate = atoms_validate,
    .pack_params = atoms_pack_params,
    .free_params = atoms_free_params,
    .start = atoms_start,
    .slice = atoms_slice,
    .finish = atoms_finish,
    .destroy = atoms_destroy,
    .on_succeeded = store_atoms_import,
};
