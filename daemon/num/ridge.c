/* SPDX-License-Identifier: MIT */
/* Ridge regression with LAPACK (ridge.h). Fortran routines are column-major: a row-major
 * T×D buffer is read by them as its transpose (D×T, leading dimension D), which the
 * comments below call P = Xᵀ and Q = Yᵀ. */
#include "ridge.h"

#include <float.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "monotonic.h"
#include "operator_class.h"
#include "ridge_gpu.h"

/* No LAPACKE/CBLAS headers are installed: the Fortran symbols, with gfortran's hidden
 * string-length arguments. */
void dgemm_(const char *ta, const char *tb, const int *m, const int *n, const int *k, const double *alpha,
            const double *a, const int *lda, const double *b, const int *ldb, const double *beta, double *c,
            const int *ldc, size_t lta, size_t ltb);
void dposv_(const char *uplo, const int *n, const int *nrhs, double *a, const int *lda, double *b, const int *ldb,
            int *info, size_t luplo);
void dpotrf_(const char *uplo, const int *n, double *a, const int *lda, int *info, size_t luplo);
void dgesdd_(const char *jobz, const int *m, const int *n, double *a, const int *lda, double *s, double *u,
             const int *ldu, double *vt, const int *ldvt, double *work, const int *lwork, int *iwork, int *info,
             size_t ljobz);
void dgeev_(const char *jobvl, const char *jobvr, const int *n, double *a, const int *lda, double *wr, double *wi,
            double *vl, const int *ldvl, double *vr, const int *ldvr, double *work, const int *lwork, int *info,
            size_t ljobvl, size_t ljobvr);

/* C = op(A)·op(B), column-major. */
static void gemm(char ta, char tb, int m, int n, int k, const double *a, int lda, const double *b, int ldb,
                 double *c, int ldc)
{
    const double one = 1, zero = 0;
    dgemm_(&ta, &tb, &m, &n, &k, &one, a, &lda, b, &ldb, &zero, c, &ldc, 1, 1);
}

/* Column-major rows×cols `src` (leading dimension rows) -> its row-major copy. */
static void to_row_major(const double *src, int rows, int cols, double *dst)
{
    for (int i = 0; i < rows; i++)
        for (int j = 0; j < cols; j++)
            dst[(size_t)i * cols + j] = src[(size_t)j * rows + i];
}

/* Singular values of X (T×D), descending, into s (min(T, D) values). */
static int singular_values(const double *X, int T, int D, double *s, struct dashi_error *err)
{
    int k = T < D ? T : D, info = 0, lwork = -1, one = 1;
    double *a = malloc((size_t)T * D * sizeof *a), q;
    int *iwork = malloc(8 * (size_t)k * sizeof *iwork);
    if (!a || !iwork) {
        free(a);
        free(iwork);
        return dashi_fail(err, DASHI_E_INTERNAL, "", "out of memory");
    }
    memcpy(a, X, (size_t)T * D * sizeof *a); /* column-major D×T (= Xᵀ): same singular values */
    dgesdd_("N", &D, &T, a, &D, s, NULL, &one, NULL, &one, &q, &lwork, iwork, &info, 1);
    lwork = (int)q;
    double *work = info == 0 ? malloc((size_t)lwork * sizeof *work) : NULL;
    if (work)
        dgesdd_("N", &D, &T, a, &D, s, NULL, &one, NULL, &one, work, &lwork, iwork, &info, 1);
    free(work);
    free(a);
    free(iwork);
    if (!work || info != 0)
        return dashi_fail(err, DASHI_E_INTERNAL, "", "dgesdd failed (info %d)", info);
    return 0;
}

/* singular_values on a thread of its own, next to the fit. */
struct sv_job {
    const double *X;
    int T, D;
    double *s;
    int rc;
    struct dashi_error err;
};

static void *sv_thread(void *arg)
{
    struct sv_job *j = arg;
    j->rc = singular_values(j->X, j->T, j->D, j->s, &j->err);
    return NULL;
}

/* max |eigenvalue| of the n×n column-major matrix S (destroyed). */
static int spectral_radius(double *S, int n, double *rho, struct dashi_error *err)
{
    int info = 0, lwork = -1, one = 1;
    double q;
    double *wr = malloc(2 * (size_t)n * sizeof *wr);
    if (!wr)
        return dashi_fail(err, DASHI_E_INTERNAL, "", "out of memory");
    double *wi = wr + n;
    dgeev_("N", "N", &n, S, &n, wr, wi, NULL, &one, NULL, &one, &q, &lwork, &info, 1, 1);
    lwork = (int)q;
    double *work = info == 0 ? malloc((size_t)lwork * sizeof *work) : NULL;
    if (work)
        dgeev_("N", "N", &n, S, &n, wr, wi, NULL, &one, NULL, &one, work, &lwork, &info, 1, 1);
    double r = 0;
    for (int i = 0; work && info == 0 && i < n; i++)
        r = fmax(r, hypot(wr[i], wi[i]));
    free(work);
    free(wr);
    if (!work || info != 0)
        return dashi_fail(err, DASHI_E_INTERNAL, "", "dgeev failed (info %d)", info);
    *rho = r;
    return 0;
}

/* Full-rank fit. Sets *S (malloc'd n×n, column-major) to a matrix with A's nonzero
 * spectrum and *sn to its size. */
static int fit_full(const double *X, const double *Y, int T, int D, double lambda, double *A, double **S, int *sn,
                    struct dashi_error *err)
{
    int info = 0;
    if (T < D) { /* dual: W = (XXᵀ + λI)⁻¹ Y, A = Xᵀ W */
        double *G = malloc((size_t)T * T * sizeof *G);
        double *W = malloc((size_t)T * D * sizeof *W);
        double *Acm = malloc((size_t)D * D * sizeof *Acm);
        double *WX = malloc((size_t)T * T * sizeof *WX);
        if (!G || !W || !Acm || !WX) {
            free(G), free(W), free(Acm), free(WX);
            return dashi_fail(err, DASHI_E_INTERNAL, "", "out of memory");
        }
        gemm('T', 'N', T, T, D, X, D, X, D, G, T); /* Pᵀ P = X Xᵀ */
        for (int i = 0; i < T; i++)
            G[(size_t)i * T + i] += lambda;
        for (int t = 0; t < T; t++) /* W starts as Y, column-major T×D */
            for (int d = 0; d < D; d++)
                W[(size_t)d * T + t] = Y[(size_t)t * D + d];
        dposv_("U", &T, &D, G, &T, W, &T, &info, 1);
        if (info == 0) {
            gemm('N', 'N', D, D, T, X, D, W, T, Acm, D); /* P W = Xᵀ W */
            to_row_major(Acm, D, D, A);
            gemm('N', 'N', T, T, D, W, T, X, D, WX, T); /* W P = W Xᵀ */
        }
        free(G), free(W), free(Acm);
        if (info != 0) {
            free(WX);
            return info > 0 ? dashi_fail(err, DASHI_E_BAD_VALUE, "ridge",
                                         "XXᵀ + ridge·I is not positive definite: raise ridge or set rank")
                            : dashi_fail(err, DASHI_E_INTERNAL, "", "dposv failed (info %d)", info);
        }
        *S = WX;
        *sn = T;
        return 0;
    }
    /* primal: (XᵀX + λI) A = XᵀY */
    double *G = malloc((size_t)D * D * sizeof *G);
    double *B = malloc((size_t)D * D * sizeof *B);
    if (!G || !B) {
        free(G), free(B);
        return dashi_fail(err, DASHI_E_INTERNAL, "", "out of memory");
    }
    gemm('N', 'T', D, D, T, X, D, X, D, G, D); /* P Pᵀ = XᵀX */
    for (int i = 0; i < D; i++)
        G[(size_t)i * D + i] += lambda;
    gemm('N', 'T', D, D, T, X, D, Y, D, B, D); /* P Qᵀ = XᵀY */
    dposv_("U", &D, &D, G, &D, B, &D, &info, 1);
    free(G);
    if (info != 0) {
        free(B);
        return info > 0 ? dashi_fail(err, DASHI_E_BAD_VALUE, "ridge",
                                     "XᵀX + ridge·I is not positive definite: raise ridge or set rank")
                        : dashi_fail(err, DASHI_E_INTERNAL, "", "dposv failed (info %d)", info);
    }
    to_row_major(B, D, D, A);
    memcpy(B, A, (size_t)D * D * sizeof *B); /* A's transpose, column-major: same spectrum */
    *S = B;
    *sn = D;
    return 0;
}

/* fit_full with the products and solves on the GPU (ridge_gpu.h) and the Cholesky
 * factorisation here: the same operations (ridge_gpu.h), and X·A into XA. */
static int fit_full_gpu(struct ridge_gpu *g, int T, int D, double lambda, double *A, double **S, int *sn,
                        double *XA, struct dashi_error *err)
{
    bool dual = T < D;
    int n = dual ? T : D, info = 0;
    double *G = malloc((size_t)n * n * sizeof *G), *Sm = malloc((size_t)n * n * sizeof *Sm);
    if (!G || !Sm) {
        free(G), free(Sm);
        return dashi_fail(err, DASHI_E_INTERNAL, "", "out of memory");
    }
    if (ridge_gpu_normal(g, G, err) != 0) {
        free(G), free(Sm);
        return -1;
    }
    for (int i = 0; i < n; i++)
        G[(size_t)i * n + i] += lambda;
    dpotrf_("U", &n, G, &n, &info, 1);
    if (info != 0) {
        free(G), free(Sm);
        return info > 0 ? dashi_fail(err, DASHI_E_BAD_VALUE, "ridge",
                                     dual ? "XXᵀ + ridge·I is not positive definite: raise ridge or set rank"
                                          : "XᵀX + ridge·I is not positive definite: raise ridge or set rank")
                        : dashi_fail(err, DASHI_E_INTERNAL, "", "dpotrf failed (info %d)", info);
    }
    int rc = ridge_gpu_solve(g, G, A, dual ? Sm : NULL, XA, err);
    free(G);
    if (rc != 0) {
        free(Sm);
        return -1;
    }
    if (!dual) /* A's transpose, column-major: same spectrum */
        memcpy(Sm, A, (size_t)D * D * sizeof *Sm);
    *S = Sm;
    *sn = n;
    return 0;
}

/* Rank-r fit through the SVD X = U S Vᵀ: A = V_r diag(s/(s²+λ)) U_rᵀ Y. */
static int fit_truncated(const double *X, const double *Y, int T, int D, double lambda, int r, double *A,
                         double **S, int *sn, struct dashi_error *err)
{
    int k = T < D ? T : D, info = 0, lwork = -1;
    double *Xc = malloc((size_t)T * D * sizeof *Xc), *s = malloc((size_t)k * sizeof *s);
    double *U = malloc((size_t)T * k * sizeof *U), *VT = malloc((size_t)k * D * sizeof *VT);
    double *Yc = malloc((size_t)T * D * sizeof *Yc), *C = malloc((size_t)r * D * sizeof *C);
    double *Acm = malloc((size_t)D * D * sizeof *Acm), *CV = malloc((size_t)r * r * sizeof *CV);
    int *iwork = malloc(8 * (size_t)k * sizeof *iwork);
    double q, *work = NULL;
    int rc = -1;
    if (!Xc || !s || !U || !VT || !Yc || !C || !Acm || !CV || !iwork) {
        dashi_fail(err, DASHI_E_INTERNAL, "", "out of memory");
        goto out;
    }
    for (int t = 0; t < T; t++)
        for (int d = 0; d < D; d++) {
            Xc[(size_t)d * T + t] = X[(size_t)t * D + d];
            Yc[(size_t)d * T + t] = Y[(size_t)t * D + d];
        }
    dgesdd_("S", &T, &D, Xc, &T, s, U, &T, VT, &k, &q, &lwork, iwork, &info, 1);
    if (info == 0) {
        lwork = (int)q;
        work = malloc((size_t)lwork * sizeof *work);
        if (work)
            dgesdd_("S", &T, &D, Xc, &T, s, U, &T, VT, &k, work, &lwork, iwork, &info, 1);
    }
    if (!work || info != 0) {
        dashi_fail(err, DASHI_E_INTERNAL, "", "dgesdd failed (info %d)", info);
        goto out;
    }
    gemm('T', 'N', r, D, T, U, T, Yc, T, C, r); /* U_rᵀ Y */
    for (int i = 0; i < r; i++) {
        double f = s[i] / (s[i] * s[i] + lambda);
        if (!(s[i] > 0) && lambda == 0)
            f = 0;
        for (int d = 0; d < D; d++)
            C[(size_t)d * r + i] *= f;
    }
    gemm('T', 'N', D, D, r, VT, k, C, r, Acm, D); /* V_r C */
    to_row_major(Acm, D, D, A);
    gemm('N', 'T', r, r, D, C, r, VT, k, CV, r); /* C V_r */
    *S = CV;
    CV = NULL;
    *sn = r;
    rc = 0;
out:
    free(Xc), free(s), free(U), free(VT), free(Yc), free(C), free(Acm), free(CV), free(iwork), free(work);
    return rc;
}

int ridge_fit(const double *X, const double *Y, uint32_t T, uint32_t D, double lambda, uint32_t rank,
              struct vk_runtime *vk, double *A, struct ridge_report *rep, struct dashi_error *err)
{
    memset(rep, 0, sizeof *rep);
    rep->gpu_ms = -1;
    uint32_t k = T < D ? T : D;
    if (T < 1 || D < 1 || T > 1000000 || D > 46340 || (uint64_t)T * D > INT32_MAX)
        return dashi_fail(err, DASHI_E_TOO_LARGE, "frames", "T = %u, D = %u is outside what the fit handles", T, D);
    if (!isfinite(lambda) || lambda < 0)
        return dashi_fail(err, DASHI_E_BAD_VALUE, "ridge", "ridge must be finite and >= 0");
    if (rank > k)
        return dashi_fail(err, DASHI_E_BAD_VALUE, "rank", "rank must be 0 (full) or at most min(T, D) = %u", k);
    double t0 = monotonic_ms();
    double *s = malloc((size_t)k * sizeof *s);
    double *XA = malloc((size_t)T * D * sizeof *XA);
    if (!s || !XA) {
        free(s), free(XA);
        return dashi_fail(err, DASHI_E_INTERNAL, "", "out of memory");
    }
    /* The singular values need only X: on a second thread while the fit runs. */
    struct sv_job sv = {X, (int)T, (int)D, s, 0, {0}};
    pthread_t sv_tid;
    bool threaded = pthread_create(&sv_tid, NULL, sv_thread, &sv) == 0;
    double *S = NULL;
    int sn = 0, rc = 0;
    bool done = false;
    if (rank == 0 && vk) {
        struct ridge_gpu *g = NULL;
        struct dashi_error gerr = {0};
        if (ridge_gpu_open(vk, X, Y, T, D, &g, &gerr) == 0) {
            rc = fit_full_gpu(g, (int)T, (int)D, lambda, A, &S, &sn, XA, err);
            rep->gpu_ms = ridge_gpu_ms(g);
            ridge_gpu_close(g);
            done = rep->on_gpu = true;
        } else if (gerr.code != DASHI_E_DEVICE_MEMORY && gerr.code != DASHI_E_TOO_LARGE) {
            *err = gerr; /* a Vulkan failure, not a size the host can still handle */
            rc = -1;
            done = true;
        }
    }
    if (!done)
        rc = rank ? fit_truncated(X, Y, (int)T, (int)D, lambda, (int)rank, A, &S, &sn, err)
                  : fit_full(X, Y, (int)T, (int)D, lambda, A, &S, &sn, err);
    double t1 = monotonic_ms();
    if (rc == 0)
        rc = spectral_radius(S, sn, &rep->spectral_radius, err);
    free(S);
    if (threaded)
        pthread_join(sv_tid, NULL);
    else
        sv_thread(&sv);
    if (rc == 0 && sv.rc != 0) {
        *err = sv.err;
        rc = -1;
    }
    if (rc != 0) {
        free(s), free(XA);
        return -1;
    }
    rep->solve_ms = t1 - t0;
    rep->rank_used = rank ? rank : k;
    rep->unstable = rep->spectral_radius > 1.0;
    rep->sigma_max = s[0];
    double tol = s[0] * (double)(T > D ? T : D) * DBL_EPSILON;
    for (uint32_t i = 0; i < k; i++)
        if (s[i] > tol)
            rep->numerical_rank = i + 1;
    rep->sigma_min = rep->numerical_rank ? s[rep->numerical_rank - 1] : 0;
    double smin = T >= D ? s[k - 1] : 0;
    rep->cond = (s[0] * s[0] + lambda) / (smin * smin + lambda);
    free(s);
    /* (XA)ᵀ = Aᵀ Xᵀ: A's row-major buffer is Aᵀ column-major (the GPU fit computed it). */
    if (!rep->on_gpu)
        gemm('N', 'N', (int)D, (int)T, (int)D, A, (int)D, X, (int)D, XA, (int)D);
    rep->fit_residual = relative_difference(XA, Y, (size_t)T * D);
    free(XA);
    rep->diag_ms = monotonic_ms() - t1;
    return 0;
}
