/* SPDX-License-Identifier: MIT */
/* What the two modes of the atoms job share: track (job_atoms.c, which owns the job kind)
 * and evolve (job_atoms_evolve.c, reached through its parameter hooks and its struct
 * atoms_mode below). */
#ifndef DASHI_JOB_ATOMS_H
#define DASHI_JOB_ATOMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "atoms.h"
#include "closure_trace.h"
#include "job.h"
#include "job_params.h"
#include "normal_form.h"
#include "lineage_thread.h"

#define ATOMS_MIN_N 4
#define ATOMS_MAX_N 4096

/* The pruning knobs both modes take (Π steps 1-3, normal_form.h). */
struct atoms_knobs {
    double gamma_min, lambda;
    uint64_t min_cells, budget;
};
/* Their parameter group: gamma_min, min_cells, lambda, budget (0 = unlimited). */
extern const struct param_spec atoms_knobs_group[];

enum atoms_mode_id { ATOMS_TRACK, ATOMS_EVOLVE };
extern const char *const atoms_mode_names[]; /* "track", "evolve" */
/* The parameters both modes take, declared once for a mode's params struct T (fields
 * from, from_job, mode, every, tau, knobs). Without `mode`, a job is a track job. */
#define ATOMS_COMMON_PARAMS(T)                                                                                     \
    PARAM_INPUT("from", T, from, from_job, "trajectory,omega_hat",                                                 \
                "F×N×N or N×N f8 (4 <= N <= 4096): a hash, an LES job or a decode job with observer snapshots",    \
                .flags = PARAM_REQUIRED),                                                                          \
        PARAM_ENUM("mode", T, mode, ATOMS_TRACK, atoms_mode_names, "track the frames' atoms or evolve one frame's"), \
        PARAM_U64("every", T, every, 1, 1, UINT32_MAX, "frame stride"),                                            \
        PARAM_F64("tau", T, tau, 0.35, 0, 1, "closed-carrier threshold, a fraction of max |omega|",                \
                  .flags = PARAM_ABOVE_MIN),                                                                       \
        PARAM_GROUP(T, knobs, atoms_knobs_group), PARAM_GROUP(T, common, job_common_param_group)

/* Π parameters with the knobs set and merging/splitting off. */
void atoms_knobs_nf(const struct atoms_knobs *k, uint64_t n, struct nf_params *p);
/* The disk bytes an atoms job may store for `steps` steps of at most `per_step` atoms each,
 * besides its field outputs: the atoms, lineage and audit outputs and the same rows in
 * the database (docs/storage.md "Disk space"). Saturates at UINT64_MAX. */
uint64_t atoms_rows_disk_estimate(uint64_t steps, uint64_t per_step);

/* Checks a resolved `from` blob (float64 F×N×N or N×N, finite, N in range): its N and
 * frame count. */
int atoms_input_shape(const struct job_submit_ctx *ctx, const char *hash, uint64_t *n, uint64_t *frames,
                      struct dashi_error *err);

/* Closed carrier and atoms of one frame of omega (n×n), Γ-descending, with Π steps 1-3
 * applied when p prunes anything (pruned atoms' labels become -1, the kept ones keep
 * their order). *depth receives the closure depth; trace (may be NULL) the annihilation trace. */
/* The frames of an atoms job's input blob, read one at a time (GPU thread). */
struct atoms_input {
    struct blob_reader blob; /* verified against its name when opened */
    bool open;              /* false in a zeroed state: nothing to close */
    uint64_t n, frames;
    uint64_t data_offset;   /* where the frames start in the .npy file */
};
/* Verifies the blob (E_CORRUPT if damaged) and checks it still has the frames×n×n shape
 * validation saw. */
int atoms_input_open(struct job_exec *ex, const char *hash, uint64_t n, uint64_t frames, struct atoms_input *in,
                     struct dashi_error *err);
int atoms_input_read(struct job_exec *ex, const struct atoms_input *in, uint64_t frame, double *dst,
                     struct dashi_error *err);
void atoms_input_close(struct atoms_input *in);

int atoms_frame_of(const double *omega, uint32_t n, double tau, const struct nf_params *p, int8_t *carrier,
                   struct atom_frame *frame, int *depth, struct closure_trace *trace, struct dashi_error *err);
/* The closed carrier of omega as atoms_closed_carrier gives it, with the annihilation trace of
 * its closure (closure_trace.h) in *trace (the depth in trace->depth). */
int atoms_traced_carrier(const double *omega, uint32_t n, double tau, int8_t *carrier, struct closure_trace *trace,
                         struct dashi_error *err);
/* Π steps 1-3 of p on a frame as atoms_extract (or atoms_gpu) gives it, as above; the
 * frame is freed on failure. */
int atoms_frame_prune(struct atom_frame *frame, uint32_t n, const struct nf_params *p, struct dashi_error *err);

/* A growable float64 table of fixed width (the outputs atoms, lineage, atom_audit). */
struct atom_table {
    double *v;
    size_t rows, cap, cols;
};
double *atom_table_row(struct atom_table *t); /* NULL when out of memory */
/* Appends atoms[0..count) of `step` in the ATOMS_COL layout. */
int atom_table_atoms(struct atom_table *t, int64_t step, const struct atom *atoms, size_t count);
/* Appends edges (parents at parent_step, children at child_step) in the LINEAGE_COL layout. */
int atom_table_edges(struct atom_table *t, int64_t parent_step, int64_t child_step, const struct lineage_edge *e,
                     size_t count);
/* Appends audit rows (deaths at parent_step, the others at child_step). */
int atom_table_audit(struct atom_table *t, int64_t parent_step, int64_t child_step, const struct audit_rec *a,
                     size_t count);
/* Stores the table as an f8 output `name` of the job. */
int atom_table_put(struct job_exec *ex, const struct atom_table *t, const char *name, struct dashi_error *err);

/* The three tables both modes produce: the outputs "atoms", "lineage", "atom_audit". */
struct atom_outputs {
    struct atom_table atoms, lineage, audit;
};
void atom_outputs_init(struct atom_outputs *o); /* empty tables of the store_atoms.h widths */
void atom_outputs_free(struct atom_outputs *o);
int atom_outputs_put(struct job_exec *ex, const struct atom_outputs *o, struct dashi_error *err);

/* The events of a job's steps, as both modes report them: per step the metrics
 * events.KIND and audit.abs_residual/signed_residual, and at the end the summary
 * events_total.KIND and audit_abs_residual_total. */
struct atom_events {
    double events[LINEAGE_KIND_COUNT];
    double abs_residual_total;
};
void atom_events_step(struct job_exec *ex, struct atom_events *t, int64_t step, const size_t events[LINEAGE_KIND_COUNT],
                      double abs_residual, double signed_residual);
void atom_events_summary(struct job_exec *ex, const struct atom_events *t);

/* Description length of one step, in bits (docs/numerics.md): Σ normal_form_atom_bits
 * over the atoms, plus per edge into the step 1 for a continuation and 2 otherwise. */
double atoms_description_length(const struct atom *atoms, size_t count, uint32_t n, const struct lineage_edge *e,
                                size_t nedges);

/* ---- evolve mode (job_atoms_evolve.c) ---- */
struct atoms_evolve_params;
struct atoms_evolve_state;
/* Evolve's parameters (track refuses those it does not share, naming the mode). */
extern const struct param_spec atoms_evolve_params[];
extern const struct param_table atoms_evolve_table;
int atoms_evolve_validate(const struct job_submit_ctx *ctx, const msgpack_object *args,
                          struct atoms_evolve_params **out, struct job_plan *plan, struct dashi_error *err);
void atoms_evolve_pack(const struct atoms_evolve_params *p, msgpack_packer *pk);
void atoms_evolve_free(struct atoms_evolve_params *p);

/* ---- how a mode runs (GPU thread) ----
 * The kind's start picks the mode the parameters name and hands it their part; slice,
 * finish and destroy then go to that mode, with the meaning of struct job_kind's. */
struct atoms_mode {
    int (*start)(struct job_exec *ex, const void *mode_params, void **state, struct dashi_error *err);
    int (*slice)(struct job_exec *ex, void *state, bool *done, struct dashi_error *err);
    int (*finish)(struct job_exec *ex, void *state, struct dashi_error *err);
    void (*destroy)(void *state);
};
/* Evolve (job_atoms_evolve.c); its mode_params are struct atoms_evolve_params. */
extern const struct atoms_mode atoms_mode_evolve;

#endif
