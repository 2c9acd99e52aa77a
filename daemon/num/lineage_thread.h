/* SPDX-License-Identifier: MIT */
/* Threading atoms of consecutive frames into the lineage DAG (docs/numerics.md "Atoms and threads").
 *
 * Given the atoms (and label maps) of a frame A and the next frame B:
 *
 * 1. Candidates. A pair (a, b) is a continuation candidate when its distance
 *      d = w_g·dist(a,b)/ε̄ + w_Γ·|Γa−Γb|/max(Γa,Γb) + w_σ·[σa≠σb] + w_ε·|εa−εb|/ε̄
 *    (dist the periodic centroid distance, ε̄ = (εa+εb)/2) is at most `gate`, or when the
 *    two supports share cells. Leaving an atom unmatched costs `gate`.
 * 2. Continuation: a one-to-one matching of minimum total cost, solved exactly (Hungarian
 *    algorithm, with a dummy partner per atom for "unmatched") on each connected component
 *    of the candidate graph; components above HUNGARIAN_MAX nodes use a greedy pass over
 *    the pairs sorted by (d, parent index, child index) instead. Indices are Γ-descending
 *    ranks (ties: lower seed), so among equal costs the lower rank wins in the greedy pass,
 *    and the Hungarian pass visits parents in rank order: the result is deterministic.
 * 3. Shared circulation: a same-sign pair whose supports share at least `min_overlap` of
 *    the smaller atom's cells is linked too (besides its continuation, if any).
 * 4. Each link is classified by the degrees in the union of 2 and 3: into a child with ≥2
 *    parents → merge; else out of a parent with ≥2 children → split; else continuation.
 *    A child without parents gets a birth edge (parent −1), a parent without children a
 *    death edge (child −1).
 * 5. Circulation transfer: a parent gives its Γ to its children in proportion to their Γ:
 *    T(a,b) = Γa·Γb / Σ_{b'∈children(a)} Γb'. Fractions: split edge T/Γa (sum 1 over the
 *    parent's split edges); merge edge T(a,b)/Σ_{a'} T(a',b) (sum 1 over the child's
 *    merge edges); continuation, birth and death 1.
 * 6. Audit, per node: a child with parents: residual Γb − Σ T(a,b) and signed residual
 *    σbΓb − Σ σa T(a,b), attributed to its event (merge, split or continuation); a birth:
 *    Γb, σbΓb; a death (at the parent's frame): −Γa, −σaΓa. With circulation conserved
 *    between frames (no pruning, no dissipation) the residuals of continuation, merge and
 *    split nodes vanish to rounding.
 *
 * Edges come out sorted: links by (parent, child), then births by child, then deaths by
 * parent. */
#ifndef DASHI_LINEAGE_THREAD_H
#define DASHI_LINEAGE_THREAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "atoms.h"
#include "errors.h"

#define HUNGARIAN_MAX 512

enum lineage_kind { LINEAGE_CONTINUATION, LINEAGE_SPLIT, LINEAGE_MERGE, LINEAGE_BIRTH, LINEAGE_DEATH,
                    LINEAGE_KIND_COUNT };
/* "continuation", "split", "merge", "birth", "death". */
const char *lineage_kind_name(enum lineage_kind k);
int lineage_kind_from_name(const char *name); /* -1 if unknown */

struct thread_params {
    double w_g, w_gamma, w_sigma, w_eps; /* distance weights */
    double gate;                         /* largest d of a continuation candidate; cost of no match */
    double min_overlap;                  /* shared cells / cells of the smaller atom, for a shared link */
    double box;                          /* side L of the periodic box */
};
/* w_g 1, w_Γ 1, w_σ 10 (a sign change is never a continuation at the default gate),
 * w_ε 0.5, gate 4, min_overlap 0.1, box 2π. */
void thread_params_default(struct thread_params *p);

struct lineage_edge {
    int32_t parent;          /* index in A; -1 for a birth */
    int32_t child;           /* index in B; -1 for a death */
    enum lineage_kind kind;
    double fraction;
    double transfer;         /* Γ carried (parent side); Γb for a birth, Γa for a death */
};

struct audit_rec {
    int32_t idx;             /* the node: its index in B, or in A for a death */
    bool at_parent;          /* true for deaths (the node lives in frame A) */
    enum lineage_kind event;
    double residual, signed_residual;
};

struct thread_result {
    struct lineage_edge *edges;
    size_t nedges;
    struct audit_rec *audit;
    size_t naudit;
    /* events by type: continuation edges, splitting parents, merging children, births, deaths */
    size_t events[LINEAGE_KIND_COUNT];
    double abs_residual;     /* Σ |residual| over the audit of continuation/split/merge nodes */
    double signed_residual;  /* Σ signed residual over all nodes (births and deaths included) */
};

/* Threads frame a to frame b (same grid). out is freed with thread_result_free. */
int threads_link(const struct atom_frame *a, const struct atom_frame *b, const struct thread_params *p,
                 struct thread_result *out, struct dashi_error *err);
void thread_result_free(struct thread_result *r);

#endif
