/* SPDX-License-Identifier: MIT */
/* The MDL normal form Π (daemon/num/normal_form.h): each step on hand-placed atoms whose
 * outcome follows from the rules, the lineage and audit it records (fractions, Γ
 * conservation), the grid neighbour search against an all-pairs search, determinism, and
 * fidelity monotonicity on random atom sets. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "normal_form.h"

#define BOX (2 * M_PI)

static struct atom round_atom(int sigma, double gamma, double x, double y, double eps, uint32_t cells)
{
    return (struct atom){.sigma = sigma, .gamma = gamma, .cx = x, .cy = y, .eps = eps, .orientation = 0,
                         .elongation = 1, .cells = cells};
}

static struct nf_params params(void)
{
    struct nf_params p;
    nf_params_default(&p);
    return p;
}

static void apply(const struct atom *in, size_t n, const struct nf_params *p, struct nf_result *r)
{
    struct dashi_error err;
    int rc = normal_form_apply(in, n, p, r, &err);
    if (rc != 0)
        fprintf(stderr, "normal_form_apply: %s\n", err.message);
    assert_int_equal(rc, 0);
}

/* Every output's audit residual is zero to rounding; deaths carry −Γ; the merge
 * fractions of a child and the split fractions of a parent sum to 1. */
static void check_lineage(const struct atom *in, size_t n, const struct nf_result *r)
{
    double *into = calloc(r->count + 1, sizeof *into), *outof = calloc(n + 1, sizeof *outof);
    for (size_t e = 0; e < r->nedges; e++) {
        const struct lineage_edge *ed = &r->edges[e];
        assert_true(ed->parent >= 0 && (size_t)ed->parent < n);
        if (e > 0) { /* links by (parent, child), then deaths by parent */
            const struct lineage_edge *pv = &r->edges[e - 1];
            bool pv_death = pv->kind == LINEAGE_DEATH, death = ed->kind == LINEAGE_DEATH;
            assert_true(pv_death <= death);
            if (pv_death == death)
                assert_true(pv->parent < ed->parent || (pv->parent == ed->parent && pv->child < ed->child));
        }
        if (ed->kind == LINEAGE_DEATH) {
            assert_int_equal(ed->child, -1);
            continue;
        }
        assert_true(ed->child >= 0 && (size_t)ed->child < r->count);
        if (ed->kind == LINEAGE_MERGE)
            into[ed->child] += ed->fraction;
        if (ed->kind == LINEAGE_SPLIT) {
            assert_true(fabs(ed->fraction - 0.5) == 0);
            outof[ed->parent] += ed->fraction;
        }
        if (ed->kind == LINEAGE_CONTINUATION)
            assert_true(ed->fraction == 1);
    }
    for (size_t k = 0; k < r->count; k++)
        assert_true(into[k] == 0 || fabs(into[k] - 1) < 1e-12);
    for (size_t i = 0; i < n; i++)
        assert_true(outof[i] == 0 || outof[i] == 1);
    size_t deaths = 0;
    for (size_t a = 0; a < r->naudit; a++) {
        const struct audit_rec *u = &r->audit[a];
        if (u->at_parent) {
            assert_int_equal(u->event, LINEAGE_DEATH);
            assert_true(u->residual == -in[u->idx].gamma);
            assert_true(u->signed_residual == -in[u->idx].sigma * in[u->idx].gamma);
            deaths++;
        } else {
            double g = r->atoms[u->idx].gamma;
            assert_true(fabs(u->residual) <= 1e-14 * (1 + g));
            assert_true(fabs(u->signed_residual) <= 1e-14 * (1 + g));
        }
    }
    assert_int_equal(deaths, r->events[LINEAGE_DEATH]);
    assert_true(r->abs_residual <= 1e-13 * (1 + (double)r->count));
    /* Γ-descending output */
    for (size_t k = 1; k < r->count; k++)
        assert_true(r->atoms[k - 1].gamma >= r->atoms[k].gamma);
    free(into);
    free(outof);
}

static void prune_by_gamma_and_cells(void **state)
{
    (void)state;
    struct atom in[4] = {round_atom(1, 3.0, 1, 1, 0.1, 20), round_atom(-1, 2.0, 2, 2, 0.1, 2),
                         round_atom(1, 1.0, 3, 3, 0.1, 20), round_atom(-1, 0.5, 4, 4, 0.1, 20)};
    struct nf_params p = params();
    p.gamma_min = 0.75;
    p.min_cells = 3;
    struct nf_result r;
    apply(in, 4, &p, &r);
    assert_int_equal(r.count, 2); /* atom 1 (2 cells) and atom 3 (Γ 0.5) die */
    assert_true(r.atoms[0].gamma == 3.0 && r.atoms[1].gamma == 1.0);
    assert_true(r.atoms[1].cx == 3 && r.atoms[1].cy == 3);
    assert_int_equal(r.nedges, 4);
    assert_int_equal(r.edges[0].parent, 0);
    assert_int_equal(r.edges[0].child, 0);
    assert_int_equal(r.edges[0].kind, LINEAGE_CONTINUATION);
    assert_int_equal(r.edges[1].parent, 2);
    assert_int_equal(r.edges[1].child, 1);
    assert_int_equal(r.edges[2].parent, 1);
    assert_int_equal(r.edges[2].kind, LINEAGE_DEATH);
    assert_int_equal(r.edges[3].parent, 3);
    assert_int_equal(r.events[LINEAGE_DEATH], 2);
    assert_int_equal(r.events[LINEAGE_CONTINUATION], 2);
    assert_true(fabs(r.signed_residual - (2.0 + 0.5)) < 1e-15); /* −(−2) − (−0.5) */
    assert_int_equal(r.source_start[1] - r.source_start[0], 1);
    assert_int_equal(r.source_index[r.source_start[1]], 2);
    check_lineage(in, 4, &r);
    nf_result_free(&r);
}

static void score_prunes_by_description_length(void **state)
{
    (void)state;
    struct atom in[3] = {round_atom(1, 5.0, 1, 1, 0.1, 7), round_atom(1, 2.0, 3, 1, 0.1, 7),
                         round_atom(1, 1.0, 5, 1, 0.1, 7)};
    struct nf_params p = params();
    double bits = normal_form_atom_bits(&in[0], p.n);
    assert_true(bits == 32); /* 1 + 2·log2(64) + log2(1 + 7) + 16 */
    p.lambda = 2.0 / 32;     /* score of atom 1 is exactly 0: it dies too (score ≤ 0) */
    struct nf_result r;
    apply(in, 3, &p, &r);
    assert_int_equal(r.count, 1);
    assert_int_equal(r.events[LINEAGE_DEATH], 2);
    check_lineage(in, 3, &r);
    nf_result_free(&r);
}

static void budget_keeps_the_best(void **state)
{
    (void)state;
    /* Equal Γ for 1 and 2: the lower index wins the last place. */
    struct atom in[4] = {round_atom(1, 1.0, 1, 1, 0.1, 5), round_atom(-1, 3.0, 2, 1, 0.1, 5),
                         round_atom(1, 3.0, 3, 1, 0.1, 5), round_atom(1, 4.0, 4, 1, 0.1, 5)};
    struct nf_params p = params();
    p.budget = 2;
    struct nf_result r;
    apply(in, 4, &p, &r);
    assert_int_equal(r.count, 2);
    assert_true(r.atoms[0].cx == 4 && r.atoms[1].cx == 2);
    assert_int_equal(r.events[LINEAGE_DEATH], 2);
    check_lineage(in, 4, &r);
    nf_result_free(&r);
    /* With λ, the budget ranks by score: a big atom scores lower than a smaller one. */
    in[3].cells = 1u << 30; /* 59 bits against 31.6 */
    p.lambda = 0.05;
    apply(in, 4, &p, &r);
    assert_int_equal(r.count, 2);
    assert_true(r.atoms[0].cx == 2 && r.atoms[1].cx == 3);
    nf_result_free(&r);
}

static void merge_close_like_signed(void **state)
{
    (void)state;
    struct atom in[4] = {round_atom(1, 2.0, 1.00, 1.00, 0.2, 10), round_atom(1, 1.0, 1.15, 1.00, 0.2, 6),
                         round_atom(-1, 1.5, 1.05, 1.05, 0.2, 8), /* close but of the other sign */
                         round_atom(1, 0.5, 3.00, 3.00, 0.2, 4)};
    struct nf_params p = params();
    p.merge_dist = 0.5;
    struct nf_result r;
    apply(in, 4, &p, &r);
    assert_int_equal(r.count, 3);
    const struct atom *m = &r.atoms[0];
    assert_true(m->gamma == 3.0 && m->sigma == 1);
    assert_int_equal(m->cells, 16);
    assert_true(fabs(m->cx - (2 * 1.00 + 1 * 1.15) / 3) < 1e-14 && fabs(m->cy - 1.0) < 1e-14);
    /* parallel axis: ε² = Σ w (ε_i² + d_i²)/Σ w; the separation stretches it along x */
    double d0 = 1.00 - m->cx, d1 = 1.15 - m->cx;
    assert_true(fabs(m->eps * m->eps - (0.04 + (2 * d0 * d0 + d1 * d1) / 3)) < 1e-14);
    assert_true(m->elongation > 1 && fabs(m->orientation) < 1e-12);
    assert_int_equal(r.events[LINEAGE_MERGE], 1);
    assert_int_equal(r.events[LINEAGE_CONTINUATION], 2);
    assert_int_equal(r.edges[0].kind, LINEAGE_MERGE);
    assert_true(fabs(r.edges[0].fraction - 2.0 / 3) < 1e-15 && fabs(r.edges[1].fraction - 1.0 / 3) < 1e-15);
    assert_int_equal(r.source_start[1], 2);
    assert_int_equal(r.source_index[0], 0);
    assert_int_equal(r.source_index[1], 1);
    check_lineage(in, 4, &r);
    nf_result_free(&r);
    /* misaligned elongated atoms do not merge; round ones ignore orientation */
    in[0].elongation = in[1].elongation = 3;
    in[0].orientation = 0.1;
    in[1].orientation = 0.1 + M_PI / 2;
    apply(in, 4, &p, &r);
    assert_int_equal(r.count, 4);
    nf_result_free(&r);
    in[1].orientation = 0.1 - M_PI + 0.2; /* 0.2 apart modulo π */
    apply(in, 4, &p, &r);
    assert_int_equal(r.count, 3);
    nf_result_free(&r);
    /* merge_dist 0: nothing merges */
    p.merge_dist = 0;
    apply(in, 4, &p, &r);
    assert_int_equal(r.count, 4);
    nf_result_free(&r);
}

static void merge_across_the_seam(void **state)
{
    (void)state;
    struct atom in[2] = {round_atom(-1, 1.0, 0.03, BOX - 0.02, 0.15, 3),
                         round_atom(-1, 1.0, BOX - 0.05, 0.04, 0.15, 3)}; /* 0.1 apart */
    struct nf_params p = params();
    p.merge_dist = 0.5;
    struct nf_result r;
    apply(in, 2, &p, &r);
    assert_int_equal(r.count, 1);
    /* the mean of minimal images: x (0.03 − 0.05)/2 = −0.01 → L − 0.01, y (−0.02 + 0.04)/2 = 0.01 */
    assert_true(fabs(r.atoms[0].cx - (BOX - 0.01)) < 1e-12);
    assert_true(fabs(r.atoms[0].cy - 0.01) < 1e-12);
    double d2 = 0.04 * 0.04 + 0.03 * 0.03; /* each member's squared distance to the mean */
    assert_true(fabs(r.atoms[0].eps * r.atoms[0].eps - (0.0225 + d2)) < 1e-12);
    assert_int_equal(r.events[LINEAGE_MERGE], 1);
    check_lineage(in, 2, &r);
    nf_result_free(&r);
}

/* Single linkage: a chain A–B–C merges whole though A and C are far apart. */
static void merge_chains(void **state)
{
    (void)state;
    struct atom in[3] = {round_atom(1, 1.0, 1.0, 2.0, 0.1, 3), round_atom(1, 1.0, 1.09, 2.0, 0.1, 3),
                         round_atom(1, 1.0, 1.18, 2.0, 0.1, 3)};
    struct nf_params p = params();
    p.merge_dist = 0.5;
    struct nf_result r;
    apply(in, 3, &p, &r);
    assert_int_equal(r.count, 1);
    assert_true(r.atoms[0].gamma == 3.0);
    assert_true(fabs(r.atoms[0].cx - 1.09) < 1e-14);
    check_lineage(in, 3, &r);
    nf_result_free(&r);
}

static void split_elongated(void **state)
{
    (void)state;
    struct atom in[2] = {round_atom(1, 2.0, 3.0, 3.0, 0.3, 9), round_atom(-1, 1.0, 1.0, 1.0, 0.1, 5)};
    in[0].elongation = 4;
    in[0].orientation = 0.3;
    struct nf_params p = params();
    p.split_elong = 2;
    struct nf_result r;
    apply(in, 2, &p, &r);
    assert_int_equal(r.count, 3);
    const struct atom *a = &r.atoms[0], *b = &r.atoms[1];
    assert_true(a->gamma == 1.0 && b->gamma == 1.0 && r.atoms[2].sigma == -1);
    assert_int_equal(a->cells, 5);
    /* moments: λmax + λmin = ε², λmax/λmin = 16 */
    double lmin = 0.09 / 17, lmax = 16 * lmin, off = 0.5 * sqrt(3 * lmax);
    assert_true(fabs(a->cx - (3 + off * cos(0.3))) < 1e-12 && fabs(a->cy - (3 + off * sin(0.3))) < 1e-12);
    assert_true(fabs(b->cx - (3 - off * cos(0.3))) < 1e-12 && fabs(b->cy - (3 - off * sin(0.3))) < 1e-12);
    assert_true(fabs(a->eps * a->eps - (lmax / 4 + lmin)) < 1e-14);
    assert_true(fabs(a->elongation - 2) < 1e-12 && fabs(a->orientation - 0.3) < 1e-12);
    /* the halves' moments about the parent centroid add back to the parent's */
    assert_true(fabs(a->eps * a->eps + off * off - 0.09) < 1e-14);
    assert_int_equal(r.events[LINEAGE_SPLIT], 1);
    assert_int_equal(r.edges[0].kind, LINEAGE_SPLIT);
    assert_int_equal(r.edges[0].child, 0);
    assert_int_equal(r.edges[1].child, 1);
    assert_int_equal(r.source_index[r.source_start[1]], 0);
    check_lineage(in, 2, &r);
    nf_result_free(&r);
    /* a merged atom does not split in the same pass */
    struct atom two[2] = {round_atom(1, 1.0, 3.0, 3.0, 0.1, 5), round_atom(1, 1.0, 3.09, 3.0, 0.1, 5)};
    p.merge_dist = 0.5;
    p.split_elong = 1.01;
    apply(two, 2, &p, &r);
    assert_int_equal(r.count, 1);
    assert_true(r.atoms[0].elongation > 1.01);
    nf_result_free(&r);
}

static void rejects_bad_input(void **state)
{
    (void)state;
    struct atom in[1] = {round_atom(1, 1.0, 1, 1, NAN, 1)};
    struct nf_params p = params();
    struct nf_result r;
    struct dashi_error err;
    assert_int_equal(normal_form_apply(in, 1, &p, &r, &err), -1);
    assert_int_equal(err.code, DASHI_E_BAD_VALUE);
    nf_result_free(&r);
    in[0].eps = 0.1;
    p.split_elong = 0.5;
    assert_int_equal(normal_form_apply(in, 1, &p, &r, &err), -1);
    assert_int_equal(err.code, DASHI_E_BAD_VALUE);
    nf_result_free(&r);
    p = params();
    assert_int_equal(normal_form_apply(in, 0, &p, &r, &err), 0); /* no atoms: an empty result */
    assert_int_equal(r.count, 0);
    assert_int_equal(r.nedges, 0);
    nf_result_free(&r);
}

/* ---- random atom sets ---- */

static uint64_t rng_next(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    uint64_t z = *s;
    z = (z ^ (z >> 33)) * 0xff51afd7ed558ccdull;
    return z ^ (z >> 33);
}

static double unif(uint64_t *s) { return (double)(rng_next(s) >> 11) * 0x1.0p-53; }

static struct atom *random_atoms(size_t n, uint64_t seed, double eps_max)
{
    struct atom *a = malloc(n * sizeof *a);
    uint64_t s = seed;
    for (size_t i = 0; i < n; i++) {
        a[i] = (struct atom){.sigma = unif(&s) < 0.5 ? 1 : -1, .gamma = unif(&s), .cx = BOX * unif(&s),
                             .cy = BOX * unif(&s), .eps = eps_max * (0.1 + 0.9 * unif(&s)),
                             .orientation = M_PI * (unif(&s) - 0.5), .elongation = 1 + 3 * unif(&s),
                             .cells = 1 + (uint32_t)(40 * unif(&s))};
        if (i % 7 == 3 && i > 0) /* some exact Γ ties */
            a[i].gamma = a[i - 1].gamma;
    }
    return a;
}

/* The merge groups of an all-pairs search, as root (smallest member) per input. */
static void brute_groups(const struct atom *a, size_t n, const struct nf_params *p, uint32_t *root)
{
    for (size_t i = 0; i < n; i++)
        root[i] = (uint32_t)i;
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++) {
            if (a[i].sigma != a[j].sigma)
                continue;
            bool round = a[i].elongation < NF_ROUND_ELONGATION || a[j].elongation < NF_ROUND_ELONGATION;
            double d = fmod(fabs(a[i].orientation - a[j].orientation), M_PI);
            if (d > M_PI / 2)
                d = M_PI - d;
            if (!round && !(d < p->merge_angle))
                continue;
            double dist = atoms_periodic_distance(a[i].cx, a[i].cy, a[j].cx, a[j].cy, BOX);
            if (!(dist < p->merge_dist * (a[i].eps + a[j].eps)))
                continue;
            uint32_t x = root[i], y = root[j];
            while (root[x] != x)
                x = root[x];
            while (root[y] != y)
                y = root[y];
            if (x != y)
                root[x > y ? x : y] = x < y ? x : y;
        }
    for (size_t i = 0; i < n; i++) {
        uint32_t x = root[i];
        while (root[x] != x)
            x = root[x];
        root[i] = x;
    }
}

/* Grid search = all-pairs search: the same groups, for several densities and sizes. */
static void grid_search_matches_all_pairs(void **state)
{
    (void)state;
    const double eps_max[] = {0.02, 0.1, 0.5, 4.0};
    for (int t = 0; t < 4; t++) {
        size_t n = 1500;
        struct atom *a = random_atoms(n, 100 + (uint64_t)t, eps_max[t]);
        if (t == 1)
            a[5].eps = 3.0; /* one big atom among small ones */
        struct nf_params p = params();
        p.merge_dist = 0.5;
        uint32_t *root = malloc(n * sizeof *root);
        brute_groups(a, n, &p, root);
        struct nf_result r;
        apply(a, n, &p, &r);
        size_t groups = 0;
        for (size_t i = 0; i < n; i++)
            groups += root[i] == i;
        assert_int_equal(r.count, groups);
        for (size_t k = 0; k < r.count; k++) {
            size_t s0 = r.source_start[k], s1 = r.source_start[k + 1];
            uint32_t g = root[r.source_index[s0]];
            size_t members = 0;
            for (size_t i = 0; i < n; i++)
                members += root[i] == g;
            assert_int_equal(s1 - s0, members);
            for (size_t s = s0; s < s1; s++)
                assert_int_equal(root[r.source_index[s]], g);
        }
        check_lineage(a, n, &r);
        nf_result_free(&r);
        free(root);
        free(a);
    }
}

static void deterministic(void **state)
{
    (void)state;
    size_t n = 3000;
    struct atom *a = random_atoms(n, 7, 0.15);
    struct nf_params p = params();
    p.merge_dist = 0.5;
    p.split_elong = 3;
    p.gamma_min = 0.05;
    p.budget = 2000;
    struct nf_result r1, r2;
    apply(a, n, &p, &r1);
    apply(a, n, &p, &r2);
    assert_int_equal(r1.count, r2.count);
    assert_int_equal(r1.nedges, r2.nedges);
    assert_memory_equal(r1.atoms, r2.atoms, r1.count * sizeof *r1.atoms);
    assert_memory_equal(r1.edges, r2.edges, r1.nedges * sizeof *r1.edges);
    assert_memory_equal(r1.audit, r2.audit, r1.naudit * sizeof *r1.audit);
    assert_true(r1.events[LINEAGE_MERGE] > 0 && r1.events[LINEAGE_SPLIT] > 0 && r1.events[LINEAGE_DEATH] > 0);
    check_lineage(a, n, &r1);
    nf_result_free(&r1);
    nf_result_free(&r2);
    free(a);
}

/* Every output of `coarse` has its sources inside those of one output of `fine`. */
static void assert_refines(const struct nf_result *coarse, const struct nf_result *fine, size_t n)
{
    int64_t *fine_of = malloc(n * sizeof *fine_of);
    for (size_t i = 0; i < n; i++)
        fine_of[i] = -1;
    for (size_t k = 0; k < fine->count; k++)
        for (size_t s = fine->source_start[k]; s < fine->source_start[k + 1]; s++)
            if (fine_of[fine->source_index[s]] < 0) /* a split's halves share their sources */
                fine_of[fine->source_index[s]] = (int64_t)k;
    for (size_t k = 0; k < coarse->count; k++) {
        size_t s0 = coarse->source_start[k], s1 = coarse->source_start[k + 1];
        assert_true(s1 > s0);
        int64_t f = fine_of[coarse->source_index[s0]];
        assert_true(f >= 0);
        for (size_t s = s0; s < s1; s++)
            assert_true(fine_of[coarse->source_index[s]] == f);
    }
    free(fine_of);
}

static void fidelity_monotone(void **state)
{
    (void)state;
    for (uint64_t seed = 1; seed <= 12; seed++) {
        size_t n = 200 + 150 * seed;
        struct atom *a = random_atoms(n, seed, 0.05 + 0.02 * (double)seed);
        struct nf_params base = params();
        base.merge_dist = seed % 3 == 0 ? 0 : 0.6;
        base.split_elong = seed % 2 ? 2.5 : 0;
        base.merge_angle = M_PI / 5;
        struct nf_result prev, cur;
        /* raising the budget */
        uint32_t budgets[] = {5, 20, 80, 300, 0};
        for (int b = 0; b < 5; b++) {
            struct nf_params p = base;
            p.lambda = seed % 4 == 1 ? 1e-3 : 0;
            p.gamma_min = 0.02;
            p.budget = budgets[b];
            apply(a, n, &p, &cur);
            check_lineage(a, n, &cur);
            if (b > 0) {
                assert_refines(&prev, &cur, n);
                nf_result_free(&prev);
            }
            prev = cur;
        }
        nf_result_free(&prev);
        /* lowering gamma_min, budget 0 */
        double gmins[] = {0.9, 0.6, 0.3, 0.1, 0};
        for (int g = 0; g < 5; g++) {
            struct nf_params p = base;
            p.gamma_min = gmins[g];
            p.min_cells = 2;
            apply(a, n, &p, &cur);
            if (g > 0) {
                assert_refines(&prev, &cur, n);
                assert_true(cur.count >= prev.count || base.merge_dist > 0);
                nf_result_free(&prev);
            }
            prev = cur;
        }
        nf_result_free(&prev);
        /* lowering λ, budget 0 */
        double lambdas[] = {0.03, 0.02, 0.01, 0.003, 0};
        for (int l = 0; l < 5; l++) {
            struct nf_params p = base;
            p.lambda = lambdas[l];
            apply(a, n, &p, &cur);
            if (l > 0) {
                assert_refines(&prev, &cur, n);
                nf_result_free(&prev);
            }
            prev = cur;
        }
        nf_result_free(&prev);
        free(a);
    }
}

/* 1e5 atoms with merging: the grid keeps it far from all-pairs work (5e9 pairs would not
 * finish under the sanitizers); what is checked is the lineage, not the time. */
static void large_set(void **state)
{
    (void)state;
    size_t n = 100000;
    struct atom *a = random_atoms(n, 99, 0.01);
    struct nf_params p = params();
    p.merge_dist = 0.5;
    p.split_elong = 3.5;
    struct nf_result r;
    apply(a, n, &p, &r);
    assert_true(r.count > n / 2);
    assert_true(r.events[LINEAGE_MERGE] > 0);
    check_lineage(a, n, &r);
    nf_result_free(&r);
    free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(prune_by_gamma_and_cells),
        cmocka_unit_test(score_prunes_by_description_length),
        cmocka_unit_test(budget_keeps_the_best),
        cmocka_unit_test(merge_close_like_signed),
        cmocka_unit_test(merge_across_the_seam),
        cmocka_unit_test(merge_chains),
        cmocka_unit_test(split_elongated),
        cmocka_unit_test(rejects_bad_input),
        cmocka_unit_test(grid_search_matches_all_pairs),
        cmocka_unit_test(deterministic),
        cmocka_unit_test(fidelity_monotone),
        cmocka_unit_test(large_set),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
