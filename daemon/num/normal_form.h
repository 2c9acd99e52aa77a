/* SPDX-License-Identifier: MIT */
/* The MDL normal form Π of a set of atoms (docs/numerics.md "Normal form"), with
 * the lineage of every step recorded by construction.
 *
 * Π applies, in this order (the order is what makes the fidelity knobs monotone):
 *   1. prune:  atoms with Γ < gamma_min or cells < min_cells die (a death edge; audited
 *              as a death, residual −Γ).
 *   2. score:  score(a) = Γ_a − λ·L(a), L(a) the atom's description length in bits
 *              (normal_form_atom_bits). With λ > 0 an atom whose score is ≤ 0 dies.
 *   3. budget: the best `budget` atoms by score survive (ties: Γ-descending rank, then lower
 *              input index); the others die. budget 0 = unlimited.
 *   4. merge:  like-signed survivors closer than merge_dist·(ε_a+ε_b) (periodic centroid
 *              distance) whose orientations differ by less than merge_angle (mod π; an atom
 *              with elongation below NF_ROUND_ELONGATION has no meaningful orientation and
 *              passes this test) are linked; linked groups (single linkage, union-find)
 *              become one atom: Γ and cells add, centroid the Γ-weighted mean of the
 *              members' positions taken as minimal images relative to the group's first
 *              (lowest-index) member, second moments combined about it (parallel axis), so
 *              ε, orientation and elongation follow. merge_dist 0 = no merging. Candidate
 *              pairs come from a cell grid over the box (each pair is looked for from the
 *              member with the larger ε, within 2·merge_dist·ε of it): no all-pairs pass.
 *   5. split:  an atom that was not merged in this pass (a merge and a split of the same
 *              atom in one Π would undo each other) and whose elongation exceeds
 *              split_elong becomes two atoms of Γ/2 each (cells: ⌈cells/2⌉ each), placed at
 *              ±a/2 along its orientation, a = √(3·λmax) the major semi-axis of the uniform
 *              bar with the atom's major moment λmax, with the major moment quartered
 *              (minor unchanged): Γ, σΓ, the centroid and the second moment about it are
 *              conserved. split_elong 0 = no splitting. One pass only.
 *
 * With splitting on the output may hold up to 2·budget atoms (the budget comes first, so
 * that it stays monotone).
 *
 * Fidelity monotonicity (tested): for the same input, raising `budget` (or lowering
 * gamma_min with the budget not binding, or lowering λ likewise) only adds provenance: every
 * output atom of the coarser setting has its source set contained in the source set of one
 * output atom of the finer setting. Sources are the input indices an output atom came from
 * (see struct nf_result). */
#ifndef DASHI_NORMAL_FORM_H
#define DASHI_NORMAL_FORM_H

#include <stddef.h>
#include <stdint.h>

#include "atoms.h"
#include "errors.h"
#include "lineage_thread.h"

/* Below this elongation an atom counts as round: its orientation does not gate merging. */
#define NF_ROUND_ELONGATION 1.25

struct nf_params {
    double gamma_min;    /* prune below this Γ (0: keep all) */
    uint32_t min_cells;  /* prune below this many cells (0: keep all); evolve atoms keep their cell count */
    double lambda;       /* MDL weight (0: no score pruning) */
    uint32_t budget;     /* atoms kept (0: unlimited) */
    double merge_dist;   /* in units of ε_a+ε_b (0: no merging) */
    double merge_angle;  /* radians; orientations closer than this (mod π) may merge */
    double split_elong;  /* elongation above which an atom splits (0: no splitting) */
    double box;          /* side L of the periodic box */
    uint32_t n;          /* grid side, for L(a) */
};
/* gamma_min 0, min_cells 0, lambda 0, budget 0, merge_dist 0, merge_angle π/4, split_elong 0,
 * box 2π, n 64. */
void nf_params_default(struct nf_params *p);

/* Bits of one atom: sign 1, centroid 2·log2(n), size log2(1+cells), Γ 16. */
double normal_form_atom_bits(const struct atom *a, uint32_t n);

struct nf_result {
    struct atom *atoms;          /* output atoms, Γ-descending (ties: lower first source, then
                                    the split child at +a/2 before the one at −a/2) */
    size_t count;
    /* Lineage from the input (parent = input index) to the output (child = output index),
     * as lineage_thread.h edges: continuation (fraction 1), merge (fraction Γ_parent/Γ_child: the
     * merge edges of a child sum to 1), split (fraction 0.5 each), death (child −1;
     * pruned, scored out, over budget). Order: links by (parent, child), then deaths by
     * parent. No births: Π creates nothing without a parent. */
    struct lineage_edge *edges;
    size_t nedges;
    /* Per output atom (residual Γ_child − Σ transfers, signed σΓ likewise; zero to
     * rounding), then per death (at_parent, −Γ and −σΓ). */
    struct audit_rec *audit;
    size_t naudit;
    size_t events[LINEAGE_KIND_COUNT]; /* as thread_result: continuation edges, splitting
                                          parents, merged children, deaths */
    double abs_residual;         /* Σ |residual| over the output atoms */
    double signed_residual;      /* Σ signed residual over all audit rows */
    /* Sources of output k: source_index[source_start[k] .. source_start[k+1]), ascending
     * input indices (CSR: a bitset per output would be O(n²) at 1e5 atoms). */
    uint32_t *source_index;
    size_t *source_start;        /* count + 1 entries */
};

/* Applies Π to in[0..count) (at most UINT32_MAX atoms, every field finite, ε > 0,
 * elongation ≥ 1; parameters in range: E_BAD_VALUE otherwise). Deterministic (no threads,
 * fixed orders). out is freed with nf_result_free (also after a failure). */
int normal_form_apply(const struct atom *in, size_t count, const struct nf_params *p, struct nf_result *out,
                      struct dashi_error *err);
void nf_result_free(struct nf_result *r);

#endif
