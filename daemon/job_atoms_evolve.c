/* SPDX-License-Identifier: MIT */
/* Evolve mode of the atoms job (docs/numerics.md "Evolve mode"): the atoms of one
 * input frame, moved by the velocity they induce and put back into the MDL normal form Π
 * at every step, with the lineage recorded by construction.
 *
 *   step 0   the closed-carrier atoms of frame `start`, then Π (the knobs below)
 *   step k   the atoms of step k−1 transported over dt_step = every·dt_frame (RK2,
 *            `substeps` substeps, spectral velocity up to kmax, on the GPU:
 *            atom_velocity.h), then Π. Transport keeps every atom (a continuation of
 *            fraction 1), so the lineage from step k−1 to step k is Π's: continuation,
 *            merge, split and death edges with their fractions, and Π's audit.
 *
 * `step` in rows and metrics is the input frame the atoms stand for, start + k·every, so
 * a track and an evolve of the same LES share their step axis. Where that frame exists
 * the rendered atoms (plus the optional low-k background, fixed at step 0) are scored
 * against it (eval.rel_l2, eval.corr). With `fidelity` > 0 a residual channel
 * (residual_channel.h) carries what the atoms miss at step 0 on a disc of modes and is
 * rendered with them; the atoms' own steps are unchanged.
 * Outputs: the atoms/lineage/atom_audit tables of store_atoms.h and field_final (the last
 * rendered field, N×N f8). No checkpoints: a cancelled or interrupted evolve starts again
 * from step 0. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "atom_velocity.h"
#include "job_atoms.h"
#include "lowpass.h"
#include "monotonic.h"
#include "residual_channel.h"
#include "store_atoms.h"

#define EVOLVE_MAX_STEPS 100000u
#define EVOLVE_MAX_SUBSTEPS 1024u
#define EVOLVE_DEFAULT_KMAX 32u
#define EVOLVE_BACKGROUND_K 8 /* |k| ≤ 8: the LES's forcing/large-scale band */
#define EVOLVE_MIN_CAPACITY 64u
#define EVOLVE_RESIDUAL_MAX_N 1024u /* residual_channel.h: 14 host planes of N² doubles */

enum evolve_background { BACKGROUND_NONE, BACKGROUND_LOWK };
static const char *const backgrounds[] = {"none", "lowk", NULL};

struct atoms_evolve_params {
    char from[DASHI_HASH_HEX + 1];
    int64_t from_job;
    enum atoms_mode_id mode; /* ATOMS_EVOLVE */
    uint64_t start, every, steps, substeps, kmax; /* steps/kmax 0: not resolved yet (default) */
    double dt_frame, tau, merge_dist, merge_angle, split_elong;
    struct atoms_knobs knobs;
    enum evolve_background background;
    double fidelity; /* the slider: 0 the atoms alone, 1 the exact start frame */
    uint64_t n, frames; /* 0 while unknown */
    struct job_common_params common; /* keep */
};

#define P struct atoms_evolve_params
const struct param_spec atoms_evolve_params[] = {
    ATOMS_COMMON_PARAMS(P),
    PARAM_U64("start", P, start, 0, 0, UINT32_MAX, "input frame of the initial atoms; below the frame count"),
    PARAM_U64("steps", P, steps, 0, 1, EVOLVE_MAX_STEPS, "evolve steps", .flags = PARAM_MANUAL | PARAM_ZERO_IS_NIL,
              .default_doc = "the input's frames after start at stride every, at least 1"),
    PARAM_F64("dt_frame", P, dt_frame, 0, 0, HUGE_VAL, "time between input frames",
              .flags = PARAM_MANUAL | PARAM_ABOVE_MIN,
              .default_doc = "the LES job's dt·save_every; required when from is a hash"),
    PARAM_U64("substeps", P, substeps, 4, 1, EVOLVE_MAX_SUBSTEPS, "RK2 substeps per step"),
    PARAM_U64("kmax", P, kmax, 0, 1, ATOM_VELOCITY_MAX_KMAX, "spectral cutoff of the velocity; at most N/2",
              .flags = PARAM_MANUAL | PARAM_ZERO_IS_NIL, .default_doc = "min(N/2, 32)"),
    PARAM_F64("merge_dist", P, merge_dist, 0.5, 0, 100, "merge distance in units of εa + εb (0: no merging)"),
    PARAM_F64("merge_angle", P, merge_angle, M_PI / 4, 0, M_PI / 2,
              "largest orientation difference of a merge (radians)"),
    PARAM_F64("split_elong", P, split_elong, 0, 0, 1e6, "split atoms more elongated than this (0: off, else > 1)"),
    PARAM_ENUM("background", P, background, BACKGROUND_NONE, backgrounds,
               "`lowk`: add the input's |k| <= 8 band, fixed at step 0, to the rendered field"),
    PARAM_F64("fidelity", P, fidelity, 0, 0, 1,
              "the slider: a residual channel of what the atoms miss at step 0, the modes |m| <= fidelity*N/sqrt(2), "
              "evolved on that disc by the whole field's vorticity equation (0: the atoms alone; 1: every mode, "
              "the exact start frame; N <= 1024; not with background lowk)"),
    PARAM_END,
};
#undef P
const struct param_table atoms_evolve_table = {"`atoms`, mode `evolve`", atoms_evolve_params};

/* N, the trajectory's frame count and dt·save_every of an LES job, from its stored
 * parameters (known while it is still queued or running). Returns 1 when `id` is not an
 * LES job. */
static int les_geometry(const struct job_submit_ctx *ctx, int64_t id, uint64_t *n, uint64_t *frames,
                        double *dt_frame, struct dashi_error *err)
{
    struct job_params_view v;
    const msgpack_object *jp;
    if (job_params_open(ctx, id, &v, &jp, err) != 0)
        return -1;
    if (strcmp(v.row.kind, "les") != 0) {
        job_params_close(&v);
        return 1;
    }
    uint64_t steps = 0, save_every = 0;
    double dt = 0;
    int rc = arg_u64(jp, "N", true, 0, 0, UINT64_MAX, n, err) ||
             arg_u64(jp, "steps", true, 0, 0, UINT64_MAX, &steps, err) ||
             arg_u64(jp, "save_every", true, 0, 0, UINT64_MAX, &save_every, err) ||
             arg_f64(jp, "dt", true, 0, 0, HUGE_VAL, &dt, err);
    job_params_close(&v);
    if (rc || save_every == 0 || !(dt > 0))
        return dashi_fail(err, DASHI_E_BAD_VALUE, "from", "LES job %lld has no usable trajectory parameters",
                          (long long)id);
    *frames = steps / save_every + 1;
    *dt_frame = dt * (double)save_every;
    return 0;
}

int atoms_evolve_validate(const struct job_submit_ctx *ctx, const msgpack_object *args,
                          struct atoms_evolve_params **out, struct job_plan *plan, struct dashi_error *err)
{
    struct atoms_evolve_params *p = calloc(1, sizeof *p);
    if (!p)
        return dashi_fail(err, DASHI_E_INTERNAL, "", "out of memory");
    *out = NULL;
    double les_dt_frame = 0;
    bool from_les = false;
    if (params_only(atoms_evolve_params, args, err) || params_parse(atoms_evolve_params, ctx, args, p, plan, err))
        goto fail;
    if (p->from_job) {
        int rc = les_geometry(ctx, p->from_job, &p->n, &p->frames, &les_dt_frame, err);
        if (rc < 0)
            goto fail;
        from_les = rc == 0;
    }
    if (p->from[0] && atoms_input_shape(ctx, p->from, &p->n, &p->frames, err)) /* the blob has the last word */
        goto fail;
    if (!from_les && !param_given(args, "dt_frame")) {
        dashi_fail(err, DASHI_E_MISSING_FIELD, "dt_frame",
                   "dt_frame (the time between two input frames) is required when from is not an LES job");
        goto fail;
    }
    if (param_f64_default(atoms_evolve_params, "dt_frame", args, p, les_dt_frame, err))
        goto fail;
    if (p->split_elong != 0 && p->split_elong <= 1) {
        dashi_fail(err, DASHI_E_BAD_VALUE, "split_elong", "split_elong must be 0 (no splitting) or above 1");
        goto fail;
    }
    if (p->fidelity > 0 && p->background != BACKGROUND_NONE) {
        dashi_fail(err, DASHI_E_BAD_VALUE, "fidelity",
                   "fidelity > 0 carries the residual itself: it does not combine with background lowk");
        goto fail;
    }
    if (p->fidelity > 0 && p->n > EVOLVE_RESIDUAL_MAX_N) {
        dashi_fail(err, DASHI_E_TOO_LARGE, "fidelity", "the residual channel runs on the host up to N %u (N %llu)",
                   EVOLVE_RESIDUAL_MAX_N, (unsigned long long)p->n);
        goto fail;
    }
    if (!isfinite(p->every * p->dt_frame * (double)EVOLVE_MAX_STEPS)) {
        dashi_fail(err, DASHI_E_BAD_VALUE, "dt_frame", "every·dt_frame is too large");
        goto fail;
    }
    /* kmax and the default step count need N and the frame count: known from the blob or
     * the LES job's parameters; otherwise checked when the input exists. */
    uint64_t kmax_cap = p->n ? (p->n / 2 < ATOM_VELOCITY_MAX_KMAX ? p->n / 2 : ATOM_VELOCITY_MAX_KMAX)
                             : ATOM_VELOCITY_MAX_KMAX;
    uint64_t kmax_def = p->n ? (kmax_cap < EVOLVE_DEFAULT_KMAX ? kmax_cap : EVOLVE_DEFAULT_KMAX) : 0;
    if (param_u64_default(atoms_evolve_params, "kmax", args, p, kmax_def, err))
        goto fail;
    if (p->kmax > kmax_cap) {
        dashi_fail(err, DASHI_E_BAD_VALUE, "kmax", "kmax must be between 1 and %llu (min(N/2, %d))",
                   (unsigned long long)kmax_cap, ATOM_VELOCITY_MAX_KMAX);
        goto fail;
    }
    if (p->frames && p->start >= p->frames) {
        dashi_fail(err, DASHI_E_BAD_VALUE, "start", "start must be below the input's %llu frames",
                   (unsigned long long)p->frames);
        goto fail;
    }
    uint64_t steps_def = 0;
    if (p->frames) {
        steps_def = (p->frames - 1 - p->start) / p->every;
        if (steps_def < 1)
            steps_def = 1;
    }
    if (param_u64_default(atoms_evolve_params, "steps", args, p, steps_def, err))
        goto fail;
    snprintf(plan->precision, sizeof plan->precision, "f64");
    snprintf(plan->mode, sizeof plan->mode, "%s", atoms_mode_names[ATOMS_EVOLVE]);
    plan->require_gpu = false;
    plan->total_steps = p->steps ? p->steps + 1 : 1;
    /* Splitting may double the count after the budget; without a budget, the carrier holds at
     * most N²/4 components (isolated cells, 8-connected). */
    uint64_t cap = p->knobs.budget ? 2 * p->knobs.budget : p->n * p->n / 2;
    plan->mem_estimate = p->kmax ? atom_velocity_gpu_bytes(cap > EVOLVE_MIN_CAPACITY ? cap : EVOLVE_MIN_CAPACITY,
                                                           (uint32_t)p->kmax)
                                 : 0;
    /* Its atom rows, at most cap atoms a step, and field_final (N×N f8, an npy header). */
    uint64_t rows = atoms_rows_disk_estimate(plan->total_steps, cap), field = p->n * p->n * 8 + 128;
    plan->disk_estimate = rows > UINT64_MAX - field ? UINT64_MAX : rows + field;
    job_plan_input(plan, "from", p->from);
    *out = p;
    return 0;
fail:
    free(p);
    return -1;
}

void atoms_evolve_pack(const struct atoms_evolve_params *p, msgpack_packer *pk)
{
    params_pack(atoms_evolve_params, p, pk); /* exactly the arguments validate takes */
}

void atoms_evolve_free(struct atoms_evolve_params *p) { free(p); }

/* ---- execution ---- */

struct atoms_evolve_state {
    const struct atoms_evolve_params *p;
    struct nf_params nf;
    double dt_step;
    struct atoms_input input;
    uint64_t k;                     /* the next evolve step to produce */
    struct atom *cur;               /* the atoms of step k − 1 */
    size_t ncur;
    struct atom_point *pts;
    size_t pts_cap;
    struct residual_channel *residual; /* NULL with fidelity 0 */
    double *atoms_before, *atoms_after; /* n×n renders around a transport, with the channel */
    double residual_ms;
    struct atom_velocity_gpu *gpu;
    size_t gpu_cap;
    double *omega, *field, *background; /* n×n each; background NULL with background none */
    int8_t *carrier;
    struct atom_outputs out;
    struct atom_events events;
    double rel_first, corr_first, rel_last, corr_last, rel_sum, corr_sum;
    uint64_t evals;
    double transport_ms, host_ms;
    uint64_t atom_steps;            /* Σ atoms transported */
};

static void evolve_destroy(void *state)
{
    struct atoms_evolve_state *s = state;
    if (!s)
        return;
    atom_velocity_gpu_destroy(s->gpu);
    residual_channel_destroy(s->residual);
    free(s->atoms_before);
    free(s->atoms_after);
    atoms_input_close(&s->input);
    free(s->cur);
    free(s->pts);
    free(s->omega);
    free(s->field);
    free(s->background);
    free(s->carrier);
    atom_outputs_free(&s->out);
    free(s);
}

static int evolve_start(struct job_exec *ex, const void *mode_params, void **out, struct dashi_error *err)
{
    const struct atoms_evolve_params *p = mode_params;
    struct atoms_evolve_state *s = calloc(1, sizeof *s);
    if (!s)
        return dashi_fail(err, DASHI_E_INTERNAL, "", "out of memory");
    s->p = p;
    atoms_knobs_nf(&p->knobs, p->n, &s->nf);
    s->nf.merge_dist = p->merge_dist;
    s->nf.merge_angle = p->merge_angle;
    s->nf.split_elong = p->split_elong;
    s->dt_step = (double)p->every * p->dt_frame;
    atom_outputs_init(&s->out);
    size_t nn = (size_t)p->n * p->n;
    s->omega = malloc(nn * sizeof *s->omega);
    s->field = malloc(nn * sizeof *s->field);
    s->carrier = malloc(nn);
    if (p->background == BACKGROUND_LOWK) /* zero until step 0 has measured it */
        s->background = calloc(nn, sizeof *s->background);
    if (!s->omega || !s->field || !s->carrier || (p->background == BACKGROUND_LOWK && !s->background)) {
        evolve_destroy(s);
        return dashi_fail(err, DASHI_E_INTERNAL, "", "out of host memory");
    }
    if (atoms_input_open(ex, p->from, p->n, p->frames, &s->input, err) != 0) {
        evolve_destroy(s);
        return -1;
    }
    *out = s;
    return 0;
}

static int ensure_points(struct atoms_evolve_state *s, size_t count, struct dashi_error *err)
{
    if (count <= s->pts_cap)
        return 0;
    size_t cap = count < EVOLVE_MIN_CAPACITY ? EVOLVE_MIN_CAPACITY : count;
    struct atom_point *q = realloc(s->pts, cap * sizeof *q);
    if (!q)
        return dashi_fail(err, DASHI_E_INTERNAL, "", "out of host memory for %zu atoms", count);
    s->pts = q;
    s->pts_cap = cap;
    return 0;
}

static int to_points(struct atoms_evolve_state *s, const struct atom *a, size_t count, struct dashi_error *err)
{
    if (ensure_points(s, count, err) != 0)
        return -1;
    for (size_t k = 0; k < count; k++)
        s->pts[k] = (struct atom_point){.x = a[k].cx, .y = a[k].cy, .q = a[k].sigma * a[k].gamma, .eps = a[k].eps};
    return 0;
}

/* The rendered atoms of s->cur (plus the background) into s->field. */
static int render(struct atoms_evolve_state *s, struct dashi_error *err)
{
    const struct atoms_evolve_params *p = s->p;
    if (to_points(s, s->cur, s->ncur, err) != 0 ||
        atoms_render_host(s->pts, s->ncur, (uint32_t)p->n, 2 * M_PI, s->field, err) != 0)
        return -1;
    if (s->background) {
        size_t nn = (size_t)p->n * p->n;
        for (size_t c = 0; c < nn; c++)
            s->field[c] += s->background[c];
    }
    if (s->residual)
        residual_channel_add(s->residual, s->field);
    return 0;
}

/* rel_l2 and Pearson corr of s->field against s->omega; false when undefined (a zero or
 * constant truth). */
static bool score(const struct atoms_evolve_state *s, double *rel_l2, double *corr)
{
    size_t nn = (size_t)s->p->n * s->p->n;
    double st = 0, sp = 0;
    for (size_t c = 0; c < nn; c++) {
        st += s->omega[c];
        sp += s->field[c];
    }
    double mt = st / (double)nn, mp = sp / (double)nn;
    double diff2 = 0, t2 = 0, vt = 0, vp = 0, cov = 0;
    for (size_t c = 0; c < nn; c++) {
        double t = s->omega[c], q = s->field[c];
        diff2 += (q - t) * (q - t);
        t2 += t * t;
        vt += (t - mt) * (t - mt);
        vp += (q - mp) * (q - mp);
        cov += (t - mt) * (q - mp);
    }
    if (!(t2 > 0) || !(vt > 0))
        return false;
    *rel_l2 = sqrt(diff2 / t2);
    *corr = vp > 0 ? cov / sqrt(vt * vp) : 0;
    return true;
}

static void emit_eval(struct job_exec *ex, struct atoms_evolve_state *s, int64_t step)
{
    double rel, corr;
    if (!score(s, &rel, &corr))
        return;
    job_emit_metric(ex, "eval.rel_l2", step, rel);
    job_emit_metric(ex, "eval.corr", step, corr);
    if (s->evals == 0) {
        s->rel_first = rel;
        s->corr_first = corr;
    }
    s->rel_last = rel;
    s->corr_last = corr;
    s->rel_sum += rel;
    s->corr_sum += corr;
    s->evals++;
}

static void emit_atoms(struct job_exec *ex, const struct atoms_evolve_state *s, int64_t step,
                       const struct lineage_edge *edges, size_t nedges)
{
    double gamma_total = 0;
    for (size_t k = 0; k < s->ncur; k++)
        gamma_total += s->cur[k].gamma;
    job_emit_metric(ex, "atoms.count", step, (double)s->ncur);
    job_emit_metric(ex, "atoms.gamma_total", step, gamma_total);
    job_emit_metric(ex, "atoms.description_length", step,
                    atoms_description_length(s->cur, s->ncur, (uint32_t)s->p->n, edges, nedges));
}

/* Takes r's atoms as the current set (r keeps its edges and audit). */
static void adopt(struct atoms_evolve_state *s, struct nf_result *r)
{
    free(s->cur);
    s->cur = r->atoms;
    s->ncur = r->count;
    r->atoms = NULL;
    r->count = 0;
}

static int step_zero(struct job_exec *ex, struct atoms_evolve_state *s, struct dashi_error *err)
{
    const struct atoms_evolve_params *p = s->p;
    int64_t step = (int64_t)p->start;
    struct nf_params none;
    nf_params_default(&none);
    struct atom_frame frame;
    int depth = 0;
    struct nf_result r;
    if (atoms_input_read(ex, &s->input, p->start, s->omega, err) != 0 ||
        atoms_frame_of(s->omega, (uint32_t)p->n, p->tau, &none, s->carrier, &frame, &depth, NULL, err) != 0)
        return -1;
    int rc = normal_form_apply(frame.atoms, frame.count, &s->nf, &r, err);
    atom_frame_free(&frame);
    if (rc != 0)
        return -1;
    adopt(s, &r);
    nf_result_free(&r);
    if (atom_table_atoms(&s->out.atoms, step, s->cur, s->ncur) != 0)
        return dashi_fail(err, DASHI_E_INTERNAL, "", "out of host memory for the atom tables");
    if (render(s, err) != 0)
        return -1;
    if (s->background) {
        /* background = the low-k part of what the atoms miss at the start, held fixed */
        size_t nn = (size_t)p->n * p->n;
        for (size_t c = 0; c < nn; c++)
            s->field[c] = s->omega[c] - s->field[c];
        if (lowpass_disc(s->field, (uint32_t)p->n, EVOLVE_BACKGROUND_K, s->background, err) != 0)
            return -1;
        if (render(s, err) != 0)
            return -1;
    }
    if (p->fidelity > 0) {
        /* the channel = the disc's part of everything the atoms miss at the start */
        size_t nn = (size_t)p->n * p->n;
        for (size_t c = 0; c < nn; c++)
            s->field[c] = s->omega[c] - s->field[c];
        s->atoms_before = malloc(nn * sizeof *s->atoms_before);
        s->atoms_after = malloc(nn * sizeof *s->atoms_after);
        if (!s->atoms_before || !s->atoms_after)
            return dashi_fail(err, DASHI_E_INTERNAL, "", "out of host memory for the residual channel");
        if (residual_channel_create(s->field, (uint32_t)p->n, 2 * M_PI, p->fidelity, &s->residual, err) != 0 ||
            render(s, err) != 0)
            return -1;
    }
    emit_atoms(ex, s, step, NULL, 0);
    job_emit_metric(ex, "atoms.closure_depth", step, depth);
    emit_eval(ex, s, step);
    return 0;
}

/* Moves s->cur by dt_step on the GPU (growing its buffers when the count outgrew them). */
static int transport(struct job_exec *ex, struct atoms_evolve_state *s, struct dashi_error *err)
{
    if (s->ncur == 0 && s->residual) { /* no atoms left: the channel carries the whole field */
        size_t nn = (size_t)s->p->n * s->p->n;
        memset(s->atoms_before, 0, nn * sizeof *s->atoms_before);
        memset(s->atoms_after, 0, nn * sizeof *s->atoms_after);
        return residual_channel_advect(s->residual, s->atoms_before, s->atoms_after, s->dt_step,
                                       (uint32_t)s->p->substeps, err);
    }
    if (s->ncur == 0)
        return 0;
    if (s->ncur > s->gpu_cap) {
        atom_velocity_gpu_destroy(s->gpu);
        s->gpu = NULL;
        size_t cap = s->gpu_cap ? s->gpu_cap : EVOLVE_MIN_CAPACITY;
        while (cap < s->ncur)
            cap *= 2;
        if (atom_velocity_gpu_create(job_vk(ex), cap, (uint32_t)s->p->kmax, &s->gpu, err) != 0) {
            s->gpu_cap = 0;
            return -1;
        }
        s->gpu_cap = cap;
    }
    if (to_points(s, s->cur, s->ncur, err) != 0)
        return -1;
    if (s->residual && atoms_render_host(s->pts, s->ncur, (uint32_t)s->p->n, 2 * M_PI, s->atoms_before, err) != 0)
        return -1;
    double t0 = monotonic_ms();
    if (atom_advect_gpu(s->gpu, s->pts, s->ncur, 2 * M_PI, s->dt_step, (uint32_t)s->p->substeps, err) != 0)
        return -1;
    s->transport_ms += monotonic_ms() - t0;
    if (s->residual) {
        /* the channel takes what the vorticity equation asks beyond the atoms' motion */
        t0 = monotonic_ms();
        if (atoms_render_host(s->pts, s->ncur, (uint32_t)s->p->n, 2 * M_PI, s->atoms_after, err) != 0 ||
            residual_channel_advect(s->residual, s->atoms_before, s->atoms_after, s->dt_step,
                                    (uint32_t)s->p->substeps, err) != 0)
            return -1;
        s->residual_ms += monotonic_ms() - t0;
    }
    s->atom_steps += s->ncur;
    for (size_t k = 0; k < s->ncur; k++) {
        if (!isfinite(s->pts[k].x) || !isfinite(s->pts[k].y))
            return dashi_fail(err, DASHI_E_DIVERGED, "", "atom %zu left the box (non-finite position)", k);
        s->cur[k].cx = s->pts[k].x;
        s->cur[k].cy = s->pts[k].y;
    }
    return 0;
}

/* Π after a transport may merge or drop atoms: the channel takes the change of the rendered
 * atoms (atoms_after, before Π, minus s->cur's), so what Π removes stays carried on the disc. */
static int absorb_normal_form(struct atoms_evolve_state *s, struct dashi_error *err)
{
    size_t nn = (size_t)s->p->n * s->p->n;
    if (s->ncur && (to_points(s, s->cur, s->ncur, err) != 0 ||
                    atoms_render_host(s->pts, s->ncur, (uint32_t)s->p->n, 2 * M_PI, s->atoms_before, err) != 0))
        return -1;
    if (!s->ncur)
        memset(s->atoms_before, 0, nn * sizeof *s->atoms_before);
    for (size_t c = 0; c < nn; c++)
        s->atoms_after[c] -= s->atoms_before[c];
    residual_channel_absorb(s->residual, s->atoms_after);
    return 0;
}

static int step_next(struct job_exec *ex, struct atoms_evolve_state *s, struct dashi_error *err)
{
    const struct atoms_evolve_params *p = s->p;
    int64_t prev = (int64_t)(p->start + (s->k - 1) * p->every), step = (int64_t)(p->start + s->k * p->every);
    struct nf_result r;
    if (transport(ex, s, err) != 0 || normal_form_apply(s->cur, s->ncur, &s->nf, &r, err) != 0)
        return -1;
    /* Transport is a continuation of fraction 1 for every atom, so composing it with Π
     * leaves Π's edges and audit, parents at the previous step. */
    if (atom_table_edges(&s->out.lineage, prev, step, r.edges, r.nedges) != 0 ||
        atom_table_audit(&s->out.audit, prev, step, r.audit, r.naudit) != 0 ||
        atom_table_atoms(&s->out.atoms, step, r.atoms, r.count) != 0) {
        nf_result_free(&r);
        return dashi_fail(err, DASHI_E_INTERNAL, "", "out of host memory for the atom tables");
    }
    atom_events_step(ex, &s->events, step, r.events, r.abs_residual, r.signed_residual);
    adopt(s, &r);
    if (s->residual && absorb_normal_form(s, err) != 0) {
        nf_result_free(&r);
        return -1;
    }
    emit_atoms(ex, s, step, r.edges, r.nedges);
    nf_result_free(&r);
    if (render(s, err) != 0)
        return -1;
    if ((uint64_t)step < p->frames) {
        if (atoms_input_read(ex, &s->input, (uint64_t)step, s->omega, err) != 0)
            return -1;
        emit_eval(ex, s, step);
    }
    return 0;
}

static int evolve_slice(struct job_exec *ex, void *state, bool *done, struct dashi_error *err)
{
    struct atoms_evolve_state *s = state;
    const struct atoms_evolve_params *p = s->p;
    double t0 = monotonic_ms(), budget = job_slice_target_ms(ex);
    while (s->k <= p->steps) {
        if ((s->k == 0 ? step_zero(ex, s, err) : step_next(ex, s, err)) != 0)
            return -1;
        s->k++;
        if (monotonic_ms() - t0 >= budget || job_should_stop(ex))
            break;
    }
    s->host_ms += monotonic_ms() - t0;
    job_emit_progress(ex, s->k, p->steps + 1);
    *done = s->k > p->steps;
    return 0;
}

static int evolve_finish(struct job_exec *ex, void *state, struct dashi_error *err)
{
    struct atoms_evolve_state *s = state;
    const struct atoms_evolve_params *p = s->p;
    uint64_t shape[2] = {p->n, p->n};
    struct blob_meta meta;
    if (atom_outputs_put(ex, &s->out, err) != 0 ||
        blobstore_put_array(job_blobs(ex), NPY_F8, 2, shape, s->field, &meta, err) != 0)
        return -1;
    job_emit_output(ex, "field_final", meta.hash);
    job_emit_summary(ex, "steps", (double)p->steps);
    job_emit_summary(ex, "dt_step", s->dt_step);
    job_emit_summary(ex, "atoms_total", (double)s->out.atoms.rows);
    job_emit_summary(ex, "atoms_final", (double)s->ncur);
    job_emit_summary(ex, "edges_total", (double)s->out.lineage.rows);
    atom_events_summary(ex, &s->events);
    if (s->evals) {
        job_emit_summary(ex, "relL2_0", s->rel_first);
        job_emit_summary(ex, "corr_0", s->corr_first);
        job_emit_summary(ex, "relL2_T", s->rel_last);
        job_emit_summary(ex, "corr_T", s->corr_last);
        job_emit_summary(ex, "relL2_mean", s->rel_sum / (double)s->evals);
        job_emit_summary(ex, "corr_mean", s->corr_sum / (double)s->evals);
    }
    job_emit_summary(ex, "eval_steps", (double)s->evals);
    job_emit_summary(ex, "ms_per_step", s->host_ms / (double)(p->steps + 1));
    job_emit_summary(ex, "transport_ms_total", s->transport_ms);
    job_emit_summary(ex, "residual_modes", s->residual ? (double)residual_channel_modes(s->residual) : 0);
    job_emit_summary(ex, "residual_ms_total", s->residual_ms);
    job_emit_summary(ex, "atom_steps_per_s",
                     s->transport_ms > 0 ? (double)s->atom_steps / (s->transport_ms * 1e-3) : 0);
    return 0;
}

const struct atoms_mode atoms_mode_evolve = {
    .start = evolve_start,
    .slice = evolve_slice,
    .finish = evolve_finish,
    .destroy = evolve_destroy,
};
