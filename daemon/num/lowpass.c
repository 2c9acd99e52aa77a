/* SPDX-License-Identifier: MIT */
/* Direct-DFT low-pass (lowpass.h): c(my, mx) = n⁻² Σ f(i, j) e^{−2πi(my·i + mx·j)/n} on the
 * disc, summed back, one axis at a time: forward along x for the 2K+1 mx, forward along y
 * for the disc's (my, mx), back along y, back along x (real part: the disc is symmetric
 * under m → −m, so the imaginary parts cancel to rounding). */
#include "lowpass.h"

#include <math.h>
#include <stdlib.h>

int lowpass_disc(const double *f, uint32_t n, int kcut, double *out, struct dashi_error *err)
{
    if (n < 1 || kcut < 0)
        return dashi_fail(err, DASHI_E_BAD_VALUE, "", "lowpass: n %u, kcut %d out of range", n, kcut);
    int K = kcut < (int)n / 2 ? kcut : (int)n / 2 - 1;
    if (K < 0)
        K = 0;
    size_t M = (size_t)(2 * K + 1);
    double *ct = malloc(M * n * sizeof *ct), *st = malloc(M * n * sizeof *st);
    double *are = calloc(n * M, sizeof *are), *aim = calloc(n * M, sizeof *aim);
    double *cre = calloc(M * M, sizeof *cre), *cim = calloc(M * M, sizeof *cim);
    if (!ct || !st || !are || !aim || !cre || !cim) {
        free(ct), free(st), free(are), free(aim), free(cre), free(cim);
        return dashi_fail(err, DASHI_E_INTERNAL, "", "out of host memory for the low-pass");
    }
    for (size_t q = 0; q < M; q++) {
        long m = (long)q - K;
        for (uint32_t j = 0; j < n; j++) {
            long ph = ((m * (long)j) % (long)n + (long)n) % (long)n;
            ct[q * n + j] = cos(2 * M_PI * (double)ph / n);
            st[q * n + j] = sin(2 * M_PI * (double)ph / n);
        }
    }
    /* forward along x: A(i, mx) = Σ_j f(i, j) e^{−i mx j} */
    for (uint32_t i = 0; i < n; i++)
        for (size_t q = 0; q < M; q++) {
            double re = 0, im = 0;
            for (uint32_t j = 0; j < n; j++) {
                re += f[(size_t)i * n + j] * ct[q * n + j];
                im -= f[(size_t)i * n + j] * st[q * n + j];
            }
            are[(size_t)i * M + q] = re;
            aim[(size_t)i * M + q] = im;
        }
    /* forward along y, masked to the disc: C(my, mx) = n⁻² Σ_i A(i, mx) e^{−i my i} */
    double norm = 1.0 / ((double)n * n);
    for (size_t qy = 0; qy < M; qy++)
        for (size_t qx = 0; qx < M; qx++) {
            long my = (long)qy - K, mx = (long)qx - K;
            if (my * my + mx * mx > (long)K * K)
                continue;
            double re = 0, im = 0;
            for (uint32_t i = 0; i < n; i++) {
                double c = ct[qy * n + i], s = -st[qy * n + i];
                re += are[(size_t)i * M + qx] * c - aim[(size_t)i * M + qx] * s;
                im += are[(size_t)i * M + qx] * s + aim[(size_t)i * M + qx] * c;
            }
            cre[qy * M + qx] = re * norm;
            cim[qy * M + qx] = im * norm;
        }
    /* back along y: B(i, mx) = Σ_my C(my, mx) e^{+i my i} (reusing A's storage) */
    for (uint32_t i = 0; i < n; i++)
        for (size_t qx = 0; qx < M; qx++) {
            double re = 0, im = 0;
            for (size_t qy = 0; qy < M; qy++) {
                double c = ct[qy * n + i], s = st[qy * n + i];
                re += cre[qy * M + qx] * c - cim[qy * M + qx] * s;
                im += cre[qy * M + qx] * s + cim[qy * M + qx] * c;
            }
            are[(size_t)i * M + qx] = re;
            aim[(size_t)i * M + qx] = im;
        }
    /* back along x, real part: out(i, j) = Re Σ_mx B(i, mx) e^{+i mx j} */
    for (uint32_t i = 0; i < n; i++)
        for (uint32_t j = 0; j < n; j++) {
            double re = 0;
            for (size_t q = 0; q < M; q++)
                re += are[(size_t)i * M + q] * ct[q * n + j] - aim[(size_t)i * M + q] * st[q * n + j];
            out[(size_t)i * n + j] = re;
        }
    free(ct), free(st), free(are), free(aim), free(cre), free(cim);
    return 0;
}
