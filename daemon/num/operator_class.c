/* SPDX-License-Identifier: MIT */
/* Operator classes and stabilisation (operator_class.h). Fortran routines are column-major:
 * a row-major D×D buffer is read by them as its transpose, so A's buffer is Aᵀ to LAPACK
 * (the same eigenvalues as A). */
#include "operator_class.h"

#include <complex.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* No LAPACKE/CBLAS headers are installed: the Fortran symbols, with gfortran's hidden
 * string-length arguments. */
void dgemm_(const char *ta, const char *tb, const int *m, const int *n, const int *k, const double *alpha,
            const double *a, const int *lda, const double *b, const int *ldb, const double *beta, double *c,
            const int *ldc, size_t lta, size_t ltb);
void dposv_(const char *uplo, const int *n, const int *nrhs, double *a, const int *lda, double *b, const int *ldb,
            int *info, size_t luplo);
void dgeev_(const char *jobvl, const char *jobvr, const int *n, double *a, const int *lda, double *wr, double *wi,
            double *vl, const int *ldvl, double *vr, const int *ldvr, double *work, const int *lwork, int *info,
            size_t ljobvl, size_t ljobvr);
void zgesv_(const int *n, const int *nrhs, double complex *a, const int *lda, int *ipiv, double complex *b,
            const int *ldb, int *info);

double relative_difference(const double *a, const double *b, size_t n)
{
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        num += (a[i] - b[i]) * (a[i] - b[i]);
        den += b[i] * b[i];
    }
    return sqrt(num) / (sqrt(den) + 1e-300);
}

static int out_of_memory(struct dashi_error *err) { return dashi_fail(err, DASHI_E_INTERNAL, "", "out of memory"); }

/* C = op(A)·op(B), column-major. */
static void gemm(char ta, char tb, int m, int n, int k, const double *a, int lda, const double *b, int ldb,
                 double *c, int ldc)
{
    const double one = 1, zero = 0;
    dgemm_(&ta, &tb, &m, &n, &k, &one, a, &lda, b, &ldb, &zero, c, &ldc, 1, 1);
}

int operator_fit_banded(const double *X, const double *Y, uint32_t T, uint32_t D, double lambda, uint32_t K,
                        double *A, struct dashi_error *err)
{
    int d = (int)D, t = (int)T, w = (int)(2 * (uint64_t)K + 1 < D ? 2 * K + 1 : D);
    double *G = malloc((size_t)D * D * sizeof *G), *C = malloc((size_t)D * D * sizeof *C);
    double *Gs = malloc((size_t)w * w * sizeof *Gs), *a = malloc((size_t)w * sizeof *a);
    int rc = 0;
    if (!G || !C || !Gs || !a) {
        rc = out_of_memory(err);
        goto out;
    }
    /* Xᵀ is X's buffer (D×T column-major): G = XᵀX, C = XᵀY, both D×D column-major. */
    gemm('N', 'T', d, d, t, X, d, X, d, G, d);
    gemm('N', 'T', d, d, t, X, d, Y, d, C, d);
    memset(A, 0, (size_t)D * D * sizeof *A);
    for (int j = 0; j < d && rc == 0; j++) {
        int lo = j - (int)K < 0 ? 0 : j - (int)K, hi = j + (int)K >= d ? d - 1 : j + (int)K, n = hi - lo + 1;
        for (int c = 0; c < n; c++) {
            for (int r = 0; r < n; r++)
                Gs[(size_t)c * n + r] = G[(size_t)(lo + c) * d + lo + r];
            Gs[(size_t)c * n + c] += lambda;
            a[c] = C[(size_t)j * d + lo + c];
        }
        int one = 1, info = 0;
        dposv_("L", &n, &one, Gs, &n, a, &n, &info, 1);
        if (info != 0) {
            rc = info > 0 ? dashi_fail(err, DASHI_E_BAD_VALUE, "ridge",
                                       "the band of column %d: XᵀX + ridge·I is not positive definite: raise ridge", j)
                          : dashi_fail(err, DASHI_E_INTERNAL, "", "dposv failed (info %d)", info);
            break;
        }
        for (int c = 0; c < n; c++)
            A[(size_t)(lo + c) * D + j] = a[c];
    }
out:
    free(G), free(C), free(Gs), free(a);
    return rc;
}

int operator_fit_residual(const double *X, const double *Y, uint32_t T, uint32_t D, const double *A, double *res,
                          struct dashi_error *err)
{
    double *XA = malloc((size_t)T * D * sizeof *XA);
    if (!XA)
        return out_of_memory(err);
    /* (XA)ᵀ = Aᵀ Xᵀ column-major is XA row-major. */
    gemm('N', 'N', (int)D, (int)T, (int)D, A, (int)D, X, (int)D, XA, (int)D);
    *res = relative_difference(XA, Y, (size_t)T * D);
    free(XA);
    return 0;
}

/* Eigenvalues (wr, wi) and, when vr is not NULL, right eigenvectors of the column-major
 * n×n matrix M (copied: M is kept). */
static int eigen(const double *M, int n, double *wr, double *wi, double *vr, struct dashi_error *err)
{
    double *S = malloc((size_t)n * n * sizeof *S), q;
    if (!S)
        return out_of_memory(err);
    memcpy(S, M, (size_t)n * n * sizeof *S);
    int info = 0, lwork = -1, one = 1;
    const char *jobvr = vr ? "V" : "N";
    dgeev_("N", jobvr, &n, S, &n, wr, wi, NULL, &one, vr, vr ? &n : &one, &q, &lwork, &info, 1, 1);
    lwork = (int)q;
    double *work = info == 0 ? malloc((size_t)lwork * sizeof *work) : NULL;
    if (work)
        dgeev_("N", jobvr, &n, S, &n, wr, wi, NULL, &one, vr, vr ? &n : &one, work, &lwork, &info, 1, 1);
    int rc = 0;
    if (info != 0)
        rc = dashi_fail(err, DASHI_E_INTERNAL, "", "dgeev failed (info %d)", info);
    else if (!work)
        rc = out_of_memory(err);
    free(work);
    free(S);
    return rc;
}

static double radius_of(const double *wr, const double *wi, int n)
{
    double r = 0;
    for (int i = 0; i < n; i++)
        r = fmax(r, hypot(wr[i], wi[i]));
    return r;
}

int operator_spectral_radius(const double *A, uint32_t D, double *rho, struct dashi_error *err)
{
    double *w = malloc(2 * (size_t)D * sizeof *w);
    if (!w)
        return out_of_memory(err);
    int rc = eigen(A, (int)D, w, w + D, NULL, err);
    if (rc == 0)
        *rho = radius_of(w, w + D, (int)D);
    free(w);
    return rc;
}

/* The complex eigenvector matrix W (column-major) from dgeev's real form: a pair
 * wi[j] > 0, wi[j+1] < 0 holds Re and Im of w_j in columns j, j+1; w_{j+1} = conj(w_j). */
static void complex_vectors(const double *vr, const double *wi, int n, double complex *W)
{
    for (int j = 0; j < n; j++) {
        const double *re = vr + (size_t)j * n;
        if (wi[j] == 0) {
            for (int r = 0; r < n; r++)
                W[(size_t)j * n + r] = re[r];
            continue;
        }
        const double *im = re + n;
        for (int r = 0; r < n; r++) {
            W[(size_t)j * n + r] = re[r] + I * im[r];
            W[(size_t)(j + 1) * n + r] = re[r] - I * im[r];
        }
        j++;
    }
}

/* M += Re(W diag(delta) W⁻¹) over the eigenvalues that move (delta != 0); Winv = W⁻¹. */
static void add_correction(double *M, int n, const double complex *W, const double complex *Winv,
                           const double complex *delta)
{
    for (int j = 0; j < n; j++) {
        if (delta[j] == 0)
            continue;
        for (int c = 0; c < n; c++) {
            double complex f = delta[j] * Winv[(size_t)c * n + j];
            for (int r = 0; r < n; r++)
                M[(size_t)c * n + r] += creal(W[(size_t)j * n + r] * f);
        }
    }
}

/* W⁻¹ of the column-major n×n complex W (kept), by zgesv against the identity. */
static int invert(const double complex *W, int n, double complex *Winv, struct dashi_error *err)
{
    double complex *LU = malloc((size_t)n * n * sizeof *LU);
    int *ipiv = malloc((size_t)n * sizeof *ipiv);
    if (!LU || !ipiv) {
        free(LU), free(ipiv);
        return out_of_memory(err);
    }
    memcpy(LU, W, (size_t)n * n * sizeof *LU);
    memset(Winv, 0, (size_t)n * n * sizeof *Winv);
    for (int i = 0; i < n; i++)
        Winv[(size_t)i * n + i] = 1;
    int info = 0;
    zgesv_(&n, &n, LU, &n, ipiv, Winv, &n, &info);
    free(LU), free(ipiv);
    if (info != 0)
        return dashi_fail(err, DASHI_E_INTERNAL, "", "zgesv failed (info %d): the eigenvectors are singular", info);
    return 0;
}

int operator_stabilize(double *A, uint32_t D, struct operator_stabilize_report *rep, struct dashi_error *err)
{
    int n = (int)D;
    memset(rep, 0, sizeof *rep);
    double *w = malloc(2 * (size_t)n * sizeof *w), *vr = malloc((size_t)n * n * sizeof *vr);
    double *A0 = malloc((size_t)n * n * sizeof *A0);
    double complex *W = malloc((size_t)n * n * sizeof *W), *Winv = malloc((size_t)n * n * sizeof *Winv);
    double complex *delta = malloc((size_t)n * sizeof *delta);
    int rc = -1;
    if (!w || !vr || !A0 || !W || !Winv || !delta) {
        out_of_memory(err);
        goto out;
    }
    double *wr = w, *wi = w + n;
    if (eigen(A, n, wr, wi, vr, err) != 0)
        goto out;
    rep->radius_before = rep->radius_after = radius_of(wr, wi, n);
    for (int j = 0; j < n; j++) {
        double complex l = wr[j] + I * wi[j];
        double m = cabs(l);
        delta[j] = m > 1 ? l / m * OPERATOR_STABLE_RADIUS - l : 0;
        rep->moved += m > 1;
    }
    rc = 0;
    if (!rep->moved)
        goto out;
    complex_vectors(vr, wi, n, W);
    if ((rc = invert(W, n, Winv, err)) != 0)
        goto out;
    memcpy(A0, A, (size_t)n * n * sizeof *A0);
    add_correction(A, n, W, Winv, delta);
    rep->rel_change = relative_difference(A, A0, (size_t)n * n);
    rc = operator_spectral_radius(A, D, &rep->radius_after, err);
out:
    free(w), free(vr), free(A0), free(W), free(Winv), free(delta);
    return rc;
}
