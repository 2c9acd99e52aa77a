/* SPDX-License-Identifier: MIT */
/* Induced velocity, transport and rendering of Gaussian vortex atoms (atom_velocity.h):
 * against the point-vortex law, against an independent rasterise + DFT Poisson solve,
 * conservation of Σq and of the linear impulse, and GPU (real lavapipe) against host
 * (same values to rounding, same bits on repeated runs). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <stdio.h>

#include <cmocka.h>

#include "atom_velocity.h"
#include "pcg64.h"

#define BOX (2 * M_PI)

static double max_abs2(const double *u, const double *v, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++)
        m = fmax(m, hypot(u[i], v[i]));
    return m;
}

/* count atoms with random centroids, strengths of both signs and resolved core radii. */
static struct atom_point *random_atoms(size_t count, uint64_t seed)
{
    struct pcg64 rng;
    pcg64_seed(&rng, seed);
    struct atom_point *a = malloc(count * sizeof *a);
    assert_non_null(a);
    for (size_t i = 0; i < count; i++) {
        a[i].x = BOX * pcg64_double(&rng);
        a[i].y = BOX * pcg64_double(&rng);
        a[i].q = 2 * pcg64_double(&rng) - 1;
        a[i].eps = 0.08 + 0.2 * pcg64_double(&rng);
    }
    return a;
}

static void test_lone_atom_does_not_move(void **state)
{
    (void)state;
    struct atom_point a = {.x = 1.3, .y = 5.9, .q = 2.5, .eps = 0.2};
    double u, v;
    struct dashi_error err;
    assert_int_equal(atom_velocity_host(&a, 1, 48, BOX, &u, &v, &err), 0);
    /* Its own modes cancel in pairs; what is left is rounding against the scale
     * q/(2π ε) of the velocities such an atom induces nearby. */
    double scale = a.q / (2 * M_PI * a.eps);
    assert_true(fabs(u) < 1e-13 * scale);
    assert_true(fabs(v) < 1e-13 * scale);
    struct atom_point b = a;
    assert_int_equal(atom_advect_host(&b, 1, 48, BOX, 0.5, 4, &err), 0);
    assert_true(fabs(b.x - a.x) < 1e-13 && fabs(b.y - a.y) < 1e-13);
}

/* The velocity that a point vortex of strength q induces at offset (x, y) on the periodic
 * box, from the expansion of the square lattice's Green function (Weierstrass σ):
 *   ψ = −q/(2π) ln r + q r²/(4L²) + q g₂ Re(z⁴)/(480π) + O(r⁸),  g₂ = 60 G₄/L⁴,
 * G₄ = Σ' (m + in)⁻⁴ = Γ(1/4)⁸/(960π²). The r² term is the uniform background −q/L² left
 * by dropping mode 0; the z⁴ term (the nearest images) is 3.2 (d/L)⁴ ≈ 8e-4 relative at
 * d = 0.8, so leaving it out would hide sign errors below that. */
static void lattice_velocity(double q, double x, double y, double *u, double *v)
{
    double r2 = x * x + y * y, area = BOX * BOX;
    double g4 = pow(tgamma(0.25), 8) / (960 * M_PI * M_PI), g2 = 60 * g4 / (area * area);
    double c = q * g2 / (480 * M_PI);
    double z3_re = x * x * x - 3 * x * y * y, z3_im = 3 * x * x * y - y * y * y;
    *u = -q * y / (2 * M_PI * r2) + q * y / (2 * area) - 4 * c * z3_im;
    *v = q * x / (2 * M_PI * r2) - q * x / (2 * area) - 4 * c * z3_re;
}

/* Each atom of a pair moves with the other's velocity. With ε = 0.1 resolved by kmax = 64
 * (the pair's modes decay as exp(−k²ε²) ~ e⁻⁴¹ at the cut), the left-overs are the core,
 * exp(−d²/4ε²) = e⁻¹⁶ ~ 1e-7, and the next lattice term ~ 4 (d/L)⁸ ~ 3e-7. */
static void check_pair_against_lattice(const struct atom_point *a, const double *u, const double *v)
{
    for (int i = 0; i < 2; i++) {
        int j = 1 - i;
        double eu, ev;
        lattice_velocity(a[j].q, a[i].x - a[j].x, a[i].y - a[j].y, &eu, &ev);
        assert_true(hypot(u[i] - eu, v[i] - ev) < 1e-6 * hypot(eu, ev));
    }
}

static void test_like_pair_corotates(void **state)
{
    (void)state;
    double d = 0.8, q = 1.7, cx = 2.0, cy = 4.5;
    for (double ang = 0; ang < M_PI; ang += 0.35) {
        struct atom_point a[2] = {
            {.x = cx + 0.5 * d * cos(ang), .y = cy + 0.5 * d * sin(ang), .q = q, .eps = 0.1},
            {.x = cx - 0.5 * d * cos(ang), .y = cy - 0.5 * d * sin(ang), .q = q, .eps = 0.1},
        };
        double u[2], v[2];
        struct dashi_error err;
        assert_int_equal(atom_velocity_host(a, 2, 64, BOX, u, v, &err), 0);
        check_pair_against_lattice(a, u, v);
        /* counter-clockwise for q > 0, equal and opposite: the midpoint stays */
        double speed = q / (2 * M_PI * d);
        assert_true((a[0].x - cx) * v[0] - (a[0].y - cy) * u[0] > 0);
        assert_true(fabs(u[0] + u[1]) < 1e-12 * speed && fabs(v[0] + v[1]) < 1e-12 * speed);
    }

    /* Advected over a quarter turn, the pair rotates about its midpoint at angular speed
     * 2 s/d (s = q/(2πd) − q d/(2L²), the speed without the small z⁴ term) and keeps its
     * separation; the midpoint rule's phase error is ~(ω h)²/6 ~ 4e-4 here. */
    struct atom_point a[2] = {
        {.x = cx + 0.5 * d, .y = cy, .q = q, .eps = 0.1},
        {.x = cx - 0.5 * d, .y = cy, .q = q, .eps = 0.1},
    };
    double s = q / (2 * M_PI * d) - q * d / (2 * BOX * BOX);
    double omega = 2 * s / d, t = 0.5 * M_PI / omega;
    struct dashi_error err;
    assert_int_equal(atom_advect_host(a, 2, 64, BOX, t, 32, &err), 0);
    double mx = 0.5 * (a[0].x + a[1].x), my = 0.5 * (a[0].y + a[1].y);
    assert_true(fabs(mx - cx) < 1e-12 && fabs(my - cy) < 1e-12);
    assert_true(fabs(hypot(a[0].x - a[1].x, a[0].y - a[1].y) - d) < 1e-4 * d);
    double turned = atan2(a[0].y - a[1].y, a[0].x - a[1].x);
    assert_true(fabs(turned - omega * t) < 2e-3 * omega * t);
}

static void test_opposite_pair_translates(void **state)
{
    (void)state;
    double d = 0.8, q = 1.2;
    struct atom_point a[2] = {
        {.x = 3.0, .y = 3.0 + 0.5 * d, .q = q, .eps = 0.1},
        {.x = 3.0, .y = 3.0 - 0.5 * d, .q = -q, .eps = 0.1},
    };
    double u[2], v[2];
    struct dashi_error err;
    assert_int_equal(atom_velocity_host(a, 2, 64, BOX, u, v, &err), 0);
    check_pair_against_lattice(a, u, v);
    /* both move along +x (the +q atom above the −q atom) at the same speed */
    double speed = q / (2 * M_PI * d);
    assert_true(u[0] > 0.9 * speed);
    assert_true(fabs(u[0] - u[1]) < 1e-12 * speed);
    assert_true(fabs(v[0]) < 1e-12 * speed && fabs(v[1]) < 1e-12 * speed);
    /* advected, the pair keeps its shape and moves by u t, across the seam */
    double t = 4.0 / u[0];
    assert_int_equal(atom_advect_host(a, 2, 64, BOX, t, 8, &err), 0);
    double moved = atom_wrap(3.0 + u[0] * t, BOX);
    for (int i = 0; i < 2; i++)
        assert_true(fabs(a[i].x - moved) < 1e-9);
    assert_true(fabs(a[0].y - (3.0 + 0.5 * d)) < 1e-9 && fabs(a[1].y - (3.0 - 0.5 * d)) < 1e-9);
}

/* Unwrapped displacement of x0 → x1 for a move shorter than half the box. */
static double unwrap_delta(double x0, double x1)
{
    double d = x1 - x0;
    if (d > BOX / 2)
        d -= BOX;
    if (d < -BOX / 2)
        d += BOX;
    return d;
}

static void test_impulse_conserved(void **state)
{
    (void)state;
    size_t n = 40;
    struct atom_point *a = random_atoms(n, 7);
    struct atom_point *b = malloc(n * sizeof *b);
    double *u = malloc(2 * n * sizeof *u);
    assert_non_null(b);
    assert_non_null(u);
    memcpy(b, a, n * sizeof *a);
    struct dashi_error err;
    assert_int_equal(atom_velocity_host(a, n, 32, BOX, u, u + n, &err), 0);
    double umax = max_abs2(u, u + n, n), qabs = 0;
    for (size_t i = 0; i < n; i++)
        qabs += fabs(a[i].q);
    double dt = 0.05 / umax; /* displacements well under the box */
    assert_int_equal(atom_advect_host(b, n, 32, BOX, 3 * dt, 3, &err), 0);
    double px = 0, py = 0, moved = 0;
    for (size_t i = 0; i < n; i++) {
        double dx = unwrap_delta(a[i].x, b[i].x), dy = unwrap_delta(a[i].y, b[i].y);
        px += a[i].q * dx;
        py += a[i].q * dy;
        moved = fmax(moved, hypot(dx, dy));
        assert_true(b[i].x >= 0 && b[i].x < BOX && b[i].y >= 0 && b[i].y < BOX);
        assert_true(b[i].q == a[i].q && b[i].eps == a[i].eps);
    }
    assert_true(moved > 0.05); /* they did move */
    assert_true(fabs(px) < 1e-13 * qabs * moved && fabs(py) < 1e-13 * qabs * moved);
    free(a);
    free(b);
    free(u);
}

/* Independent check of the spectral velocity: render the atoms on an n×n grid, take the
 * 2-D DFT directly, solve Poisson on the modes |m_x|, |m_y| ≤ kmax, weight each mode by
 * atom b's Gaussian and evaluate the series at its centroid with libm trig. */
static void test_equals_rasterise_and_poisson(void **state)
{
    (void)state;
    const uint32_t n = 48, kmax = 12;
    const size_t count = 5;
    struct atom_point *a = random_atoms(count, 11);
    double dx = BOX / n;
    for (size_t i = 0; i < count; i++)
        a[i].eps = 2.5 * dx + 0.1 * i; /* resolved: aliasing ~ exp(−2π²·2.5²) */
    double *field = malloc((size_t)n * n * sizeof *field);
    double *u = malloc(2 * count * sizeof *u), *ref = malloc(2 * count * sizeof *ref);
    size_t width = 2 * kmax + 1;
    double *cr = calloc((kmax + 1) * width, sizeof *cr), *ci = calloc((kmax + 1) * width, sizeof *ci);
    assert_true(field && u && ref && cr && ci);
    struct dashi_error err;
    assert_int_equal(atoms_render_host(a, count, n, BOX, field, &err), 0);
    assert_int_equal(atom_velocity_host(a, count, kmax, BOX, u, u + count, &err), 0);
    /* ω̂(m) = (1/n²) Σ f e^{−i k·x}, for m_y = 0..kmax, m_x = −kmax..kmax */
    for (uint32_t my = 0; my <= kmax; my++)
        for (size_t j = 0; j < width; j++) {
            int mx = (int)j - (int)kmax;
            double sr = 0, si = 0;
            for (uint32_t r = 0; r < n; r++)
                for (uint32_t c = 0; c < n; c++) {
                    double ph = 2 * M_PI * ((double)mx * c + (double)my * r) / n;
                    sr += field[r * n + c] * cos(ph);
                    si -= field[r * n + c] * sin(ph);
                }
            cr[my * width + j] = sr / ((double)n * n);
            ci[my * width + j] = si / ((double)n * n);
        }
    for (size_t b = 0; b < count; b++) {
        double ub = 0, vb = 0;
        for (uint32_t my = 0; my <= kmax; my++)
            for (size_t j = 0; j < width; j++) {
                int mx = (int)j - (int)kmax;
                if (my == 0 && mx <= 0)
                    continue;
                double k2 = (double)mx * mx + (double)my * my; /* k1 = 1 on this box */
                double g = exp(-0.5 * k2 * a[b].eps * a[b].eps);
                double ph = mx * a[b].x + my * a[b].y;
                /* mode + its conjugate: 2 Re(i k c/k² e^{iφ}) = −2 k Im(c e^{iφ})/k² */
                double im = cr[my * width + j] * sin(ph) + ci[my * width + j] * cos(ph);
                ub += -2.0 * my * im * g / k2;
                vb += 2.0 * mx * im * g / k2;
            }
        ref[b] = ub;
        ref[count + b] = vb;
    }
    double umax = max_abs2(ref, ref + count, count);
    for (size_t i = 0; i < 2 * count; i++)
        assert_true(fabs(u[i] - ref[i]) < 1e-7 * umax); /* the render's 6ε cut: ~4e-9 */
    free(a);
    free(field);
    free(u);
    free(ref);
    free(cr);
    free(ci);
}

static void test_render(void **state)
{
    (void)state;
    const uint32_t n = 64;
    double dx = BOX / n;
    struct atom_point a[3] = {
        {.x = 0.05, .y = 3.0, .q = 1.5, .eps = 1.5 * dx},    /* across the x seam */
        {.x = 4.0, .y = BOX - 0.02, .q = -0.7, .eps = 0.3},  /* across the y seam */
        {.x = 0.01, .y = 0.03, .q = 0.4, .eps = 2.0 * dx},   /* in the corner */
    };
    double *f = malloc((size_t)n * n * sizeof *f);
    assert_non_null(f);
    struct dashi_error err;
    assert_int_equal(atoms_render_host(a, 3, n, BOX, f, &err), 0);
    double total = 0, qsum = 0;
    for (size_t i = 0; i < (size_t)n * n; i++)
        total += f[i] * dx * dx;
    for (int i = 0; i < 3; i++)
        qsum += a[i].q;
    assert_true(fabs(total - qsum) < 1e-8);
    /* One atom alone: the field is continuous across the seam — the step from the last
     * column to the first is no larger than any other step of that row, and the value at
     * each grid point is the Gaussian of its nearest image (up to the 6ε cut, 1.6e-8). */
    assert_int_equal(atoms_render_host(a, 1, n, BOX, f, &err), 0);
    uint32_t row = (uint32_t)lround(a[0].y / dx);
    const double *fr = f + (size_t)row * n;
    double seam = fabs(fr[0] - fr[n - 1]), step = 0;
    for (uint32_t j = 1; j < n; j++)
        step = fmax(step, fabs(fr[j] - fr[j - 1]));
    assert_true(seam <= step);
    double peak = a[0].q / (2 * M_PI * a[0].eps * a[0].eps);
    for (uint32_t j = 0; j < n; j++) {
        double ddx = unwrap_delta(a[0].x, j * dx), ddy = row * dx - a[0].y;
        double want = peak * exp(-(ddx * ddx + ddy * ddy) / (2 * a[0].eps * a[0].eps));
        assert_true(fabs(fr[j] - want) < 2e-8 * peak);
    }
    free(f);
}

static void test_bad_arguments(void **state)
{
    (void)state;
    struct atom_point a = {.x = 1, .y = 1, .q = 1, .eps = 0.1};
    double u, v, f[16];
    struct dashi_error err;
    assert_int_equal(atom_velocity_host(&a, 1, 0, BOX, &u, &v, &err), -1);
    assert_int_equal(err.code, DASHI_E_BAD_VALUE);
    assert_int_equal(atom_velocity_host(&a, 1, ATOM_VELOCITY_MAX_KMAX + 1, BOX, &u, &v, &err), -1);
    assert_int_equal(err.code, DASHI_E_BAD_VALUE);
    assert_int_equal(atom_velocity_host(&a, 1, 8, -1.0, &u, &v, &err), -1);
    assert_int_equal(err.code, DASHI_E_BAD_VALUE);
    struct atom_point bad[] = {
        {.x = 1, .y = 1, .q = 1, .eps = 0},
        {.x = 1, .y = 1, .q = 1, .eps = -0.1},
        {.x = NAN, .y = 1, .q = 1, .eps = 0.1},
        {.x = 1, .y = INFINITY, .q = 1, .eps = 0.1},
        {.x = 1, .y = 1, .q = NAN, .eps = 0.1},
        {.x = 1, .y = 1, .q = 1, .eps = NAN},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        assert_int_equal(atom_velocity_host(&bad[i], 1, 8, BOX, &u, &v, &err), -1);
        assert_int_equal(err.code, DASHI_E_BAD_VALUE);
        struct atom_point c = bad[i];
        assert_int_equal(atom_advect_host(&c, 1, 8, BOX, 0.1, 1, &err), -1);
        assert_int_equal(err.code, DASHI_E_BAD_VALUE);
        assert_int_equal(atoms_render_host(&bad[i], 1, 4, BOX, f, &err), -1);
        assert_int_equal(err.code, DASHI_E_BAD_VALUE);
    }
    assert_int_equal(atom_advect_host(&a, 1, 8, BOX, NAN, 1, &err), -1);
    assert_int_equal(err.code, DASHI_E_BAD_VALUE);
    assert_int_equal(atom_advect_host(&a, 1, 8, BOX, 0.1, 0, &err), -1);
    assert_int_equal(err.code, DASHI_E_BAD_VALUE);
    assert_int_equal(atoms_render_host(&a, 1, 0, BOX, f, &err), -1);
    assert_int_equal(err.code, DASHI_E_BAD_VALUE);
    struct atom_point wide = {.x = 1, .y = 1, .q = 1, .eps = 2 * BOX};
    assert_int_equal(atoms_render_host(&wide, 1, 4, BOX, f, &err), -1);
    assert_int_equal(err.code, DASHI_E_BAD_VALUE);
    /* nothing to do is fine */
    assert_int_equal(atom_velocity_host(NULL, 0, 8, BOX, NULL, NULL, &err), 0);
    assert_int_equal(atom_advect_host(NULL, 0, 8, BOX, 0.1, 1, &err), 0);
}

/* ---- GPU (lavapipe) against the host reference ---- */

static int gpu_setup(void **state)
{
    struct vk_runtime *vk = calloc(1, sizeof *vk);
    struct dashi_error err;
    if (!vk || vk_runtime_open(vk, "lavapipe", NULL, &err) != 0) {
        fprintf(stderr, "setup: %s\n", vk ? err.message : "out of memory");
        free(vk);
        return -1;
    }
    *state = vk;
    return 0;
}

static int gpu_teardown(void **state)
{
    vk_runtime_close(*state);
    free(*state);
    return 0;
}

/* GPU velocity against host on count random atoms: ≤ 1e-12 of max|u|, and the same bits
 * on a second run. */
static void gpu_velocity_case(struct vk_runtime *vk, size_t count, uint32_t kmax, double eps_scale, uint64_t seed)
{
    struct atom_point *a = random_atoms(count, seed);
    for (size_t i = 0; i < count; i++)
        a[i].eps *= eps_scale;
    double *host = malloc(2 * count * sizeof *host), *gpu = malloc(2 * count * sizeof *gpu);
    double *again = malloc(2 * count * sizeof *again);
    assert_true(host && gpu && again);
    struct dashi_error err;
    struct atom_velocity_gpu *g = NULL;
    assert_int_equal(atom_velocity_gpu_create(vk, count + 3, kmax, &g, &err), 0);
    assert_int_equal(atom_velocity_host(a, count, kmax, BOX, host, host + count, &err), 0);
    assert_int_equal(atom_velocity_gpu_eval(g, a, count, BOX, gpu, gpu + count, &err), 0);
    assert_int_equal(atom_velocity_gpu_eval(g, a, count, BOX, again, again + count, &err), 0);
    double umax = max_abs2(host, host + count, count), worst = 0;
    assert_true(umax > 0);
    for (size_t i = 0; i < 2 * count; i++)
        worst = fmax(worst, fabs(gpu[i] - host[i]));
    print_message("%zu atoms, kmax %u: max|u| %.3g, GPU - host %.3g relative\n", count, kmax, umax, worst / umax);
    assert_true(worst <= 1e-12 * umax);
    assert_memory_equal(gpu, again, 2 * count * sizeof *gpu);
    atom_velocity_gpu_destroy(g);
    free(a);
    free(host);
    free(gpu);
    free(again);
}

static void test_gpu_velocity_equals_host(void **state)
{
    gpu_velocity_case(*state, 300, 32, 1, 21);    /* two chunks, full tiles */
    gpu_velocity_case(*state, 37, 13, 1, 22);     /* partial tiles and atom stages */
    gpu_velocity_case(*state, 2, 5, 1, 23);       /* a small pair */
    gpu_velocity_case(*state, 20000, 4, 1, 24);   /* the most chunks (63) */
    gpu_velocity_case(*state, 50, 128, 0.1, 25);  /* long tables, slowly decaying modes */

    /* a lone atom does not move on the GPU either */
    struct atom_point a = {.x = 0.4, .y = 2.2, .q = -1.5, .eps = 0.15};
    struct atom_velocity_gpu *g = NULL;
    struct dashi_error err;
    double u, v, scale = fabs(a.q) / (2 * M_PI * a.eps);
    assert_int_equal(atom_velocity_gpu_create(*state, 1, 40, &g, &err), 0);
    assert_int_equal(atom_velocity_gpu_eval(g, &a, 1, BOX, &u, &v, &err), 0);
    assert_true(fabs(u) < 1e-13 * scale && fabs(v) < 1e-13 * scale);
    atom_velocity_gpu_destroy(g);
}

static void test_gpu_advect_equals_host(void **state)
{
    struct vk_runtime *vk = *state;
    const size_t count = 200;
    const uint32_t kmax = 24;
    struct atom_point *a = random_atoms(count, 31);
    struct atom_point *host = malloc(count * sizeof *host), *gpu = malloc(count * sizeof *gpu);
    double *u = malloc(2 * count * sizeof *u);
    assert_true(host && gpu && u);
    struct dashi_error err;
    assert_int_equal(atom_velocity_host(a, count, kmax, BOX, u, u + count, &err), 0);
    double dt = 0.3 / max_abs2(u, u + count, count); /* the fastest moves ~0.3 */
    memcpy(host, a, count * sizeof *a);
    memcpy(gpu, a, count * sizeof *a);
    struct atom_velocity_gpu *g = NULL;
    assert_int_equal(atom_velocity_gpu_create(vk, count, kmax, &g, &err), 0);
    assert_int_equal(atom_advect_host(host, count, kmax, BOX, dt, 4, &err), 0);
    assert_int_equal(atom_advect_gpu(g, gpu, count, BOX, dt, 4, &err), 0);
    double worst = 0;
    for (size_t i = 0; i < count; i++) {
        worst = fmax(worst, fabs(unwrap_delta(host[i].x, gpu[i].x)));
        worst = fmax(worst, fabs(unwrap_delta(host[i].y, gpu[i].y)));
        assert_true(gpu[i].x >= 0 && gpu[i].x < BOX && gpu[i].y >= 0 && gpu[i].y < BOX);
        assert_true(gpu[i].q == a[i].q && gpu[i].eps == a[i].eps);
    }
    print_message("advect: GPU - host %.3g\n", worst);
    assert_true(worst <= 1e-11);
    /* the atoms did move, and a second run gives the same bits */
    assert_true(fabs(unwrap_delta(a[0].x, gpu[0].x)) + fabs(unwrap_delta(a[0].y, gpu[0].y)) > 1e-3);
    struct atom_point *again = malloc(count * sizeof *again);
    assert_non_null(again);
    memcpy(again, a, count * sizeof *a);
    assert_int_equal(atom_advect_gpu(g, again, count, BOX, dt, 4, &err), 0);
    assert_memory_equal(gpu, again, count * sizeof *gpu);
    atom_velocity_gpu_destroy(g);
    free(a);
    free(host);
    free(gpu);
    free(u);
    free(again);
}

static void test_gpu_bad_arguments(void **state)
{
    struct vk_runtime *vk = *state;
    struct dashi_error err;
    struct atom_velocity_gpu *g = NULL;
    assert_int_equal(atom_velocity_gpu_create(vk, 4, 0, &g, &err), -1);
    assert_int_equal(err.code, DASHI_E_BAD_VALUE);
    assert_int_equal(atom_velocity_gpu_create(vk, 4, ATOM_VELOCITY_MAX_KMAX + 1, &g, &err), -1);
    assert_int_equal(err.code, DASHI_E_BAD_VALUE);
    assert_int_equal(atom_velocity_gpu_create(vk, 0, 8, &g, &err), -1);
    assert_int_equal(err.code, DASHI_E_TOO_LARGE);
    /* more device memory than lavapipe's 128 MiB per binding */
    assert_int_equal(atom_velocity_gpu_create(vk, 3000000, 64, &g, &err), -1);
    assert_int_equal(err.code, DASHI_E_DEVICE_MEMORY);
    assert_int_equal(atom_velocity_gpu_create(vk, 2, 8, &g, &err), 0);
    struct atom_point a[3] = {{1, 1, 1, 0.1}, {2, 2, 1, 0.1}, {3, 3, 1, 0.1}};
    double u[3], v[3];
    assert_int_equal(atom_velocity_gpu_eval(g, a, 3, BOX, u, v, &err), -1);
    assert_int_equal(err.code, DASHI_E_BAD_VALUE);
    a[1].eps = 0;
    assert_int_equal(atom_velocity_gpu_eval(g, a, 2, BOX, u, v, &err), -1);
    assert_int_equal(err.code, DASHI_E_BAD_VALUE);
    a[1].eps = 0.1;
    a[0].x = NAN;
    assert_int_equal(atom_advect_gpu(g, a, 2, BOX, 0.1, 1, &err), -1);
    assert_int_equal(err.code, DASHI_E_BAD_VALUE);
    a[0].x = 1;
    assert_int_equal(atom_advect_gpu(g, a, 2, BOX, 0.1, 0, &err), -1);
    assert_int_equal(err.code, DASHI_E_BAD_VALUE);
    assert_int_equal(atom_advect_gpu(g, a, 2, BOX, INFINITY, 1, &err), -1);
    assert_int_equal(err.code, DASHI_E_BAD_VALUE);
    assert_int_equal(atom_advect_gpu(g, a, 0, BOX, 0.1, 1, &err), 0);
    atom_velocity_gpu_destroy(g);
    atom_velocity_gpu_destroy(NULL);
}

int main(void)
{
    const struct CMUnitTest host_tests[] = {
        cmocka_unit_test(test_lone_atom_does_not_move),
        cmocka_unit_test(test_like_pair_corotates),
        cmocka_unit_test(test_opposite_pair_translates),
        cmocka_unit_test(test_impulse_conserved),
        cmocka_unit_test(test_equals_rasterise_and_poisson),
        cmocka_unit_test(test_render),
        cmocka_unit_test(test_bad_arguments),
    };
    const struct CMUnitTest gpu_tests[] = {
        cmocka_unit_test(test_gpu_velocity_equals_host),
        cmocka_unit_test(test_gpu_advect_equals_host),
        cmocka_unit_test(test_gpu_bad_arguments),
    };
    int failed = cmocka_run_group_tests(host_tests, NULL, NULL);
    return failed + cmocka_run_group_tests(gpu_tests, gpu_setup, gpu_teardown);
}
