/* SPDX-License-Identifier: MIT */
/* Host reference of atom_velocity.h: the induced velocity by the truncated spectral sum,
 * midpoint transport, and rendering.
 *
 * Every mode factor is separable: T_a(k) = exp(−|k|²ε_a²/2)·e^{−ik·x_a} is the product of
 * TX_a(m_x) and TY_a(m_y), each one 1-D table per atom (phases by recurrence from one
 * sin/cos, so no trig per mode). The sums run over the half plane H (m_y > 0, or m_y = 0
 * and m_x > 0) and take twice the real part, since the −k term is the conjugate.
 *   pass 1: C(k) = Σ_a q_a T_a(k)              atoms in index order, per mode
 *   then    D_y(k) = k_y C(k)/(L²|k|²),  D_x(k) = k_x C(k)/(L²|k|²)
 *   pass 2: u_b = −2 Im Σ_H D_y(k) conj(T_b(k)),  v_b = 2 Im Σ_H D_x(k) conj(T_b(k))
 *           rows m_y ascending, each row's m_x ascending summed first. */
#include "atom_velocity.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The 1-D tables of one atom, m = 0..kmax: t[m] = exp(−(k1 m ε)²/2)·e^{−i k1 m x}. */
static void atom_table(double x, double eps, double box, uint32_t kmax, double *re, double *im)
{
    double k1 = 2 * M_PI / box;
    double theta = k1 * x;
    double c1 = cos(theta), s1 = -sin(theta);
    double pr = 1, pi = 0;
    for (uint32_t m = 0; m <= kmax; m++) {
        double km = k1 * m * eps;
        double g = exp(-0.5 * km * km);
        re[m] = g * pr;
        im[m] = g * pi;
        double nr = pr * c1 - pi * s1;
        pi = pr * s1 + pi * c1;
        pr = nr;
    }
}

/* Expands a table to the full row m = −kmax..kmax (index m + kmax), t(−m) = conj t(m). */
static void full_row(const double *re, const double *im, uint32_t kmax, double *row_re, double *row_im)
{
    for (uint32_t m = 0; m <= kmax; m++) {
        row_re[kmax + m] = re[m];
        row_im[kmax + m] = im[m];
        row_re[kmax - m] = re[m];
        row_im[kmax - m] = -im[m];
    }
}

static int check_box(double box, uint32_t kmax, struct dashi_error *err)
{
    if (kmax < 1 || kmax > ATOM_VELOCITY_MAX_KMAX)
        return dashi_fail(err, DASHI_E_BAD_VALUE, "kmax", "kmax must be in [1, %d], got %u", ATOM_VELOCITY_MAX_KMAX,
                          kmax);
    if (!isfinite(box) || !(box > 0))
        return dashi_fail(err, DASHI_E_BAD_VALUE, "box", "the box size must be finite and positive");
    return 0;
}

static int check_atoms(const struct atom_point *a, size_t count, struct dashi_error *err)
{
    if (count > 0 && !a)
        return dashi_fail(err, DASHI_E_BAD_VALUE, "atoms", "no atoms given for a count of %zu", count);
    for (size_t i = 0; i < count; i++) {
        if (!isfinite(a[i].x) || !isfinite(a[i].y) || !isfinite(a[i].q))
            return dashi_fail(err, DASHI_E_BAD_VALUE, "atoms", "atom %zu has a non-finite centroid or strength", i);
        if (!isfinite(a[i].eps) || !(a[i].eps > 0))
            return dashi_fail(err, DASHI_E_BAD_VALUE, "atoms", "atom %zu has core radius %g; it must be positive", i,
                              a[i].eps);
    }
    return 0;
}

int atom_velocity_check(const struct atom_point *a, size_t count, uint32_t kmax, double box,
                        struct dashi_error *err)
{
    return check_box(box, kmax, err) != 0 || check_atoms(a, count, err) != 0 ? -1 : 0;
}

/* Scratch of one velocity evaluation, sized for kmax. */
struct spectral_work {
    uint32_t kmax, width;               /* width = 2 kmax + 1 */
    double *c_re, *c_im;                /* (kmax+1) × width: C, then reused */
    double *dy_re, *dy_im, *dx_re, *dx_im;
    double *tx_re, *tx_im, *ty_re, *ty_im; /* kmax+1 */
    double *row_re, *row_im;            /* width */
};

static void work_free(struct spectral_work *w)
{
    free(w->c_re); /* one allocation */
    memset(w, 0, sizeof *w);
}

static int work_alloc(struct spectral_work *w, uint32_t kmax, struct dashi_error *err)
{
    size_t width = 2 * (size_t)kmax + 1, modes = ((size_t)kmax + 1) * width;
    size_t total = 6 * modes + 4 * ((size_t)kmax + 1) + 2 * width;
    double *p = calloc(total, sizeof *p);
    if (!p)
        return dashi_fail(err, DASHI_E_INTERNAL, "", "out of host memory");
    w->kmax = kmax;
    w->width = (uint32_t)width;
    w->c_re = p, p += modes;
    w->c_im = p, p += modes;
    w->dy_re = p, p += modes;
    w->dy_im = p, p += modes;
    w->dx_re = p, p += modes;
    w->dx_im = p, p += modes;
    w->tx_re = p, p += kmax + 1;
    w->tx_im = p, p += kmax + 1;
    w->ty_re = p, p += kmax + 1;
    w->ty_im = p, p += kmax + 1;
    w->row_re = p, p += width;
    w->row_im = p;
    return 0;
}

/* u, v at the atoms of a (already checked); positions may be any finite values. */
static void velocity(struct spectral_work *w, const struct atom_point *a, size_t count, double box, double *u,
                     double *v)
{
    uint32_t kmax = w->kmax, width = w->width;
    size_t modes = ((size_t)kmax + 1) * width;
    memset(w->c_re, 0, modes * sizeof(double));
    memset(w->c_im, 0, modes * sizeof(double));

    /* Pass 1: C(k) = Σ_a q_a TY_a(m_y) TX_a(m_x), atoms in index order. Row m_y = 0 is
     * accumulated whole (simpler) and its m_x ≤ 0 half ignored below. */
    for (size_t i = 0; i < count; i++) {
        atom_table(a[i].x, a[i].eps, box, kmax, w->tx_re, w->tx_im);
        atom_table(a[i].y, a[i].eps, box, kmax, w->ty_re, w->ty_im);
        full_row(w->tx_re, w->tx_im, kmax, w->row_re, w->row_im);
        for (uint32_t my = 0; my <= kmax; my++) {
            double wr = a[i].q * w->ty_re[my], wi = a[i].q * w->ty_im[my];
            double *cr = w->c_re + (size_t)my * width, *ci = w->c_im + (size_t)my * width;
            for (uint32_t j = 0; j < width; j++) {
                cr[j] += wr * w->row_re[j] - wi * w->row_im[j];
                ci[j] += wr * w->row_im[j] + wi * w->row_re[j];
            }
        }
    }

    /* D_y = k_y C/(L²|k|²), D_x = k_x C/(L²|k|²) on the half plane, zero elsewhere. */
    double k1 = 2 * M_PI / box, area = box * box;
    for (uint32_t my = 0; my <= kmax; my++)
        for (uint32_t j = 0; j < width; j++) {
            size_t idx = (size_t)my * width + j;
            int mx = (int)j - (int)kmax;
            if (my == 0 && mx <= 0) {
                w->dy_re[idx] = w->dy_im[idx] = w->dx_re[idx] = w->dx_im[idx] = 0;
                continue;
            }
            double kx = k1 * mx, ky = k1 * my;
            double s = 1.0 / (area * (kx * kx + ky * ky));
            double dr = w->c_re[idx] * s, di = w->c_im[idx] * s;
            w->dy_re[idx] = ky * dr;
            w->dy_im[idx] = ky * di;
            w->dx_re[idx] = kx * dr;
            w->dx_im[idx] = kx * di;
        }

    /* Pass 2: per atom, Σ_H D conj(T_b), rows ascending, each row summed first. */
    for (size_t b = 0; b < count; b++) {
        atom_table(a[b].x, a[b].eps, box, kmax, w->tx_re, w->tx_im);
        atom_table(a[b].y, a[b].eps, box, kmax, w->ty_re, w->ty_im);
        full_row(w->tx_re, w->tx_im, kmax, w->row_re, w->row_im);
        double su_im = 0, sv_im = 0;
        for (uint32_t my = 0; my <= kmax; my++) {
            const double *yr = w->dy_re + (size_t)my * width, *yi = w->dy_im + (size_t)my * width;
            const double *xr = w->dx_re + (size_t)my * width, *xi = w->dx_im + (size_t)my * width;
            double ry_re = 0, ry_im = 0, rx_re = 0, rx_im = 0;
            for (uint32_t j = 0; j < width; j++) { /* D · conj(TX) */
                ry_re += yr[j] * w->row_re[j] + yi[j] * w->row_im[j];
                ry_im += yi[j] * w->row_re[j] - yr[j] * w->row_im[j];
                rx_re += xr[j] * w->row_re[j] + xi[j] * w->row_im[j];
                rx_im += xi[j] * w->row_re[j] - xr[j] * w->row_im[j];
            }
            /* Im(R · conj(TY)) */
            su_im += ry_im * w->ty_re[my] - ry_re * w->ty_im[my];
            sv_im += rx_im * w->ty_re[my] - rx_re * w->ty_im[my];
        }
        u[b] = -2 * su_im;
        v[b] = 2 * sv_im;
    }
}

int atom_velocity_host(const struct atom_point *a, size_t count, uint32_t kmax, double box, double *u, double *v,
                       struct dashi_error *err)
{
    if (atom_velocity_check(a, count, kmax, box, err) != 0)
        return -1;
    if (count > 0 && (!u || !v))
        return dashi_fail(err, DASHI_E_BAD_VALUE, "velocity", "no output arrays given");
    struct spectral_work w;
    if (work_alloc(&w, kmax, err) != 0)
        return -1;
    velocity(&w, a, count, box, u, v);
    work_free(&w);
    return 0;
}

double atom_wrap(double x, double box)
{
    double r = x - box * floor(x / box);
    if (r >= box) /* x slightly below 0 rounds up to box */
        r -= box;
    if (r < 0)
        r = 0;
    return r;
}

int atom_advect_check(const struct atom_point *a, size_t count, uint32_t kmax, double box, double dt,
                      uint32_t substeps, struct dashi_error *err)
{
    if (atom_velocity_check(a, count, kmax, box, err) != 0)
        return -1;
    if (!isfinite(dt))
        return dashi_fail(err, DASHI_E_BAD_VALUE, "dt", "dt must be finite");
    if (substeps < 1)
        return dashi_fail(err, DASHI_E_BAD_VALUE, "substeps", "substeps must be at least 1");
    return 0;
}

int atom_advect_host(struct atom_point *a, size_t count, uint32_t kmax, double box, double dt, uint32_t substeps,
                     struct dashi_error *err)
{
    if (atom_advect_check(a, count, kmax, box, dt, substeps, err) != 0)
        return -1;
    if (count == 0)
        return 0;
    struct spectral_work w;
    if (work_alloc(&w, kmax, err) != 0)
        return -1;
    double *u = malloc(2 * count * sizeof *u);
    struct atom_point *mid = malloc(count * sizeof *mid);
    if (!u || !mid) {
        free(u);
        free(mid);
        work_free(&w);
        return dashi_fail(err, DASHI_E_INTERNAL, "", "out of host memory");
    }
    double *v = u + count;
    double h = dt / substeps;
    for (uint32_t s = 0; s < substeps; s++) {
        velocity(&w, a, count, box, u, v);
        for (size_t i = 0; i < count; i++) {
            mid[i] = a[i];
            mid[i].x = atom_wrap(a[i].x + 0.5 * h * u[i], box);
            mid[i].y = atom_wrap(a[i].y + 0.5 * h * v[i], box);
        }
        velocity(&w, mid, count, box, u, v);
        for (size_t i = 0; i < count; i++) {
            a[i].x = atom_wrap(a[i].x + h * u[i], box);
            a[i].y = atom_wrap(a[i].y + h * v[i], box);
        }
    }
    free(u);
    free(mid);
    work_free(&w);
    return 0;
}

/* The 1-D weights exp(−d²/(2ε²)) of grid lines lo..lo+len−1 (unwrapped) about c. */
static void window_weights(double c, double eps, double dx, long lo, long len, double *wt)
{
    for (long t = 0; t < len; t++) {
        double d = (double)(lo + t) * dx - c;
        wt[t] = exp(-d * d / (2 * eps * eps));
    }
}

int atoms_render_host(const struct atom_point *a, size_t count, uint32_t n, double box, double *field,
                      struct dashi_error *err)
{
    if (n < 1 || n > 65536)
        return dashi_fail(err, DASHI_E_BAD_VALUE, "n", "the render size must be in [1, 65536], got %u", n);
    if (!isfinite(box) || !(box > 0))
        return dashi_fail(err, DASHI_E_BAD_VALUE, "box", "the box size must be finite and positive");
    if (!field)
        return dashi_fail(err, DASHI_E_BAD_VALUE, "field", "no output field given");
    if (check_atoms(a, count, err) != 0)
        return -1;
    double eps_max = 0;
    for (size_t i = 0; i < count; i++)
        eps_max = fmax(eps_max, a[i].eps);
    if (eps_max > box)
        return dashi_fail(err, DASHI_E_BAD_VALUE, "atoms", "a core radius of %g exceeds the box size %g", eps_max,
                          box);
    double dx = box / n;
    /* Window of grid lines within 6ε: at most 12ε/dx + 2 ≤ 12 n + 2 of them. */
    long cap = (long)(12 * eps_max / dx) + 2;
    double *wx = malloc(2 * (size_t)cap * sizeof *wx);
    if (!wx)
        return dashi_fail(err, DASHI_E_INTERNAL, "", "out of host memory");
    double *wy = wx + cap;
    memset(field, 0, (size_t)n * n * sizeof *field);
    for (size_t i = 0; i < count; i++) {
        double x = atom_wrap(a[i].x, box), y = atom_wrap(a[i].y, box), r = 6 * a[i].eps;
        long jlo = (long)ceil((x - r) / dx), jhi = (long)floor((x + r) / dx);
        long ilo = (long)ceil((y - r) / dx), ihi = (long)floor((y + r) / dx);
        long nj = jhi - jlo + 1, ni = ihi - ilo + 1;
        if (nj > cap)
            nj = cap;
        if (ni > cap)
            ni = cap;
        window_weights(x, a[i].eps, dx, jlo, nj, wx);
        window_weights(y, a[i].eps, dx, ilo, ni, wy);
        double peak = a[i].q / (2 * M_PI * a[i].eps * a[i].eps);
        for (long ti = 0; ti < ni; ti++) {
            long row = ((ilo + ti) % (long)n + (long)n) % (long)n;
            double wrow = peak * wy[ti];
            double *f = field + (size_t)row * n;
            for (long tj = 0; tj < nj; tj++) {
                long col = ((jlo + tj) % (long)n + (long)n) % (long)n;
                f[col] += wrow * wx[tj];
            }
        }
    }
    free(wx);
    return 0;
}
