/* SPDX-License-Identifier: MIT */
/* Atom extraction: a breadth-first walk labels each 8-connected same-sign component of
 * the carrier on the periodic grid. The walk also unwraps coordinates (each cell gets
 * its neighbour's coordinates plus the step taken), which makes centroids and moments
 * of components that cross the seam come out as if the seam were not there. The cells
 * of a component are contiguous in the walk's queue, so the moments are two passes
 * over that slice: centroid first, then second moments about it (no cancellation). */
#include "atoms.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "closure.h"
#include "ic.h"

static const int step_di[8] = {-1, -1, -1, 0, 0, 1, 1, 1};
static const int step_dj[8] = {-1, 0, 1, -1, 1, -1, 0, 1};

double atoms_periodic_distance(double ax, double ay, double bx, double by, double box)
{
    double dx = fabs(ax - bx), dy = fabs(ay - by);
    dx = fmod(dx, box);
    dy = fmod(dy, box);
    if (dx > box / 2)
        dx = box - dx;
    if (dy > box / 2)
        dy = box - dy;
    return sqrt(dx * dx + dy * dy);
}

void atom_frame_free(struct atom_frame *frame)
{
    if (!frame)
        return;
    free(frame->atoms);
    free(frame->labels);
    frame->atoms = NULL;
    frame->labels = NULL;
    frame->count = 0;
}

/* The one finishing step of the per-atom measures (the host walk below and the GPU
 * reduction of atoms_gpu.c both end here). sxx, syy, sxy are the weighted central
 * second-moment sums in cells², total the weight. */
void atom_from_sums(struct atom *a, double sum_om, double total, double mu, double mv, double sxx, double syy,
                    double sxy, double dx, double box)
{
    /* A cell is a unit square, not a point: its own second moment is 1/12 per axis. */
    double cxx = sxx / total + 1.0 / 12;
    double cyy = syy / total + 1.0 / 12;
    double cxy = sxy / total;
    double half_tr = (cxx + cyy) / 2, half_diff = (cxx - cyy) / 2;
    double disc = sqrt(half_diff * half_diff + cxy * cxy);
    double lmax = half_tr + disc, lmin = half_tr - disc;
    if (lmin < 1e-300)
        lmin = 1e-300;

    a->gamma = fabs(sum_om * dx * dx);
    a->cx = fmod(mu * dx, box);
    if (a->cx < 0)
        a->cx += box;
    a->cy = fmod(mv * dx, box);
    if (a->cy < 0)
        a->cy += box;
    a->eps = dx * sqrt(cxx + cyy);
    a->orientation = 0.5 * atan2(2 * cxy, cxx - cyy);
    a->elongation = sqrt(lmax / lmin);
}

/* Measures the component whose cells are queue[begin, end) with unwrapped coords u, v. */
static void measure(const uint32_t *queue, size_t begin, size_t end, const int32_t *u, const int32_t *v,
                    const double *omega, double dx, double box, struct atom *a)
{
    double sum_w = 0, sum_om = 0;
    for (size_t k = begin; omega && k < end; k++) {
        sum_w += fabs(omega[queue[k]]);
        sum_om += omega[queue[k]];
    }
    bool uniform = !(sum_w > 0);
    double total = uniform ? (double)(end - begin) : sum_w;
    double mu = 0, mv = 0;
    for (size_t k = begin; k < end; k++) {
        double w = uniform ? 1.0 : fabs(omega[queue[k]]);
        mu += w * u[k];
        mv += w * v[k];
    }
    mu /= total;
    mv /= total;
    double cxx = 0, cyy = 0, cxy = 0;
    for (size_t k = begin; k < end; k++) {
        double w = uniform ? 1.0 : fabs(omega[queue[k]]);
        double du = u[k] - mu, dv = v[k] - mv;
        cxx += w * du * du;
        cyy += w * dv * dv;
        cxy += w * du * dv;
    }
    atom_from_sums(a, sum_om, total, mu, mv, cxx, cyy, cxy, dx, box);
    a->cells = (uint32_t)(end - begin);
}

int atom_order(const void *pa, const void *pb)
{
    const struct atom *a = pa, *b = pb;
    if (a->gamma != b->gamma)
        return a->gamma > b->gamma ? -1 : 1;
    return a->seed < b->seed ? -1 : a->seed > b->seed;
}

int atoms_extract(const int8_t *s, const double *omega, uint32_t n, double box, struct atom_frame *frame,
                  struct dashi_error *err)
{
    memset(frame, 0, sizeof *frame);
    if (n < 1 || n > 65536 || !(box > 0))
        return dashi_fail(err, DASHI_E_BAD_VALUE, "N", "grid side %u out of range", n);
    size_t nn = (size_t)n * n;
    for (size_t c = 0; c < nn; c++)
        if (s[c] < -1 || s[c] > 1)
            return dashi_fail(err, DASHI_E_BAD_VALUE, "carrier", "carrier value %d at cell %zu is not in {-1,0,1}",
                              s[c], c);
    int32_t *labels = malloc(nn * sizeof *labels);
    uint32_t *queue = malloc(nn * sizeof *queue);
    int32_t *u = malloc(nn * sizeof *u), *v = malloc(nn * sizeof *v);
    size_t cap = 64, count = 0;
    struct atom *atoms = malloc(cap * sizeof *atoms);
    int32_t *remap = NULL;
    if (!labels || !queue || !u || !v || !atoms)
        goto oom;
    for (size_t c = 0; c < nn; c++)
        labels[c] = -1;
    double dx = box / n;
    size_t tail = 0;
    for (size_t seed = 0; seed < nn; seed++) {
        if (s[seed] == 0 || labels[seed] >= 0)
            continue;
        if (count == cap) {
            struct atom *p = realloc(atoms, 2 * cap * sizeof *atoms);
            if (!p)
                goto oom;
            atoms = p;
            cap *= 2;
        }
        int32_t id = (int32_t)count;
        int8_t sign = s[seed];
        size_t begin = tail, head = tail;
        queue[tail] = (uint32_t)seed;
        u[tail] = (int32_t)(seed % n);
        v[tail] = (int32_t)(seed / n);
        tail++;
        labels[seed] = id;
        while (head < tail) {
            uint32_t c = queue[head];
            int32_t cu = u[head], cv = v[head];
            head++;
            uint32_t i = c / n, j = c % n;
            for (int k = 0; k < 8; k++) {
                uint32_t ni = (uint32_t)(((int64_t)i + n + step_di[k]) % n);
                uint32_t nj = (uint32_t)(((int64_t)j + n + step_dj[k]) % n);
                size_t nc = (size_t)ni * n + nj;
                if (s[nc] != sign || labels[nc] >= 0)
                    continue;
                labels[nc] = id;
                queue[tail] = (uint32_t)nc;
                u[tail] = cu + step_dj[k];
                v[tail] = cv + step_di[k];
                tail++;
            }
        }
        struct atom *a = &atoms[count++];
        a->sigma = sign;
        a->seed = (uint32_t)seed;
        measure(queue, begin, tail, u, v, omega, dx, box, a);
    }
    remap = malloc((count ? count : 1) * sizeof *remap);
    if (!remap)
        goto oom;
    qsort(atoms, count, sizeof *atoms, atom_order);
    /* The label at an atom's seed is still its pre-sort id: map it to the sorted index. */
    for (size_t k = 0; k < count; k++)
        remap[labels[atoms[k].seed]] = (int32_t)k;
    for (size_t c = 0; c < nn; c++)
        if (labels[c] >= 0)
            labels[c] = remap[labels[c]];
    free(remap);
    free(queue);
    free(u);
    free(v);
    frame->n = n;
    frame->count = count;
    frame->atoms = atoms;
    frame->labels = labels;
    return 0;
oom:
    free(labels);
    free(queue);
    free(u);
    free(v);
    free(atoms);
    free(remap);
    return dashi_fail(err, DASHI_E_INTERNAL, "", "out of host memory for atom extraction");
}

/* The carrier comes from closure.c (one definition of the closure in the tree): the
 * normalised detail (x = clip(R / (max|R| + 1e-12)), R = ω − smooth2d(ω, 11)), thresholded at
 * τ (atoms_initial_carrier), then closed to its fixed point (atoms_closed_carrier). */
#define CARRIER_SMOOTH 11

int atoms_initial_carrier(const double *omega, uint32_t n, double tau, int8_t *s, struct dashi_error *err)
{
    size_t nn = (size_t)n * n;
    double *x = malloc(nn * sizeof *x);
    if (!x)
        return dashi_fail(err, DASHI_E_INTERNAL, "", "out of host memory for the carrier");
    if (smooth2d(omega, x, n, CARRIER_SMOOTH, err) != 0) {
        free(x);
        return -1;
    }
    double maxabs = 0;
    for (size_t c = 0; c < nn; c++) {
        x[c] = omega[c] - x[c];
        if (fabs(x[c]) > maxabs)
            maxabs = fabs(x[c]);
    }
    for (size_t c = 0; c < nn; c++) {
        double v = x[c] / (maxabs + 1e-12);
        x[c] = v < -1 ? -1 : v > 1 ? 1 : v;
    }
    carrier_ternary(x, nn, tau, s);
    free(x);
    return 0;
}

int atoms_closed_carrier(const double *omega, uint32_t n, double tau, int8_t *s, int *depth,
                         struct dashi_error *err)
{
    int8_t *tmp = malloc(2 * (size_t)n * n);
    if (!tmp)
        return dashi_fail(err, DASHI_E_INTERNAL, "", "out of host memory for the carrier");
    if (atoms_initial_carrier(omega, n, tau, s, err) != 0) {
        free(tmp);
        return -1;
    }
    int k = closure_run(s, n, CLOSURE_ETA, NULL, CARRIER_MAX_LEVELS, NULL, tmp);
    free(tmp);
    if (k > CARRIER_MAX_LEVELS)
        return dashi_fail(err, DASHI_E_INTERNAL, "", "the closure reached no fixed point in %d passes",
                          CARRIER_MAX_LEVELS);
    if (depth)
        *depth = k;
    return 0;
}
