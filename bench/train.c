/* SPDX-License-Identifier: MIT */
/* dashi-bench-train: encode + fit of a training set (default 301 frames at N = 64, the
 * refdata case: 300 pairs) as the train job does it (GPU encoder of encode_gpu.c, the ridge
 * fit of ridge.c with its products and solves on the GPU), next to a CPU baseline
 * measured in the same run: a plain C encoder (FFTW's transforms, same formulas) and the same
 * fit on the host alone (reference LAPACK/BLAS); the A of the two is compared, and the
 * GPU fit's pieces against plain C loops in the BLAS order (how many entries differ at all).
 * Frames are the LES initial conditions of seeds 0..F-1 (smoothed, normalised noise).
 *   --device NAME   Vulkan device (vk.h rules; default auto)
 *   --N N           grid size, a power of two (default 64)
 *   --frames F      frames (default 301)
 *   --reps R        repetitions, the best is reported (default 5) */
#include <complex.h>
#include <fftw3.h> /* after complex.h: fftw_complex is double complex */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "encode.h"
#include "fft_vkfft.h"
#include "ic.h"
#include "ridge.h"
#include "ridge_gpu.h"
#include "vk.h"

void dpotrf_(const char *uplo, const int *n, double *a, const int *lda, int *info, size_t luplo);

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + 1e-6 * (double)ts.tv_nsec;
}

/* ---- the CPU baseline ---- */

/* The 2-D forward transform of a real field by FFTW (complex in place, plan made once). */
static void fft2(fftw_plan plan, const double *x, double complex *out, uint32_t n)
{
    for (size_t e = 0; e < (size_t)n * n; e++)
        out[e] = x[e];
    fftw_execute_dft(plan, out, out);
}

static void box(const double *in, double *out, uint32_t n, uint32_t k, bool along_x)
{
    int lo = -(int)(k / 2), hi = (int)k - 1 - (int)(k / 2);
    for (uint32_t i = 0; i < n; i++)
        for (uint32_t j = 0; j < n; j++) {
            double s = 0;
            int c = (int)(along_x ? j : i);
            for (int m = c + lo; m <= c + hi; m++)
                if (m >= 0 && m < (int)n)
                    s += along_x ? in[(size_t)i * n + m] : in[(size_t)m * n + j];
            out[(size_t)i * n + j] = s / k;
        }
}

struct cpu_work { double *tmp, *r; int *s, *s2; double complex *w, *rh; fftw_plan plan; };

static void cpu_encode_frame(const struct encode_config *cfg, const struct encode_bands *b, const int64_t *anchors,
                             const double *w, struct cpu_work *cw, double *z)
{
    uint32_t n = cfg->n;
    size_t nn = (size_t)n * n;
    box(w, cw->r, n, cfg->smooth, true);
    box(cw->r, cw->tmp, n, cfg->smooth, false);
    double mx = 0;
    for (size_t e = 0; e < nn; e++) {
        cw->r[e] = w[e] - cw->tmp[e];
        mx = fmax(mx, fabs(cw->r[e]));
    }
    for (size_t e = 0; e < nn; e++) {
        double x = fmin(1, fmax(-1, cw->r[e] / (mx + 1e-12)));
        cw->s[e] = x >= cfg->tau ? 1 : x <= -cfg->tau ? -1 : 0;
    }
    for (int pass = 0; pass < 8; pass++) {
        bool changed = false;
        for (uint32_t i = 0; i < n; i++)
            for (uint32_t j = 0; j < n; j++) {
                int sum = 0;
                for (int di = -1; di <= 1; di++)
                    for (int dj = -1; dj <= 1; dj++)
                        sum += cw->s[((i + n + di) % n) * n + (j + n + dj) % n];
                int v = (sum > 0) - (sum < 0);
                changed |= v != cw->s[(size_t)i * n + j];
                cw->s2[(size_t)i * n + j] = v;
            }
        int *t = cw->s;
        cw->s = cw->s2;
        cw->s2 = t;
        if (!changed)
            break;
    }
    fft2(cw->plan, w, cw->w, n);
    fft2(cw->plan, cw->r, cw->rh, n);
    double n2 = (double)nn, n4 = n2 * n2;
    for (uint32_t q = 0; q < b->m; q++) {
        z[q] = creal(cw->w[b->low_idx[q]]) / n2;
        z[b->m + q] = cimag(cw->w[b->low_idx[q]]) / n2;
    }
    size_t cnt = 0;
    double mid = 0, high = 0, anc = 0;
    for (size_t e = 0; e < nn; e++) {
        cnt += cw->s[e] != 0;
        double e2 = creal(cw->rh[e]) * creal(cw->rh[e]) + cimag(cw->rh[e]) * cimag(cw->rh[e]);
        if (b->band[e] == 1)
            mid += e2;
        else if (b->band[e] == 2)
            high += e2;
    }
    const double complex *src = cfg->mode == ENCODE_REFERENCE ? cw->rh : cw->w;
    uint32_t off = 2 * b->m + 4;
    for (uint32_t a = 0; a < cfg->topk; a++) {
        double complex r = cw->rh[anchors[a]];
        anc += creal(r) * creal(r) + cimag(r) * cimag(r);
        z[off + a] = creal(src[anchors[a]]) / n2;
        z[off + cfg->topk + a] = cimag(src[anchors[a]]) / n2;
    }
    z[2 * b->m] = (double)cnt / n2;
    z[2 * b->m + 1] = (mid - anc) / n4 / (double)(b->n_mid - cfg->topk);
    z[2 * b->m + 2] = high / (double)b->n_high / n4;
    z[2 * b->m + 3] = cfg->topk;
}

static uint64_t count_diff(const double *a, const double *b, size_t n, double *worst)
{
    uint64_t k = 0;
    *worst = 0;
    for (size_t i = 0; i < n; i++)
        if (a[i] != b[i]) {
            k++;
            *worst = fmax(*worst, fabs(a[i] - b[i]) / fmax(fabs(b[i]), 1e-300));
        }
    return k;
}

/* The GPU fit's pieces (dual form, T < D) against plain C loops in the reference BLAS's
 * order and rounding: G = X Xᵀ, then (from the same host Cholesky factor) A = Xᵀ W and
 * W Xᵀ. Prints how many entries differ at all. */
static void check_pieces(struct vk_runtime *vk, const double *X, const double *Y, uint32_t T, uint32_t D,
                         double lambda)
{
    struct dashi_error err = {0};
    struct ridge_gpu *g = NULL;
    size_t tt = (size_t)T * T, td = (size_t)T * D, dd = (size_t)D * D;
    double *Gg = malloc(tt * 8), *Gh = malloc(tt * 8), *U = malloc(tt * 8), *W = malloc(td * 8);
    double *Ag = malloc(dd * 8), *Ah = malloc(dd * 8), *Sg = malloc(tt * 8), *Sh = malloc(tt * 8);
    double *XA = malloc(td * 8);
    int n = (int)T, info = 0;
    if (!Gg || !Gh || !U || !W || !Ag || !Ah || !Sg || !Sh || !XA || T >= D ||
        ridge_gpu_open(vk, X, Y, T, D, &g, &err) != 0 || ridge_gpu_normal(g, Gg, &err) != 0) {
        printf("exactness check T=%u: could not run (%s)\n", T, err.message);
        goto out;
    }
    for (size_t i = 0; i < T; i++)
        for (size_t j = 0; j < T; j++) {
            double acc = 0;
            for (size_t k = 0; k < D; k++)
                acc += X[i * D + k] * X[j * D + k];
            Gh[i * T + j] = acc;
        }
    memcpy(U, Gh, tt * 8);
    for (size_t i = 0; i < T; i++)
        U[i * T + i] += lambda;
    dpotrf_("U", &n, U, &n, &info, 1);
    memcpy(W, Y, td * 8);
    for (size_t k = 0; k < T; k++) /* Uᵀ V = Y, then U W = V (dtrsm's orders) */
        for (size_t c = 0; c < D; c++) {
            W[k * D + c] /= U[k * T + k];
            for (size_t i = k + 1; i < T; i++)
                W[i * D + c] -= U[k + i * T] * W[k * D + c];
        }
    for (size_t k = T; k-- > 0;)
        for (size_t c = 0; c < D; c++) {
            W[k * D + c] /= U[k * T + k];
            for (size_t i = 0; i < k; i++)
                W[i * D + c] -= W[k * D + c] * U[i + k * T];
        }
    for (size_t i = 0; i < D; i++)
        for (size_t j = 0; j < D; j++) {
            double acc = 0;
            for (size_t t = 0; t < T; t++)
                acc += X[t * D + i] * W[t * D + j];
            Ah[i * D + j] = acc;
        }
    for (size_t i = 0; i < T; i++)
        for (size_t j = 0; j < T; j++) {
            double acc = 0;
            for (size_t k = 0; k < D; k++)
                acc += W[i * D + k] * X[j * D + k];
            Sh[i + j * T] = acc;
        }
    if (info != 0 || ridge_gpu_solve(g, U, Ag, Sg, XA, &err) != 0) {
        printf("exactness check T=%u: solve failed (%d %s)\n", T, info, err.message);
        goto out;
    }
    double wg, wa, ws;
    uint64_t kg = count_diff(Gg, Gh, tt, &wg), ka = count_diff(Ag, Ah, dd, &wa), ks = count_diff(Sg, Sh, tt, &ws);
    printf("exactness check T=%u D=%u (GPU vs C loops in BLAS order): G %llu of %zu differ (max rel %.2g), "
           "A %llu of %zu (%.2g), W Xt %llu of %zu (%.2g)\n", T, D, (unsigned long long)kg, tt, wg,
           (unsigned long long)ka, dd, wa, (unsigned long long)ks, tt, ws);
out:
    ridge_gpu_close(g);
    free(Gg), free(Gh), free(U), free(W), free(Ag), free(Ah), free(Sg), free(Sh), free(XA);
}

int main(int argc, char **argv)
{
    const char *device = "auto";
    uint32_t n = 64, frames = 301, reps = 5;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--device") == 0 && i + 1 < argc)
            device = argv[++i];
        else if (strcmp(argv[i], "--N") == 0 && i + 1 < argc)
            n = (uint32_t)atoi(argv[++i]);
        else if (strcmp(argv[i], "--frames") == 0 && i + 1 < argc)
            frames = (uint32_t)atoi(argv[++i]);
        else if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc)
            reps = (uint32_t)atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: dashi-bench-train [--device NAME] [--N N] [--frames F] [--reps R]\n");
            return 2;
        }
    }
    if (n < 8 || (n & (n - 1)) || frames < 3 || reps < 1) {
        fprintf(stderr, "N must be a power of two >= 8, frames >= 3, reps >= 1\n");
        return 2;
    }
    struct dashi_error err = {0};
    struct vk_runtime vk;
    struct fft_cache *fft = NULL;
    struct encoder *enc = NULL;
    struct encode_config cfg = ENCODE_DEFAULTS(n);
    cfg.mode = ENCODE_REFERENCE;
    size_t nn = (size_t)n * n;
    double *traj = malloc(frames * nn * sizeof *traj);
    if (!traj || vk_runtime_open(&vk, device, NULL, &err) != 0) {
        fprintf(stderr, "dashi-bench-train: %s\n", err.message);
        return 1;
    }
    for (uint32_t f = 0; f < frames; f++)
        if (les_initial_condition(f, n, traj + f * nn, &err) != 0) {
            fprintf(stderr, "ic: %s\n", err.message);
            return 1;
        }
    if (fft_cache_create(&vk, &fft, &err) != 0 || encoder_create(&vk, fft, &cfg, &enc, &err) != 0) {
        fprintf(stderr, "dashi-bench-train: %s\n", err.message);
        return 1;
    }
    const struct encode_bands *b = encoder_bands(enc);
    uint32_t d = b->d;
    double *Zg = malloc((size_t)frames * d * sizeof *Zg), *Zc = malloc((size_t)frames * d * sizeof *Zc);
    double *A = malloc((size_t)d * d * sizeof *A);
    int64_t *anchors = malloc(cfg.topk * sizeof *anchors);
    struct cpu_work cw = {malloc(nn * 8), malloc(nn * 8), malloc(nn * 4), malloc(nn * 4), malloc(nn * 16),
                          malloc(nn * 16)};
    if (!Zg || !Zc || !A || !anchors || !cw.tmp || !cw.r || !cw.s || !cw.s2 || !cw.w || !cw.rh)
        return 1;
    /* FFTW_MEASURE: the baseline gets FFTW's best plan for this n (planned before timing). */
    if (!(cw.plan = fftw_plan_dft_2d((int)n, (int)n, cw.w, cw.w, FFTW_FORWARD, FFTW_MEASURE | FFTW_UNALIGNED)))
        return 1;

    /* warm-up: plan, pipelines, first submission */
    if (encoder_select_anchors(enc, traj, anchors, &err) != 0 ||
        encoder_run(enc, traj, frames, anchors, Zg, NULL, &err) != 0) {
        fprintf(stderr, "encode: %s\n", err.message);
        return 1;
    }
    double best_enc = INFINITY, best_gpu = INFINITY, best_fit = INFINITY, best_diag = INFINITY;
    double best_fit_gpu = INFINITY;
    struct ridge_report rep = {0};
    for (uint32_t r = 0; r < reps; r++) {
        double t0 = now_ms(), gms = -1;
        if (encoder_select_anchors(enc, traj, anchors, &err) != 0 ||
            encoder_run(enc, traj, frames, anchors, Zg, &gms, &err) != 0) {
            fprintf(stderr, "encode: %s\n", err.message);
            return 1;
        }
        double t1 = now_ms();
        if (ridge_fit(Zg, Zg + d, frames - 1, d, 1e-3, 0, &vk, A, &rep, &err) != 0) {
            fprintf(stderr, "fit: %s\n", err.message);
            return 1;
        }
        best_enc = fmin(best_enc, t1 - t0);
        if (gms >= 0)
            best_gpu = fmin(best_gpu, gms);
        best_fit = fmin(best_fit, rep.solve_ms);
        best_diag = fmin(best_diag, rep.diag_ms);
        if (rep.gpu_ms >= 0)
            best_fit_gpu = fmin(best_fit_gpu, rep.gpu_ms);
    }
    /* The host fit of the same proxies: the baseline, and its A for comparison. */
    double *Ah = malloc((size_t)d * d * sizeof *Ah);
    double host_fit = INFINITY, host_diag = INFINITY;
    struct ridge_report hrep = {0};
    if (!Ah)
        return 1;
    for (uint32_t r = 0; r < (reps < 2 ? reps : 2); r++) {
        if (ridge_fit(Zg, Zg + d, frames - 1, d, 1e-3, 0, NULL, Ah, &hrep, &err) != 0) {
            fprintf(stderr, "host fit: %s\n", err.message);
            return 1;
        }
        host_fit = fmin(host_fit, hrep.solve_ms);
        host_diag = fmin(host_diag, hrep.diag_ms);
    }
    double adiff = 0;
    for (size_t i = 0; i < (size_t)d * d; i++)
        adiff = fmax(adiff, fabs(A[i] - Ah[i]));
    free(Ah);
    if (frames - 1 < d) {
        uint32_t ts[] = {2, 17};
        for (size_t q = 0; q < sizeof ts / sizeof ts[0]; q++)
            if (ts[q] < frames - 1)
                check_pieces(&vk, Zg, Zg + d, ts[q], d, 1e-3);
        check_pieces(&vk, Zg, Zg + d, frames - 1, d, 1e-3);
    }
    /* CPU baseline: the same anchors, every frame, then the same fit */
    double best_cpu = INFINITY;
    for (uint32_t r = 0; r < (reps < 2 ? reps : 2); r++) {
        double t0 = now_ms();
        for (uint32_t f = 0; f < frames; f++)
            cpu_encode_frame(&cfg, b, anchors, traj + f * nn, &cw, Zc + (size_t)f * d);
        best_cpu = fmin(best_cpu, now_ms() - t0);
    }
    double worst = 0, scale = 0;
    for (size_t i = 0; i < (size_t)frames * d; i++) {
        worst = fmax(worst, fabs(Zg[i] - Zc[i]));
        scale = fmax(scale, fabs(Zc[i]));
    }
    printf("device: %s (%s)\n", vk.device_name, vk.driver_name);
    printf("encode + fit, N=%u, %u frames (%u pairs), D=%u, mode reference; best of %u\n", n, frames, frames - 1, d,
           reps);
    printf("GPU vs CPU proxies: max |diff| / max |z| = %.2g; GPU vs host fit: max |A diff| = %.3g%s\n\n",
           worst / scale, adiff, rep.on_gpu ? "" : " (the GPU fit fell back to the host)");
    printf("| stage | GPU path ms | CPU baseline ms | CPU/GPU |\n|---|---:|---:|---:|\n");
    printf("| encode (wall: upload, kernels, download) | %.3f | %.3f | %.1f |\n", best_enc, best_cpu,
           best_cpu / best_enc);
    if (isfinite(best_gpu))
        printf("| encode (GPU timestamps) | %.3f | | |\n", best_gpu);
    printf("| fit: A (GPU products + solves, host Cholesky / host LAPACK) | %.3f | %.3f | %.1f |\n", best_fit,
           host_fit, host_fit / best_fit);
    if (isfinite(best_fit_gpu))
        printf("| fit: A (GPU timestamps) | %.3f | | |\n", best_fit_gpu);
    printf("| **encode + fit** | **%.3f** | %.3f | %.1f |\n", best_enc + best_fit, best_cpu + host_fit,
           (best_cpu + host_fit) / (best_enc + best_fit));
    printf("| diagnostics after A (eigenvalues; singular values on a 2nd thread since the start) | %.3f | %.3f | "
           "%.1f |\n", best_diag, host_diag, host_diag / best_diag);
    printf("| encode + fit + diagnostics (the train job's fit stage) | %.3f | %.3f | %.1f |\n",
           best_enc + best_fit + best_diag, best_cpu + host_fit + host_diag,
           (best_cpu + host_fit + host_diag) / (best_enc + best_fit + best_diag));
    printf("\nfit: residual %.3g, cond %.3g, spectral radius %.9f, numerical rank %u\n", rep.fit_residual, rep.cond,
           rep.spectral_radius, rep.numerical_rank);
    fftw_destroy_plan(cw.plan);
    free(cw.tmp), free(cw.r), free(cw.s), free(cw.s2), free(cw.w), free(cw.rh);
    free(Zg), free(Zc), free(A), free(anchors), free(traj);
    encoder_destroy(enc);
    fft_cache_destroy(fft);
    vk_runtime_close(&vk);
    return 0;
}
