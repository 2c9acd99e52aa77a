/* The atoms job (SPEC §9, track mode): for every `every`-th frame of a trajectory
 * (F×N×N float64, e.g. an LES job's "trajectory"; an N×N field counts as one frame),
 * the closed carrier (closure.c), its atoms (atoms.c, atoms below gamma_min pruned) and
 * the threading to the previous processed frame (threads.c).
 *
 * Frames are read from the blob a slice at a time (the input is never held whole). The
 * atom, lineage and audit rows accumulate on the host and become the outputs "atoms",
 * "lineage" and "atom_audit" (float64 tables, layouts in store_atoms.h), which the daemon
 * imports into its tables when the job succeeds. `step` in every row and metric is the
 * frame index in the input.
 *
 * Per-step metrics: atoms.count, atoms.gamma_total, atoms.closure_depth,
 * atoms.description_length, and from the second frame on events.continuation/split/
 * merge/birth/death, audit.abs_residual, audit.signed_residual.
 *
 * The carrier and the labelling run on the host here (the GPU closure kernel needs a
 * fixed pass count and the labelling a GPU pass that are not wired in yet); the job
 * record says so with the summary carrier_on_gpu = 0. Evolve mode (v5) is not built. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "atoms.h"
#include "job.h"
#include "store_atoms.h"
#include "threads.h"

#define ATOMS_MIN_N 4
#define ATOMS_MAX_N 4096

struct atoms_params {
    char from[DASHI_HASH_HEX + 1];
    int64_t from_job;
    int mode;
    uint64_t every;
    double tau, gamma_min, gate, min_overlap;
    uint64_t n, frames; /* from the input's shape (0 while it is still being produced) */
};

static const char *const modes[] = {"track", NULL};

static int atoms_validate(const struct job_submit_ctx *ctx, const msgpack_object *args, void **out,
                          struct job_plan *plan, struct dashi_error *err)
{
    static const char *const allowed[] = {"from", "mode", "every", "tau", "gamma_min", "gate", "min_overlap", NULL};
    struct atoms_params *p = calloc(1, sizeof *p);
    if (!p)
        return dashi_fail(err, DASHI_E_INTERNAL, "", "out of memory");
    *out = NULL;
    struct thread_params tp;
    thread_params_default(&tp);
    if (args_only(args, allowed, err) ||
        job_input_ref(ctx, args, "from", "trajectory", true, p->from, &p->from_job, plan, err) ||
        arg_enum(args, "mode", false, 0, modes, &p->mode, err) ||
        arg_u64(args, "every", false, 1, 1, UINT32_MAX, &p->every, err) ||
        arg_f64(args, "tau", false, 0.35, 0, 1, &p->tau, err) ||
        arg_f64(args, "gamma_min", false, 0, 0, HUGE_VAL, &p->gamma_min, err) ||
        arg_f64(args, "gate", false, tp.gate, 0, 1e6, &p->gate, err) ||
        arg_f64(args, "min_overlap", false, tp.min_overlap, 0, 1, &p->min_overlap, err))
        goto fail;
    if (p->tau <= 0) {
        dashi_fail(err, DASHI_E_BAD_VALUE, "tau", "tau must be in (0, 1]");
        goto fail;
    }
    snprintf(plan->precision, sizeof plan->precision, "f64");
    snprintf(plan->mode, sizeof plan->mode, "%s", modes[p->mode]);
    plan->require_gpu = false;
    plan->mem_estimate = 0; /* host-only for now */
    if (plan->ndeps > 0) { /* the input's shape is checked once its job has succeeded */
        plan->total_steps = 1;
        *out = p;
        return 0;
    }
    struct blob_meta m;
    struct dashi_error lookup;
    if (store_blob_get(ctx->store, p->from, &m, &lookup) != 0) {
        dashi_fail(err, DASHI_E_NOT_FOUND, "from", "no blob %s (upload it with `dashi put`)", p->from);
        goto fail;
    }
    bool square3 = m.info.ndim == 3 && m.info.shape[1] == m.info.shape[2];
    bool square2 = m.info.ndim == 2 && m.info.shape[0] == m.info.shape[1];
    if (m.info.dtype != NPY_F8 || !(square3 || square2)) {
        dashi_fail(err, DASHI_E_BAD_VALUE, "from", "from must be a float64 F×N×N trajectory or an N×N field");
        goto fail;
    }
    p->n = square3 ? m.info.shape[1] : m.info.shape[0];
    p->frames = square3 ? m.info.shape[0] : 1;
    if (p->n < ATOMS_MIN_N || p->n > ATOMS_MAX_N || p->frames == 0) {
        dashi_fail(err, DASHI_E_BAD_VALUE, "from", "N must be between %d and %d and there must be a frame",
                   ATOMS_MIN_N, ATOMS_MAX_N);
        goto fail;
    }
    if (!m.all_finite) {
        dashi_fail(err, DASHI_E_BAD_VALUE, "from", "from contains NaN or Inf");
        goto fail;
    }
    plan->total_steps = (p->frames + p->every - 1) / p->every;
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
    msgpack_pack_map(pk, 7); /* exactly the arguments validate takes */
    if (p->from_job)
        pk_kv_i64(pk, "from", p->from_job);
    else
        pk_kv_str(pk, "from", p->from);
    pk_kv_str(pk, "mode", modes[p->mode]);
    pk_kv_u64(pk, "every", p->every);
    pk_kv_f64(pk, "tau", p->tau);
    pk_kv_f64(pk, "gamma_min", p->gamma_min);
    pk_kv_f64(pk, "gate", p->gate);
    pk_kv_f64(pk, "min_overlap", p->min_overlap);
}

static void atoms_free_params(void *params) { free(params); }

/* ---- execution ---- */

/* A growable float64 table of fixed width. */
struct table {
    double *v;
    size_t rows, cap, cols;
};

static double *table_row(struct table *t)
{
    if (t->rows == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 1024;
        double *p = realloc(t->v, cap * t->cols * sizeof *p);
        if (!p)
            return NULL;
        t->v = p;
        t->cap = cap;
    }
    return t->v + t->rows++ * t->cols;
}

struct atoms_state {
    const struct atoms_params *p;
    struct thread_params tp;
    uint64_t data_offset;      /* where the frames start in the input file */
    uint64_t next_frame;       /* input frame index of the next frame to process */
    uint64_t processed;
    int64_t prev_step;
    struct atom_frame prev;    /* count 0 and no labels before the first frame */
    bool have_prev;
    double *omega;
    int8_t *carrier;
    struct table atoms, lineage, audit;
    double host_ms;
    double events[LINEAGE_KIND_COUNT];
    double abs_residual_total;
};

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

static void state_free(struct atoms_state *s)
{
    if (!s)
        return;
    atom_frame_free(&s->prev);
    free(s->omega);
    free(s->carrier);
    free(s->atoms.v);
    free(s->lineage.v);
    free(s->audit.v);
    free(s);
}

static int atoms_start(struct job_exec *ex, const void *params, void **out, struct dashi_error *err)
{
    const struct atoms_params *p = params;
    struct atoms_state *s = calloc(1, sizeof *s);
    if (!s)
        return dashi_fail(err, DASHI_E_INTERNAL, "", "out of memory");
    s->p = p;
    thread_params_default(&s->tp);
    s->tp.gate = p->gate;
    s->tp.min_overlap = p->min_overlap;
    s->atoms.cols = ATOMS_COLS;
    s->lineage.cols = LINEAGE_COLS;
    s->audit.cols = AUDIT_COLS;
    size_t nn = (size_t)p->n * p->n;
    s->omega = malloc(nn * sizeof *s->omega);
    s->carrier = malloc(nn);
    struct blob_meta m;
    if (!s->omega || !s->carrier) {
        state_free(s);
        return dashi_fail(err, DASHI_E_INTERNAL, "", "out of host memory");
    }
    if (blobstore_meta(job_blobs(ex), p->from, &m, err) != 0) {
        state_free(s);
        return -1;
    }
    if (m.info.count != p->frames * nn) {
        state_free(s);
        return dashi_fail(err, DASHI_E_BAD_VALUE, "from", "the input changed shape since validation");
    }
    s->data_offset = m.size - m.info.nbytes;
    *out = s;
    return 0;
}

/* Description length of one frame, in bits (docs/numerics.md): per atom its sign, its
 * centroid to one cell, its size and Γ at 16 bits; per event 1 bit for a continuation
 * and 2 for the others (per edge, births and deaths included). */
static double description_length(const struct atom_frame *f, const struct thread_result *r)
{
    double bits = 0, cell_bits = 2 * log2((double)f->n);
    for (size_t k = 0; k < f->count; k++)
        bits += 1 + cell_bits + log2(1.0 + f->atoms[k].cells) + 16;
    if (r)
        for (size_t e = 0; e < r->nedges; e++)
            bits += r->edges[e].kind == LINEAGE_CONTINUATION ? 1 : 2;
    return bits;
}

static int process_frame(struct job_exec *ex, struct atoms_state *s, struct dashi_error *err)
{
    const struct atoms_params *p = s->p;
    size_t nn = (size_t)p->n * p->n;
    int64_t step = (int64_t)s->next_frame;
    size_t got = 0;
    uint64_t total = 0;
    if (blobstore_read(job_blobs(ex), p->from, s->data_offset + s->next_frame * nn * sizeof(double), s->omega,
                       nn * sizeof(double), &got, &total, err) != 0)
        return -1;
    if (got != nn * sizeof(double))
        return dashi_fail(err, DASHI_E_IO, "from", "short read of frame %lld", (long long)step);
    int depth = 0;
    struct atom_frame cur;
    if (atoms_closed_carrier(s->omega, (uint32_t)p->n, p->tau, s->carrier, &depth, err) != 0 ||
        atoms_extract(s->carrier, s->omega, (uint32_t)p->n, s->tp.box, &cur, err) != 0)
        return -1;
    /* Γ-descending order makes the pruned atoms a suffix. */
    size_t keep = cur.count;
    while (keep > 0 && cur.atoms[keep - 1].gamma < p->gamma_min)
        keep--;
    if (keep < cur.count) {
        for (size_t c = 0; c < nn; c++)
            if (cur.labels[c] >= (int32_t)keep)
                cur.labels[c] = -1;
        cur.count = keep;
    }
    double gamma_total = 0;
    for (size_t k = 0; k < cur.count; k++) {
        const struct atom *a = &cur.atoms[k];
        double *row = table_row(&s->atoms);
        if (!row)
            goto oom;
        row[ATOMS_COL_STEP] = (double)step;
        row[ATOMS_COL_IDX] = (double)k;
        row[ATOMS_COL_SIGMA] = a->sigma;
        row[ATOMS_COL_GAMMA] = a->gamma;
        row[ATOMS_COL_CX] = a->cx;
        row[ATOMS_COL_CY] = a->cy;
        row[ATOMS_COL_EPS] = a->eps;
        row[ATOMS_COL_ORIENTATION] = a->orientation;
        row[ATOMS_COL_ELONGATION] = a->elongation;
        row[ATOMS_COL_CELLS] = a->cells;
        gamma_total += a->gamma;
    }
    struct thread_result r = {0};
    if (s->have_prev) {
        if (threads_link(&s->prev, &cur, &s->tp, &r, err) != 0) {
            atom_frame_free(&cur);
            return -1;
        }
        for (size_t e = 0; e < r.nedges; e++) {
            double *row = table_row(&s->lineage);
            if (!row)
                goto oom_r;
            row[LINEAGE_COL_PARENT_STEP] = (double)s->prev_step;
            row[LINEAGE_COL_PARENT_IDX] = r.edges[e].parent;
            row[LINEAGE_COL_CHILD_STEP] = (double)step;
            row[LINEAGE_COL_CHILD_IDX] = r.edges[e].child;
            row[LINEAGE_COL_KIND] = r.edges[e].kind;
            row[LINEAGE_COL_FRACTION] = r.edges[e].fraction;
        }
        for (size_t k = 0; k < r.naudit; k++) {
            double *row = table_row(&s->audit);
            if (!row)
                goto oom_r;
            row[AUDIT_COL_STEP] = (double)(r.audit[k].at_parent ? s->prev_step : step);
            row[AUDIT_COL_IDX] = r.audit[k].idx;
            row[AUDIT_COL_EVENT] = r.audit[k].event;
            row[AUDIT_COL_RESIDUAL] = r.audit[k].residual;
            row[AUDIT_COL_SIGNED] = r.audit[k].signed_residual;
        }
        for (int k = 0; k < LINEAGE_KIND_COUNT; k++) {
            char key[48];
            snprintf(key, sizeof key, "events.%s", lineage_kind_name((enum lineage_kind)k));
            job_emit_metric(ex, key, step, (double)r.events[k]);
            s->events[k] += (double)r.events[k];
        }
        job_emit_metric(ex, "audit.abs_residual", step, r.abs_residual);
        job_emit_metric(ex, "audit.signed_residual", step, r.signed_residual);
        s->abs_residual_total += r.abs_residual;
    }
    job_emit_metric(ex, "atoms.count", step, (double)cur.count);
    job_emit_metric(ex, "atoms.gamma_total", step, gamma_total);
    job_emit_metric(ex, "atoms.closure_depth", step, depth);
    job_emit_metric(ex, "atoms.description_length", step, description_length(&cur, s->have_prev ? &r : NULL));
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

static int atoms_slice(struct job_exec *ex, void *state, bool *done, struct dashi_error *err)
{
    struct atoms_state *s = state;
    const struct atoms_params *p = s->p;
    double t0 = now_ms(), budget = job_slice_target_ms(ex);
    while (s->next_frame < p->frames) {
        if (process_frame(ex, s, err) != 0)
            return -1;
        s->next_frame += p->every;
        s->processed++;
        if (now_ms() - t0 >= budget || job_should_stop(ex))
            break;
    }
    s->host_ms += now_ms() - t0;
    uint64_t total = (p->frames + p->every - 1) / p->every;
    job_emit_progress(ex, s->processed, total);
    *done = s->next_frame >= p->frames;
    return 0;
}

static int put_table(struct job_exec *ex, const struct table *t, const char *name, struct dashi_error *err)
{
    uint64_t shape[2] = {t->rows, t->cols};
    struct blob_meta meta;
    static const double none = 0;
    if (blobstore_put_array(job_blobs(ex), NPY_F8, 2, shape, t->v ? t->v : &none, &meta, err) != 0)
        return -1;
    job_emit_output(ex, name, meta.hash);
    return 0;
}

static int atoms_finish(struct job_exec *ex, void *state, struct dashi_error *err)
{
    struct atoms_state *s = state;
    if (put_table(ex, &s->atoms, "atoms", err) != 0 || put_table(ex, &s->lineage, "lineage", err) != 0 ||
        put_table(ex, &s->audit, "atom_audit", err) != 0)
        return -1;
    job_emit_summary(ex, "frames", (double)s->processed);
    job_emit_summary(ex, "atoms_total", (double)s->atoms.rows);
    job_emit_summary(ex, "edges_total", (double)s->lineage.rows);
    for (int k = 0; k < LINEAGE_KIND_COUNT; k++) {
        char key[48];
        snprintf(key, sizeof key, "events_total.%s", lineage_kind_name((enum lineage_kind)k));
        job_emit_summary(ex, key, s->events[k]);
    }
    job_emit_summary(ex, "audit_abs_residual_total", s->abs_residual_total);
    job_emit_summary(ex, "host_ms_per_frame", s->processed ? s->host_ms / (double)s->processed : 0);
    job_emit_summary(ex, "frames_per_s", s->host_ms > 0 ? (double)s->processed / (s->host_ms * 1e-3) : 0);
    job_emit_summary(ex, "carrier_on_gpu", 0);
    return 0;
}

static void atoms_destroy(void *state) { state_free(state); }

const struct job_kind job_kind_atoms = {
    .name = "atoms",
    .validate = atoms_validate,
    .pack_params = atoms_pack_params,
    .free_params = atoms_free_params,
    .start = atoms_start,
    .slice = atoms_slice,
    .finish = atoms_finish,
    .destroy = atoms_destroy,
};
