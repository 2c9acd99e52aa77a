/* SPDX-License-Identifier: MIT */
/* The parts of the atoms job both modes use (job_atoms.h): the pruning knobs, the input
 * check, the atoms of one frame, and the output tables. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "closure.h"
#include "job_atoms.h"
#include "store_atoms.h"

const char *const atoms_mode_names[] = {"track", "evolve", NULL};

#define K struct atoms_knobs
const struct param_spec atoms_knobs_group[] = {
    PARAM_F64("gamma_min", K, gamma_min, 0, 0, HUGE_VAL, "drop atoms with |circulation| below"),
    PARAM_U64("min_cells", K, min_cells, 0, 0, UINT32_MAX, "drop atoms of fewer cells"),
    PARAM_F64("lambda", K, lambda, 0, 0, HUGE_VAL, "MDL weight: drop atoms that cost more bits than they explain"),
    PARAM_U64("budget", K, budget, 0, 0, UINT32_MAX, "atoms kept per step (0: unlimited)"),
    PARAM_END,
};
#undef K

void atoms_knobs_nf(const struct atoms_knobs *k, uint64_t n, struct nf_params *p)
{
    nf_params_default(p);
    p->gamma_min = k->gamma_min;
    p->min_cells = (uint32_t)k->min_cells;
    p->lambda = k->lambda;
    p->budget = (uint32_t)k->budget;
    p->n = (uint32_t)n;
}

int atoms_input_shape(const struct job_submit_ctx *ctx, const char *hash, uint64_t *n, uint64_t *frames,
                      struct dashi_error *err)
{
    static const char what[] = "a float64 F×N×N trajectory or an N×N field";
    struct blob_meta m;
    const struct blob_want field = {.dtype = NPY_F8, .ndims = 1u << 2 | 1u << 3, .finite = true};
    if (job_blob_check(ctx, "from", hash, field, what, &m, err))
        return -1;
    bool square3 = m.info.ndim == 3 && m.info.shape[1] == m.info.shape[2];
    bool square2 = m.info.ndim == 2 && m.info.shape[0] == m.info.shape[1];
    if (!(square3 || square2))
        return dashi_fail(err, DASHI_E_BAD_VALUE, "from", "from must be %s", what);
    *n = square3 ? m.info.shape[1] : m.info.shape[0];
    *frames = square3 ? m.info.shape[0] : 1;
    if (*n < ATOMS_MIN_N || *n > ATOMS_MAX_N || *frames == 0)
        return dashi_fail(err, DASHI_E_BAD_VALUE, "from", "N must be between %d and %d and there must be a frame",
                          ATOMS_MIN_N, ATOMS_MAX_N);
    return 0;
}

static bool prunes(const struct nf_params *p)
{
    return p->gamma_min > 0 || p->min_cells > 0 || p->lambda > 0 || p->budget > 0;
}

int atoms_traced_carrier(const double *omega, uint32_t n, double tau, int8_t *carrier, struct closure_trace *trace,
                         struct dashi_error *err)
{
    if (atoms_initial_carrier(omega, n, tau, carrier, err) != 0)
        return -1;
    return closure_trace_run(carrier, n, CLOSURE_ETA, CARRIER_MAX_LEVELS, trace, err);
}

int atoms_frame_of(const double *omega, uint32_t n, double tau, const struct nf_params *p, int8_t *carrier,
                   struct atom_frame *frame, int *depth, struct closure_trace *trace, struct dashi_error *err)
{
    memset(frame, 0, sizeof *frame);
    int rc = trace ? atoms_traced_carrier(omega, n, tau, carrier, trace, err)
                   : atoms_closed_carrier(omega, n, tau, carrier, depth, err);
    if (rc == 0 && trace)
        *depth = trace->depth;
    if (rc != 0 || atoms_extract(carrier, omega, n, 2 * M_PI, frame, err) != 0)
        return -1;
    return atoms_frame_prune(frame, n, p, err);
}

int atoms_frame_prune(struct atom_frame *frame, uint32_t n, const struct nf_params *p, struct dashi_error *err)
{
    if (!prunes(p) || frame->count == 0)
        return 0;
    struct nf_params steps13 = *p; /* track mode: prune, score, budget only */
    steps13.merge_dist = 0;
    steps13.split_elong = 0;
    struct nf_result r;
    int32_t *remap = malloc(frame->count * sizeof *remap);
    if (!remap) {
        atom_frame_free(frame);
        return dashi_fail(err, DASHI_E_INTERNAL, "", "out of host memory for the atoms");
    }
    if (normal_form_apply(frame->atoms, frame->count, &steps13, &r, err) != 0) {
        free(remap);
        atom_frame_free(frame);
        return -1;
    }
    /* Survivors keep their relative order (Γ-descending, ties by seed = by index), so the
     * continuation edges map old indices to new ones and everything else goes to -1. */
    for (size_t k = 0; k < frame->count; k++)
        remap[k] = -1;
    for (size_t e = 0; e < r.nedges; e++)
        if (r.edges[e].kind == LINEAGE_CONTINUATION)
            remap[r.edges[e].parent] = r.edges[e].child;
    size_t nn = (size_t)n * n;
    for (size_t c = 0; c < nn; c++)
        if (frame->labels[c] >= 0)
            frame->labels[c] = remap[frame->labels[c]];
    memcpy(frame->atoms, r.atoms, r.count * sizeof *r.atoms);
    frame->count = r.count;
    free(remap);
    nf_result_free(&r);
    return 0;
}

double *atom_table_row(struct atom_table *t)
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

int atom_table_atoms(struct atom_table *t, int64_t step, const struct atom *atoms, size_t count)
{
    for (size_t k = 0; k < count; k++) {
        const struct atom *a = &atoms[k];
        double *row = atom_table_row(t);
        if (!row)
            return -1;
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
    }
    return 0;
}

int atom_table_edges(struct atom_table *t, int64_t parent_step, int64_t child_step, const struct lineage_edge *e,
                     size_t count)
{
    for (size_t k = 0; k < count; k++) {
        double *row = atom_table_row(t);
        if (!row)
            return -1;
        row[LINEAGE_COL_PARENT_STEP] = (double)parent_step;
        row[LINEAGE_COL_PARENT_IDX] = e[k].parent;
        row[LINEAGE_COL_CHILD_STEP] = (double)child_step;
        row[LINEAGE_COL_CHILD_IDX] = e[k].child;
        row[LINEAGE_COL_KIND] = e[k].kind;
        row[LINEAGE_COL_FRACTION] = e[k].fraction;
    }
    return 0;
}

int atom_table_audit(struct atom_table *t, int64_t parent_step, int64_t child_step, const struct audit_rec *a,
                     size_t count)
{
    for (size_t k = 0; k < count; k++) {
        double *row = atom_table_row(t);
        if (!row)
            return -1;
        row[AUDIT_COL_STEP] = (double)(a[k].at_parent ? parent_step : child_step);
        row[AUDIT_COL_IDX] = a[k].idx;
        row[AUDIT_COL_EVENT] = a[k].event;
        row[AUDIT_COL_RESIDUAL] = a[k].residual;
        row[AUDIT_COL_SIGNED] = a[k].signed_residual;
    }
    return 0;
}

/* SQLite's cost of a table row beyond its values (header, key, page slack), and the npy
 * header of each of the three table outputs. */
#define ATOM_DB_ROW_OVERHEAD 24
#define ATOM_BLOB_HEADER 128

uint64_t atoms_rows_disk_estimate(uint64_t steps, uint64_t per_step)
{
    /* Each atom is one atoms row, the child of at most two lineage edges on average (a
     * continuation, or its part of a split or merge: edges join overlapping atoms of two
     * frames) and at most two audit rows (its own and, at its parent's step, a death); each
     * row is stored twice, as 8-byte values in the output blob and as a table row. */
    double per_atom = 2.0 * 8 * (ATOMS_COLS + 2 * LINEAGE_COLS + 2 * AUDIT_COLS) + 5.0 * ATOM_DB_ROW_OVERHEAD;
    double bytes = (double)steps * (double)per_step * per_atom + 3.0 * ATOM_BLOB_HEADER;
    return bytes >= 18446744073709551615.0 ? UINT64_MAX : (uint64_t)bytes;
}

int atom_table_put(struct job_exec *ex, const struct atom_table *t, const char *name, struct dashi_error *err)
{
    uint64_t shape[2] = {t->rows, t->cols};
    struct blob_meta meta;
    static const double none = 0;
    if (blobstore_put_array(job_blobs(ex), NPY_F8, 2, shape, t->v ? t->v : &none, &meta, err) != 0)
        return -1;
    job_emit_output(ex, name, meta.hash);
    return 0;
}

double atoms_description_length(const struct atom *atoms, size_t count, uint32_t n, const struct lineage_edge *e,
                                size_t nedges)
{
    double bits = 0;
    for (size_t k = 0; k < count; k++)
        bits += normal_form_atom_bits(&atoms[k], n);
    for (size_t k = 0; k < nedges; k++)
        bits += e[k].kind == LINEAGE_CONTINUATION ? 1 : 2;
    return bits;
}

int atoms_input_open(struct job_exec *ex, const char *hash, uint64_t n, uint64_t frames, struct atoms_input *in,
                     struct dashi_error *err)
{
    *in = (struct atoms_input){.n = n, .frames = frames};
    if (blob_reader_open(job_blobs(ex), "from", hash, &in->blob, err) != 0)
        return -1;
    in->open = true;
    const struct blob_meta *m = &in->blob.meta;
    if (m->info.count != frames * n * n) {
        atoms_input_close(in);
        return dashi_fail(err, DASHI_E_BAD_VALUE, "from", "the input changed shape since validation");
    }
    in->data_offset = m->size - m->info.nbytes;
    return 0;
}

int atoms_input_read(struct job_exec *ex, const struct atoms_input *in, uint64_t frame, double *dst,
                     struct dashi_error *err)
{
    (void)ex;
    size_t bytes = (size_t)(in->n * in->n) * sizeof(double);
    return blob_reader_read(&in->blob, in->data_offset + frame * bytes, dst, bytes, err);
}

void atoms_input_close(struct atoms_input *in)
{
    if (in->open)
        blob_reader_close(&in->blob);
    in->open = false;
}

void atom_outputs_init(struct atom_outputs *o)
{
    *o = (struct atom_outputs){.atoms = {.cols = ATOMS_COLS}, .lineage = {.cols = LINEAGE_COLS},
                               .audit = {.cols = AUDIT_COLS}};
}

void atom_outputs_free(struct atom_outputs *o)
{
    free(o->atoms.v);
    free(o->lineage.v);
    free(o->audit.v);
}

int atom_outputs_put(struct job_exec *ex, const struct atom_outputs *o, struct dashi_error *err)
{
    return atom_table_put(ex, &o->atoms, "atoms", err) || atom_table_put(ex, &o->lineage, "lineage", err) ||
                   atom_table_put(ex, &o->audit, "atom_audit", err)
               ? -1
               : 0;
}

void atom_events_step(struct job_exec *ex, struct atom_events *t, int64_t step, const size_t events[LINEAGE_KIND_COUNT],
                      double abs_residual, double signed_residual)
{
    for (int k = 0; k < LINEAGE_KIND_COUNT; k++) {
        char key[48];
        snprintf(key, sizeof key, "events.%s", lineage_kind_name((enum lineage_kind)k));
        job_emit_metric(ex, key, step, (double)events[k]);
        t->events[k] += (double)events[k];
    }
    job_emit_metric(ex, "audit.abs_residual", step, abs_residual);
    job_emit_metric(ex, "audit.signed_residual", step, signed_residual);
    t->abs_residual_total += abs_residual;
}

void atom_events_summary(struct job_exec *ex, const struct atom_events *t)
{
    for (int k = 0; k < LINEAGE_KIND_COUNT; k++) {
        char key[48];
        snprintf(key, sizeof key, "events_total.%s", lineage_kind_name((enum lineage_kind)k));
        job_emit_summary(ex, key, t->events[k]);
    }
    job_emit_summary(ex, "audit_abs_residual_total", t->abs_residual_total);
}
