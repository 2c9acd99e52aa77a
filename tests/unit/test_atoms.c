/* SPDX-License-Identifier: MIT */
/* Atoms and threads on hand-built fields whose structure is known by construction:
 * discs painted on a periodic grid (expected Γ, centroid and cell counts are derived
 * from the painting itself), split/merge/birth/death between two frames, determinism,
 * and the conservation audit with nothing pruned. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "atoms.h"
#include "scratch_dir.h"
#include "store_atoms.h"
#include "lineage_thread.h"

#define N 48
#define BOX (2 * M_PI)

struct field {
    int8_t s[N * N];
    double w[N * N];
};

/* Paints a disc of radius r (cells) centred on cell (ci, cj), periodically; returns the
 * number of cells painted. */
static int disc(struct field *f, int ci, int cj, double r, int sign, double value)
{
    int painted = 0;
    int R = (int)ceil(r);
    for (int di = -R; di <= R; di++)
        for (int dj = -R; dj <= R; dj++) {
            if (di * di + dj * dj > r * r)
                continue;
            int i = ((ci + di) % N + N) % N, j = ((cj + dj) % N + N) % N;
            f->s[i * N + j] = (int8_t)sign;
            f->w[i * N + j] = sign * value;
            painted++;
        }
    return painted;
}

static double dx(void) { return BOX / N; }

static void extract(const struct field *f, struct atom_frame *fr)
{
    struct dashi_error err;
    assert_int_equal(atoms_extract(f->s, f->w, N, BOX, fr, &err), 0);
}

static void two_blobs_opposite_sign(void **state)
{
    (void)state;
    struct field *f = calloc(1, sizeof *f);
    int np = disc(f, 10, 12, 3.2, +1, 2.0);
    int nm = disc(f, 30, 36, 2.5, -1, 1.5);
    struct atom_frame fr;
    extract(f, &fr);
    assert_int_equal(fr.count, 2);
    /* Γ descending: the + disc has more circulation. */
    const struct atom *a = &fr.atoms[0], *b = &fr.atoms[1];
    assert_int_equal(a->sigma, 1);
    assert_int_equal(b->sigma, -1);
    assert_int_equal(a->cells, np);
    assert_int_equal(b->cells, nm);
    assert_true(fabs(a->gamma - np * 2.0 * dx() * dx()) < 1e-12);
    assert_true(fabs(b->gamma - nm * 1.5 * dx() * dx()) < 1e-12);
    assert_true(fabs(a->cx - 12 * dx()) < 1e-12 && fabs(a->cy - 10 * dx()) < 1e-12);
    assert_true(fabs(b->cx - 36 * dx()) < 1e-12 && fabs(b->cy - 30 * dx()) < 1e-12);
    /* A disc is isotropic: elongation 1; ε from its own second moment. */
    assert_true(fabs(a->elongation - 1) < 1e-12);
    double m2 = 0;
    for (int di = -4; di <= 4; di++)
        for (int dj = -4; dj <= 4; dj++)
            if (di * di + dj * dj <= 3.2 * 3.2)
                m2 += di * di + dj * dj;
    assert_true(fabs(a->eps - dx() * sqrt(m2 / np + 1.0 / 6)) < 1e-12);
    assert_int_equal(fr.labels[10 * N + 12], 0);
    assert_int_equal(fr.labels[30 * N + 36], 1);
    assert_int_equal(fr.labels[0], -1);
    atom_frame_free(&fr);
    free(f);
}

static void blob_across_the_seam(void **state)
{
    (void)state;
    struct field *f = calloc(1, sizeof *f);
    int np = disc(f, 0, N - 1, 3.0, +1, 1.0); /* centred on the corner cell (0, N-1) */
    /* and an elongated bar across the x seam, row 20, cells N-3..N-1, 0..2 */
    for (int j = -3; j <= 2; j++) {
        f->s[20 * N + (j + N) % N] = -1;
        f->w[20 * N + (j + N) % N] = -1;
    }
    struct atom_frame fr;
    extract(f, &fr);
    assert_int_equal(fr.count, 2);
    const struct atom *a = &fr.atoms[0], *bar = &fr.atoms[1];
    assert_int_equal(a->cells, np);
    assert_true(atoms_periodic_distance(a->cx, a->cy, (N - 1) * dx(), 0, BOX) < 1e-12);
    assert_int_equal(bar->cells, 6);
    assert_int_equal(bar->sigma, -1);
    /* cells -3..2 along x: centre at -0.5 cells, i.e. L - dx/2 */
    assert_true(atoms_periodic_distance(bar->cx, bar->cy, -0.5 * dx(), 20 * dx(), BOX) < 1e-12);
    assert_true(bar->elongation > 5);
    assert_true(fabs(bar->orientation) < 1e-12); /* along x */
    atom_frame_free(&fr);
    free(f);
}

static void rejects_bad_carrier(void **state)
{
    (void)state;
    struct field *f = calloc(1, sizeof *f);
    f->s[5] = 2;
    struct atom_frame fr;
    struct dashi_error err;
    assert_int_equal(atoms_extract(f->s, f->w, N, BOX, &fr, &err), -1);
    assert_int_equal(err.code, DASHI_E_BAD_VALUE);
    free(f);
}

static void link(const struct field *fa, const struct field *fb, struct atom_frame *a, struct atom_frame *b,
                 struct thread_result *r)
{
    struct thread_params p;
    thread_params_default(&p);
    struct dashi_error err;
    extract(fa, a);
    extract(fb, b);
    assert_int_equal(threads_link(a, b, &p, r, &err), 0);
}

static size_t count_kind(const struct thread_result *r, enum lineage_kind k)
{
    size_t n = 0;
    for (size_t e = 0; e < r->nedges; e++)
        n += r->edges[e].kind == k;
    return n;
}

/* Scales the values of field f so that its total Σω equals target. */
static void scale_to(struct field *f, double target)
{
    double sum = 0;
    for (int c = 0; c < N * N; c++)
        sum += f->w[c];
    for (int c = 0; c < N * N; c++)
        f->w[c] *= target / sum;
}

static double total(const struct field *f)
{
    double sum = 0;
    for (int c = 0; c < N * N; c++)
        sum += f->w[c];
    return sum;
}

static void split_event(void **state)
{
    (void)state;
    struct field *fa = calloc(1, sizeof *fa), *fb = calloc(1, sizeof *fb);
    /* A: a dumbbell (two discs joined by a bar); B: the two discs, one larger. */
    disc(fa, 24, 16, 3, +1, 1.0);
    disc(fa, 24, 30, 3, +1, 1.0);
    for (int j = 16; j <= 30; j++) {
        fa->s[24 * N + j] = 1;
        fa->w[24 * N + j] = 1.0;
    }
    disc(fb, 24, 15, 3.5, +1, 1.0);
    disc(fb, 24, 31, 2.5, +1, 1.0);
    scale_to(fb, total(fa)); /* circulation conserved: nothing dissipated, nothing pruned */
    struct atom_frame a, b;
    struct thread_result r;
    link(fa, fb, &a, &b, &r);
    assert_int_equal(a.count, 1);
    assert_int_equal(b.count, 2);
    assert_int_equal(r.events[LINEAGE_SPLIT], 1);
    assert_int_equal(count_kind(&r, LINEAGE_SPLIT), 2);
    assert_int_equal(r.events[LINEAGE_BIRTH] + r.events[LINEAGE_DEATH] + r.events[LINEAGE_MERGE], 0);
    double fsum = 0;
    for (size_t e = 0; e < r.nedges; e++)
        fsum += r.edges[e].fraction;
    assert_true(fabs(fsum - 1) < 1e-12);
    /* the larger child carries the larger fraction */
    assert_true(r.edges[0].child == 0 && r.edges[0].fraction > r.edges[1].fraction);
    assert_int_equal(r.naudit, 2);
    for (size_t k = 0; k < r.naudit; k++) {
        assert_int_equal(r.audit[k].event, LINEAGE_SPLIT);
        assert_true(fabs(r.audit[k].residual) < 1e-12 * a.atoms[0].gamma);
        assert_true(fabs(r.audit[k].signed_residual) < 1e-12 * a.atoms[0].gamma);
    }
    thread_result_free(&r);
    atom_frame_free(&a);
    atom_frame_free(&b);
    free(fa);
    free(fb);
}

static void merge_event(void **state)
{
    (void)state;
    struct field *fa = calloc(1, sizeof *fa), *fb = calloc(1, sizeof *fb);
    disc(fa, 20, 14, 3, -1, 1.0);
    disc(fa, 20, 26, 2.5, -1, 0.8);
    disc(fb, 20, 20, 6, -1, 1.0); /* covers both */
    scale_to(fb, total(fa));
    struct atom_frame a, b;
    struct thread_result r;
    link(fa, fb, &a, &b, &r);
    assert_int_equal(a.count, 2);
    assert_int_equal(b.count, 1);
    assert_int_equal(r.events[LINEAGE_MERGE], 1);
    assert_int_equal(count_kind(&r, LINEAGE_MERGE), 2);
    double fsum = r.edges[0].fraction + r.edges[1].fraction;
    assert_true(fabs(fsum - 1) < 1e-12);
    assert_true(fabs(r.edges[0].fraction - a.atoms[0].gamma / (a.atoms[0].gamma + a.atoms[1].gamma)) < 1e-12);
    assert_int_equal(r.naudit, 1);
    assert_int_equal(r.audit[0].event, LINEAGE_MERGE);
    assert_true(fabs(r.audit[0].residual) < 1e-12 * b.atoms[0].gamma);
    assert_true(fabs(r.audit[0].signed_residual) < 1e-12 * b.atoms[0].gamma);
    thread_result_free(&r);
    atom_frame_free(&a);
    atom_frame_free(&b);
    free(fa);
    free(fb);
}

static void birth_death_continuation(void **state)
{
    (void)state;
    struct field *fa = calloc(1, sizeof *fa), *fb = calloc(1, sizeof *fb);
    disc(fa, 10, 10, 3, +1, 1.0);   /* moves by 2 cells: continuation */
    disc(fa, 34, 34, 2, -1, 1.0);   /* vanishes: death */
    disc(fb, 10, 12, 3, +1, 1.0);
    disc(fb, 36, 6, 2, +1, 0.5);    /* appears far away: birth */
    struct atom_frame a, b;
    struct thread_result r;
    link(fa, fb, &a, &b, &r);
    assert_int_equal(r.events[LINEAGE_CONTINUATION], 1);
    assert_int_equal(r.events[LINEAGE_DEATH], 1);
    assert_int_equal(r.events[LINEAGE_BIRTH], 1);
    assert_int_equal(r.events[LINEAGE_SPLIT] + r.events[LINEAGE_MERGE], 0);
    assert_int_equal(r.nedges, 3);
    assert_true(r.edges[0].parent == 0 && r.edges[0].child == 0 && r.edges[0].kind == LINEAGE_CONTINUATION);
    assert_true(r.edges[1].parent == -1 && r.edges[1].child == 1 && r.edges[1].kind == LINEAGE_BIRTH);
    assert_true(r.edges[2].parent == 1 && r.edges[2].child == -1 && r.edges[2].kind == LINEAGE_DEATH);
    /* audit: continuation conserves exactly (same disc), birth adds, death removes */
    assert_true(fabs(r.audit[0].residual) < 1e-12);
    assert_int_equal(r.audit[1].event, LINEAGE_BIRTH);
    assert_true(fabs(r.audit[1].residual - b.atoms[1].gamma) < 1e-15);
    assert_true(r.audit[2].at_parent && r.audit[2].event == LINEAGE_DEATH);
    assert_true(fabs(r.audit[2].signed_residual - a.atoms[1].gamma) < 1e-15); /* −σΓ with σ = −1 */
    thread_result_free(&r);
    atom_frame_free(&a);
    atom_frame_free(&b);
    free(fa);
    free(fb);
}

/* Without overlap a small atom that moved is still continued through the distance; two
 * identical atoms that both moved are matched to their nearest successors (minimum cost). */
static void continuation_by_distance(void **state)
{
    (void)state;
    struct field *fa = calloc(1, sizeof *fa), *fb = calloc(1, sizeof *fb);
    disc(fa, 10, 10, 1, +1, 1.0);
    disc(fa, 10, 20, 1, +1, 1.0);
    disc(fb, 10, 13, 1, +1, 1.0);
    disc(fb, 10, 23, 1, +1, 1.0);
    struct atom_frame a, b;
    struct thread_result r;
    link(fa, fb, &a, &b, &r);
    assert_int_equal(r.events[LINEAGE_CONTINUATION], 2);
    assert_int_equal(r.nedges, 2);
    /* equal Γ: index order is seed order; atom 0 at x=10 continues to the one at x=13 */
    assert_true(r.edges[0].parent == 0 && r.edges[0].child == 0);
    assert_true(r.edges[1].parent == 1 && r.edges[1].child == 1);
    thread_result_free(&r);
    atom_frame_free(&a);
    atom_frame_free(&b);
    free(fa);
    free(fb);
}

/* A pseudo-random carrier (fixed LCG) with many atoms: threading twice gives the same DAG. */
static void fill_random(struct field *f, uint64_t seed)
{
    uint64_t x = seed;
    for (int c = 0; c < N * N; c++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        int v = (int)((x >> 33) % 7);
        f->s[c] = (int8_t)(v == 0 ? 1 : v == 1 ? -1 : 0);
        f->w[c] = f->s[c] * (0.5 + (double)((x >> 40) & 0xff) / 256);
    }
}

static void threading_is_deterministic(void **state)
{
    (void)state;
    struct field *fa = calloc(1, sizeof *fa), *fb = calloc(1, sizeof *fb);
    fill_random(fa, 1);
    fill_random(fb, 2);
    struct atom_frame a1, b1, a2, b2;
    struct thread_result r1, r2;
    link(fa, fb, &a1, &b1, &r1);
    link(fa, fb, &a2, &b2, &r2);
    assert_true(a1.count > 50 && b1.count > 50);
    assert_int_equal(a1.count, a2.count);
    for (size_t k = 0; k < a1.count; k++) {
        const struct atom *x = &a1.atoms[k], *y = &a2.atoms[k];
        assert_true(x->sigma == y->sigma && x->gamma == y->gamma && x->cx == y->cx && x->cy == y->cy &&
                    x->eps == y->eps && x->orientation == y->orientation && x->elongation == y->elongation &&
                    x->cells == y->cells && x->seed == y->seed);
    }
    assert_memory_equal(a1.labels, a2.labels, N * N * sizeof *a1.labels);
    assert_int_equal(r1.nedges, r2.nedges);
    for (size_t e = 0; e < r1.nedges; e++) {
        const struct lineage_edge *x = &r1.edges[e], *y = &r2.edges[e];
        assert_true(x->parent == y->parent && x->child == y->child && x->kind == y->kind &&
                    x->fraction == y->fraction && x->transfer == y->transfer);
    }
    assert_int_equal(r1.naudit, r2.naudit);
    for (size_t k = 0; k < r1.naudit; k++) {
        const struct audit_rec *x = &r1.audit[k], *y = &r2.audit[k];
        assert_true(x->idx == y->idx && x->at_parent == y->at_parent && x->event == y->event &&
                    x->residual == y->residual && x->signed_residual == y->signed_residual);
    }
    /* every atom of A has an out-edge and every atom of B an in-edge (birth/death included) */
    size_t *out = calloc(a1.count, sizeof *out), *in = calloc(b1.count, sizeof *in);
    for (size_t e = 0; e < r1.nedges; e++) {
        if (r1.edges[e].parent >= 0)
            out[r1.edges[e].parent]++;
        if (r1.edges[e].child >= 0)
            in[r1.edges[e].child]++;
    }
    for (size_t k = 0; k < a1.count; k++)
        assert_true(out[k] >= 1);
    for (size_t k = 0; k < b1.count; k++)
        assert_true(in[k] >= 1);
    /* split fractions of a parent whose edges are all splits sum to 1 (a parent that also
     * feeds a merge gives part of its circulation along the merge edge) */
    double *fs = calloc(a1.count, sizeof *fs);
    size_t nsplit = 0;
    for (size_t e = 0; e < r1.nedges; e++)
        if (r1.edges[e].kind == LINEAGE_SPLIT)
            fs[r1.edges[e].parent] += r1.edges[e].fraction;
    for (size_t e = 0; e < r1.nedges; e++)
        if (r1.edges[e].kind == LINEAGE_MERGE)
            fs[r1.edges[e].parent] = 0;
    for (size_t k = 0; k < a1.count; k++) {
        assert_true(fs[k] == 0 || fabs(fs[k] - 1) < 1e-12);
        nsplit += fs[k] != 0;
    }
    assert_true(nsplit > 0);
    free(fs);
    free(out);
    free(in);
    thread_result_free(&r1);
    thread_result_free(&r2);
    atom_frame_free(&a1);
    atom_frame_free(&b1);
    atom_frame_free(&a2);
    atom_frame_free(&b2);
    free(fa);
    free(fb);
}


/* The tables in a real SQLite file: a 1000-frame track with 40 atoms a frame (about what
 * a 64² LES gives) stores in one transaction within seconds, and the walks, totals and
 * audit summaries read it back. */
#define TRACK_FRAMES 1000
#define TRACK_ATOMS 40

struct track {
    double *atoms, *lineage, *audit;
    size_t na, nl, nu;
    struct store *st;
    int64_t job;
};

static int insert_track(void *ctx, struct dashi_error *err)
{
    struct track *t = ctx;
    return store_atoms_insert(t->st, t->job, t->atoms, t->na, t->lineage, t->nl, t->audit, t->nu, err);
}

static int count_edge(void *ctx, const struct lineage_row *r)
{
    (void)r;
    ++*(size_t *)ctx;
    return 0;
}

static int totals_cb(void *ctx, const char *kind, int64_t events, int64_t edges)
{
    if (strcmp(kind, "continuation") == 0)
        ((int64_t *)ctx)[0] = events, ((int64_t *)ctx)[1] = edges;
    return 0;
}

static void store_a_long_track(void **state)
{
    (void)state;
    char dir[64], path[96];
    assert_int_equal(scratch_dir_make(dir, sizeof dir, "atoms"), 0);
    snprintf(path, sizeof path, "%s/dashid.db", dir);
    struct store st;
    struct dashi_error err;
    assert_int_equal(store_open(&st, path, &err), 0);
    struct job_row row = {0};
    snprintf(row.kind, sizeof row.kind, "atoms");
    snprintf(row.user, sizeof row.user, "test");
    row.params_json = strdup("{}");
    row.params_mp = malloc(1);
    memcpy(row.params_mp, "\x80", 1);
    row.params_mp_len = 1;
    row.submitted_at = 1;
    assert_int_equal(store_job_insert(&st, &row, &err), 0);
    job_row_free(&row);

    struct track t = {.st = &st, .job = row.id};
    t.atoms = calloc((size_t)TRACK_FRAMES * TRACK_ATOMS * ATOMS_COLS, sizeof(double));
    t.lineage = calloc((size_t)TRACK_FRAMES * TRACK_ATOMS * LINEAGE_COLS, sizeof(double));
    t.audit = calloc((size_t)TRACK_FRAMES * TRACK_ATOMS * AUDIT_COLS, sizeof(double));
    for (int f = 0; f < TRACK_FRAMES; f++)
        for (int k = 0; k < TRACK_ATOMS; k++) {
            double *a = t.atoms + t.na++ * ATOMS_COLS;
            a[ATOMS_COL_STEP] = f, a[ATOMS_COL_IDX] = k, a[ATOMS_COL_SIGMA] = k % 2 ? -1 : 1;
            a[ATOMS_COL_GAMMA] = 1.0 / (k + 1), a[ATOMS_COL_EPS] = 0.1, a[ATOMS_COL_ELONGATION] = 1;
            a[ATOMS_COL_CELLS] = 9;
            if (f == 0)
                continue;
            double *e = t.lineage + t.nl++ * LINEAGE_COLS;
            e[0] = f - 1, e[1] = k, e[2] = f, e[3] = k, e[LINEAGE_COL_KIND] = LINEAGE_CONTINUATION;
            e[LINEAGE_COL_FRACTION] = 1;
            double *u = t.audit + t.nu++ * AUDIT_COLS;
            u[AUDIT_COL_STEP] = f, u[AUDIT_COL_IDX] = k, u[AUDIT_COL_EVENT] = LINEAGE_CONTINUATION;
            u[AUDIT_COL_RESIDUAL] = 1e-3, u[AUDIT_COL_SIGNED] = -1e-3;
        }
    /* CPU time: the bound is about the work, not about how busy the CI machine is. */
    struct timespec t0, t1;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);
    assert_int_equal(store_transaction(&st, insert_track, &t, &err), 0);
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
    fprintf(stderr, "stored %zu atoms, %zu edges, %zu audit rows in %.3f s of CPU\n", t.na, t.nl, t.nu, secs);
    assert_true(secs < 5.0);

    int64_t natoms, nsteps;
    assert_int_equal(store_atoms_count(&st, t.job, &natoms, &nsteps, &err), 0);
    assert_int_equal(natoms, TRACK_FRAMES * TRACK_ATOMS);
    assert_int_equal(nsteps, TRACK_FRAMES);
    size_t n = 0;
    assert_int_equal(store_lineage_walk(&st, t.job, 0, 3, false, 10, NULL, 100000, count_edge, &n, &err), 0);
    assert_int_equal(n, 10);
    n = 0;
    assert_int_equal(store_lineage_walk(&st, t.job, TRACK_FRAMES - 1, 3, true, 1000000, NULL, 100000, count_edge, &n, &err),
                     0);
    assert_int_equal(n, TRACK_FRAMES - 1);
    int64_t tot[2] = {0, 0};
    assert_int_equal(store_lineage_totals(&st, t.job, totals_cb, tot, &err), 0);
    assert_int_equal(tot[0], (TRACK_FRAMES - 1) * TRACK_ATOMS);
    assert_int_equal(tot[1], (TRACK_FRAMES - 1) * TRACK_ATOMS);
    /* a malformed row is refused and, inside the import's savepoint, leaves nothing */
    double bad[ATOMS_COLS] = {0, 0, 3 /* sigma */, 1, 0, 0, 1, 0, 1, 1};
    assert_int_equal(store_atoms_insert(&st, t.job, bad, 1, NULL, 0, NULL, 0, &err), -1);
    assert_int_equal(err.code, DASHI_E_BAD_VALUE);
    free(t.atoms);
    free(t.lineage);
    free(t.audit);
    store_close(&st);
    scratch_dir_remove(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(two_blobs_opposite_sign),
        cmocka_unit_test(blob_across_the_seam),
        cmocka_unit_test(rejects_bad_carrier),
        cmocka_unit_test(split_event),
        cmocka_unit_test(merge_event),
        cmocka_unit_test(birth_death_continuation),
        cmocka_unit_test(continuation_by_distance),
        cmocka_unit_test(threading_is_deterministic),
        cmocka_unit_test(store_a_long_track),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
