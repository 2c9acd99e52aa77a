/* SPDX-License-Identifier: MIT */
/* The residual channel (residual_channel.h). Spectra are stored n×n in FFT order
 * (index (iy, jx), m = index or index − n above n/2), normalised so that the field is
 * Σ_m R_m e^{+i 2π (mx·j + my·i)/n}: a forward transform is divided by n². Transforms are
 * FFTW's (any n), one split-format plan per channel made with FFTW_ESTIMATE, so the
 * same n always gives the same plan and the same bits. */
#include "residual_channel.h"

#include <fftw3.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define RESIDUAL_MAX_N 1024u
#define RESIDUAL_MAX_SUBSTEPS 100000.0
#define RK4_STABLE_Z 2.0 /* |u|·|k|·h kept below this (RK4's imaginary-axis limit: 2.83) */

enum { F_RE, F_IM, ACC_RE, ACC_IM, IN_RE, IN_IM, K_RE, K_IM, Z_RE, Z_IM, W_RE, W_IM, A0_RE, A0_IM, A1_RE, A1_IM,
       FILTER, PLANES };

struct residual_channel {
    uint32_t n;
    double box, k2max; /* k2max: the disc's K² in integer mode units */
    size_t modes;
    uint8_t *in_disc;  /* n×n */
    double *plane[PLANES];
    fftw_plan plan; /* n×n split complex, in place on any two planes (FFTW_UNALIGNED) */
};

static long mode_of(uint32_t index, uint32_t n) { return index < (n + 1) / 2 ? (long)index : (long)index - (long)n; }

/* The 2-D transform of (re, im) in place; forward (sign −1) divides by n². FFTW's split
 * format transforms with e^{−i…}; the inverse is the same plan with re and im exchanged
 * (FFTW manual, "Guru Complex DFTs"). */
static void transform(struct residual_channel *c, double *re, double *im, int sign)
{
    if (sign < 0)
        fftw_execute_split_dft(c->plan, re, im, re, im);
    else
        fftw_execute_split_dft(c->plan, im, re, im, re);
    if (sign < 0) {
        double norm = 1.0 / ((double)c->n * c->n);
        for (size_t k = 0; k < (size_t)c->n * c->n; k++)
            re[k] *= norm, im[k] *= norm;
    }
}

void residual_channel_process_init(void) { fftw_make_planner_thread_safe(); }

void residual_channel_process_done(void) { fftw_cleanup(); }

/* Hou and Li's exponential filter exp(−36 (|m|/(n/2))^36) along one axis: 1 − σ < 2e-5 up
 * to 2/3 of the Nyquist mode, σ = exp(−36) at it. It removes the pile-up at the grid scale that
 * an undissipated pseudo-spectral step grows, and leaves the resolved scales alone. */
static double hou_li(long m, uint32_t n)
{
    double r = fabs((double)m) / (double)(n / 2);
    return exp(-36 * pow(r, 36));
}

int residual_channel_create(const double *missed, uint32_t n, double box, double fidelity,
                            struct residual_channel **out, struct dashi_error *err)
{
    *out = NULL;
    if (n < 2 || n > RESIDUAL_MAX_N || !(fidelity >= 0 && fidelity <= 1) || !(box > 0) || !isfinite(box))
        return dashi_fail(err, DASHI_E_BAD_VALUE, "fidelity",
                          "the residual channel needs N in [2, %u] and fidelity in [0, 1] (N %u, fidelity %g)",
                          RESIDUAL_MAX_N, n, fidelity);
    struct residual_channel *c = calloc(1, sizeof *c);
    size_t nn = (size_t)n * n;
    bool ok = c != NULL;
    if (ok) {
        c->n = n;
        c->box = box;
        c->k2max = fidelity * fidelity * (double)n * n / 2;
        c->in_disc = malloc(nn);
        ok = c->in_disc != NULL;
        for (int p = 0; p < PLANES && ok; p++)
            ok = (c->plane[p] = calloc(nn, sizeof(double))) != NULL;
    }
    if (ok) {
        /* Serialised by FFTW itself after residual_channel_process_init (the header). */
        fftw_iodim dims[2] = {{(int)n, (int)n, (int)n}, {(int)n, 1, 1}};
        c->plan = fftw_plan_guru_split_dft(2, dims, 0, NULL, c->plane[F_RE], c->plane[F_IM], c->plane[F_RE],
                                           c->plane[F_IM], FFTW_ESTIMATE | FFTW_UNALIGNED);
        ok = c->plan != NULL;
    }
    if (!ok) {
        residual_channel_destroy(c);
        return dashi_fail(err, DASHI_E_INTERNAL, "", "out of host memory for the residual channel (N %u)", n);
    }
    for (uint32_t i = 0; i < n; i++)
        for (uint32_t j = 0; j < n; j++) {
            long my = mode_of(i, n), mx = mode_of(j, n);
            bool in = fidelity > 0 && (double)(mx * mx + my * my) <= c->k2max; /* f = 0: empty */
            c->in_disc[(size_t)i * n + j] = in;
            c->modes += in;
            c->plane[FILTER][(size_t)i * n + j] = hou_li(mx, n) * hou_li(my, n);
        }
    double *re = c->plane[F_RE], *im = c->plane[F_IM];
    memcpy(re, missed, nn * sizeof *re);
    transform(c, re, im, -1);
    for (size_t k = 0; k < nn; k++)
        if (!c->in_disc[k])
            re[k] = im[k] = 0;
    *out = c;
    return 0;
}

void residual_channel_destroy(struct residual_channel *c)
{
    if (!c)
        return;
    for (int p = 0; p < PLANES; p++)
        free(c->plane[p]);
    free(c->in_disc);
    if (c->plan)
        fftw_destroy_plan(c->plan);
    free(c);
}

size_t residual_channel_modes(const struct residual_channel *c) { return c->modes; }

void residual_channel_add(struct residual_channel *c, double *field)
{
    size_t nn = (size_t)c->n * c->n;
    memcpy(c->plane[Z_RE], c->plane[F_RE], nn * sizeof(double));
    memcpy(c->plane[Z_IM], c->plane[F_IM], nn * sizeof(double));
    transform(c, c->plane[Z_RE], c->plane[Z_IM], +1);
    for (size_t k = 0; k < nn; k++)
        field[k] += c->plane[Z_RE][k];
}

/* Into (zr, zi): the fields (∂x + i ∂y) of the spectrum Ω (gradient) or, with velocity set,
 * u + i v (ψ̂ = Ω/|k|², u = ∂yψ, v = −∂xψ, so û + i v̂ = (kx + i ky) ψ̂), both real fields
 * in one complex transform. The Nyquist modes have no real derivative and are dropped. */
static void synth_pair(struct residual_channel *c, const double *ore, const double *oim, bool velocity, double *zr,
                       double *zi)
{
    uint32_t n = c->n;
    double kunit = 2 * M_PI / c->box;
    for (uint32_t i = 0; i < n; i++)
        for (uint32_t j = 0; j < n; j++) {
            size_t k = (size_t)i * n + j;
            double kx = 2 * j == n ? 0 : kunit * (double)mode_of(j, n);
            double ky = 2 * i == n ? 0 : kunit * (double)mode_of(i, n);
            double k2 = kx * kx + ky * ky;
            if (velocity) {
                double pr = k2 > 0 ? ore[k] / k2 : 0, pi = k2 > 0 ? oim[k] / k2 : 0;
                zr[k] = kx * pr - ky * pi;
                zi[k] = kx * pi + ky * pr;
            } else {
                zr[k] = -kx * oim[k] - ky * ore[k];
                zi[k] = kx * ore[k] - ky * oim[k];
            }
        }
    transform(c, zr, zi, +1);
}

/* The whole field's spectrum at time fraction θ: Ω = (1 − θ)Â0 + θÂ1 + R, into (ore, oim). */
static void total_spectrum(struct residual_channel *c, const double *re, const double *im, double theta, double *ore,
                           double *oim)
{
    const double *a0r = c->plane[A0_RE], *a0i = c->plane[A0_IM], *a1r = c->plane[A1_RE], *a1i = c->plane[A1_IM];
    for (size_t k = 0; k < (size_t)c->n * c->n; k++) {
        ore[k] = (1 - theta) * a0r[k] + theta * a1r[k] + re[k];
        oim[k] = (1 - theta) * a0i[k] + theta * a1i[k] + im[k];
    }
}

/* (kre, kim) = the disc's part of −u·∇ω − ∂A/∂t at θ for the channel spectrum (re, im):
 * ω = A(θ) + r the whole field, u its velocity, ∂A/∂t = (A1 − A0)/dt. */
static void tendency(struct residual_channel *c, const double *re, const double *im, double theta, double dt,
                     double *kre, double *kim)
{
    size_t nn = (size_t)c->n * c->n;
    double *kr = kre, *ki = kim; /* Ω first, the tendency last */
    double *gr = c->plane[Z_RE], *gi = c->plane[Z_IM], *ur = c->plane[W_RE], *ui = c->plane[W_IM];
    total_spectrum(c, re, im, theta, kr, ki);
    synth_pair(c, kr, ki, false, gr, gi);
    synth_pair(c, kr, ki, true, ur, ui);
    for (size_t k = 0; k < nn; k++) {
        gr[k] = -(ur[k] * gr[k] + ui[k] * gi[k]);
        gi[k] = 0;
    }
    transform(c, gr, gi, -1);
    const double *a0r = c->plane[A0_RE], *a0i = c->plane[A0_IM], *a1r = c->plane[A1_RE], *a1i = c->plane[A1_IM];
    for (size_t k = 0; k < nn; k++) {
        bool in = c->in_disc[k];
        kr[k] = in ? gr[k] - (a1r[k] - a0r[k]) / dt : 0;
        ki[k] = in ? gi[k] - (a1i[k] - a0i[k]) / dt : 0;
    }
}

/* max |u| of the whole field at the step's start and end (the channel held at its start). */
static double max_speed(struct residual_channel *c)
{
    double m = 0, *ore = c->plane[K_RE], *oim = c->plane[K_IM], *ur = c->plane[W_RE], *ui = c->plane[W_IM];
    for (int end = 0; end < 2; end++) {
        total_spectrum(c, c->plane[F_RE], c->plane[F_IM], end, ore, oim);
        synth_pair(c, ore, oim, true, ur, ui);
        for (size_t k = 0; k < (size_t)c->n * c->n; k++)
            m = fmax(m, hypot(ur[k], ui[k]));
    }
    return m;
}

/* One classic RK4 substep of length h from time fraction θ to θ + dθ. */
static void rk4_substep(struct residual_channel *c, double h, double dt, double theta, double dtheta)
{
    size_t nn = (size_t)c->n * c->n;
    double *re = c->plane[F_RE], *im = c->plane[F_IM], *ar = c->plane[ACC_RE], *ai = c->plane[ACC_IM];
    double *sr = c->plane[IN_RE], *si = c->plane[IN_IM], *kr = c->plane[K_RE], *ki = c->plane[K_IM];
    static const double stage_at[4] = {0, 0.5, 0.5, 1}, weight[4] = {1, 2, 2, 1};
    memcpy(ar, re, nn * sizeof *ar);
    memcpy(ai, im, nn * sizeof *ai);
    memcpy(sr, re, nn * sizeof *sr);
    memcpy(si, im, nn * sizeof *si);
    for (int st = 0; st < 4; st++) {
        tendency(c, sr, si, theta + stage_at[st] * dtheta, dt, kr, ki);
        double next = st < 3 ? stage_at[st + 1] * h : 0;
        for (size_t k = 0; k < nn; k++) {
            ar[k] += weight[st] * h / 6 * kr[k];
            ai[k] += weight[st] * h / 6 * ki[k];
            if (st < 3) {
                sr[k] = re[k] + next * kr[k];
                si[k] = im[k] + next * ki[k];
            }
        }
    }
    memcpy(re, ar, nn * sizeof *re);
    memcpy(im, ai, nn * sizeof *im);
}

/* The filter applied to the whole field A(θ) + r through the channel: on the disc,
 * r ← r − (1 − σ)(A(θ) + r). */
static void filter_whole_field(struct residual_channel *c, double theta)
{
    double *ore = c->plane[K_RE], *oim = c->plane[K_IM];
    total_spectrum(c, c->plane[F_RE], c->plane[F_IM], theta, ore, oim);
    for (size_t k = 0; k < (size_t)c->n * c->n; k++)
        if (c->in_disc[k]) {
            double damp = 1 - c->plane[FILTER][k];
            c->plane[F_RE][k] -= damp * ore[k];
            c->plane[F_IM][k] -= damp * oim[k];
        }
}

/* The spectrum of a grid field into (re, im). */
static void spectrum_of(struct residual_channel *c, const double *field, double *re, double *im)
{
    size_t nn = (size_t)c->n * c->n;
    memcpy(re, field, nn * sizeof *re);
    memset(im, 0, nn * sizeof *im);
    transform(c, re, im, -1);
}

void residual_channel_absorb(struct residual_channel *c, const double *delta)
{
    double *zr = c->plane[Z_RE], *zi = c->plane[Z_IM];
    spectrum_of(c, delta, zr, zi);
    for (size_t k = 0; k < (size_t)c->n * c->n; k++)
        if (c->in_disc[k]) {
            c->plane[F_RE][k] += zr[k];
            c->plane[F_IM][k] += zi[k];
        }
}

int residual_channel_advect(struct residual_channel *c, const double *atoms_before, const double *atoms_after,
                            double dt, uint32_t substeps, struct dashi_error *err)
{
    if (c->modes == 0 || dt == 0)
        return 0; /* nothing carried */
    spectrum_of(c, atoms_before, c->plane[A0_RE], c->plane[A0_IM]);
    spectrum_of(c, atoms_after, c->plane[A1_RE], c->plane[A1_IM]);
    double kgrid = 2 * M_PI / c->box * (double)(c->n / 2) * M_SQRT2; /* the whole field's largest |k| */
    double need = ceil(fabs(dt) * max_speed(c) * kgrid / RK4_STABLE_Z);
    if (!(need <= RESIDUAL_MAX_SUBSTEPS))
        return dashi_fail(err, DASHI_E_DIVERGED, "", "the residual channel needs %g substeps for one step", need);
    uint32_t sub = need > substeps ? (uint32_t)need : substeps;
    for (uint32_t s = 0; s < sub; s++) {
        rk4_substep(c, dt / sub, dt, (double)s / sub, 1.0 / sub);
        filter_whole_field(c, (double)(s + 1) / sub);
    }
    for (size_t k = 0; k < (size_t)c->n * c->n; k++)
        if (!isfinite(c->plane[F_RE][k]) || !isfinite(c->plane[F_IM][k]))
            return dashi_fail(err, DASHI_E_DIVERGED, "", "the residual channel is no longer finite");
    return 0;
}
