/* SPDX-License-Identifier: MIT */
/* The decode engine on lavapipe against the numpy reference (tests/data from refdata):
 * reference mode reproduces decode_omega_lp (1e-10), decode_sign (exactly),
 * decode_omega_hat (1e-9) and the summary.json metrics at t = 0 and t = 300 (1e-9);
 * dashi mode beats the reference's rel_l2 there and is deterministic. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decode.h"
#include "fft_vkfft.h"
#include "fixtures.h"
#include "npy.h"
#include "test_data.h"
#include "vk.h"

#define N 64
#define NN (N * N)
#define LOWK 197
#define TOPK 128
#define DIM (2 * LOWK + 4 + 2 * TOPK)

struct fixture {
    struct vk_runtime vk;
    struct fft_cache *fft;
    uint8_t *mask;
    int64_t *anchors;
    double z[2 * DIM];       /* z_0, ẑ_300 */
    double truth[2 * NN];  /* ω_0, ω_300 */
    char *summary;
};

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    char *buf = calloc(1, 65536);
    if (buf)
        (void)!fread(buf, 1, 65535, f);
    fclose(f);
    return buf;
}

/* A number of summary.json by key (the file is flat: "key": value). */
static double summary_value(const struct fixture *fx, const char *key)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *p = strstr(fx->summary, pat);
    assert_non_null(p);
    return strtod(p + strlen(pat), NULL);
}

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof *fx);
    if (!fx || lavapipe_fft_open(&fx->vk, &fx->fft) != 0) {
        free(fx);
        return -1;
    }
    fx->mask = test_data_load("mask_low.npy", NPY_U1, NN);
    fx->anchors = test_data_load("anchor_idx.npy", NPY_I8, TOPK);
    double *z0 = test_data_load("z_t0000.npy", NPY_F8, DIM), *zT = test_data_load("zhat_T.npy", NPY_F8, DIM);
    double *w0 = test_data_load("omega_t0000.npy", NPY_F8, NN), *wT = test_data_load("omega_t0300.npy", NPY_F8, NN);
    fx->summary = read_text("tests/data/summary.json");
    if (!fx->mask || !fx->anchors || !z0 || !zT || !w0 || !wT || !fx->summary)
        return -1;
    memcpy(fx->z, z0, sizeof(double) * DIM);
    memcpy(fx->z + DIM, zT, sizeof(double) * DIM);
    memcpy(fx->truth, w0, sizeof(double) * NN);
    memcpy(fx->truth + NN, wT, sizeof(double) * NN);
    free(z0), free(zT), free(w0), free(wT);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    lavapipe_fft_close(&fx->vk, fx->fft);
    free(fx->mask);
    free(fx->anchors);
    free(fx->summary);
    free(fx);
    return 0;
}

static struct decode_config config(const struct fixture *fx, bool dashi, uint32_t batch)
{
    struct decode_config c = {.n = N, .dashi = dashi, .M = LOWK, .topk = TOPK, .mask_low = fx->mask,
                              .anchors = fx->anchors, .k_cut = 8, .mid_cut = 12, .tau = 0.35, .box = 11,
                              .eta = 3, .max_levels = 32, .residual_seed = 12345, .max_batch = batch,
                              .truth = true, .snapshots = true};
    return c;
}

static double max_abs_diff(const double *a, const double *b, size_t n, double *scale)
{
    double m = 0, s = 0;
    for (size_t i = 0; i < n; i++) {
        m = fmax(m, fabs(a[i] - b[i]));
        s = fmax(s, fabs(b[i]));
    }
    *scale = s;
    return m;
}

static void assert_rel(double got, double want, double tol, const char *what)
{
    double rel = fabs(got - want) / fabs(want);
    if (!(rel <= tol))
        fail_msg("%s: got %.17g want %.17g (rel %.3g)", what, got, want, rel);
}

/* Decodes frame f (0: t=0, 1: t=300) alone; checks ω_lp, the sign carrier and ω̂. */
static void check_reference_frame(struct fixture *fx, int f, struct decode_result *r)
{
    struct dashi_error err = {0};
    struct decode_config cfg = config(fx, false, 1);
    struct decode_gpu *dec = NULL;
    assert_int_equal(decode_gpu_create(&fx->vk, fx->fft, &cfg, &dec, &err), 0);
    uint64_t t = f ? 300 : 0;
    double *what = malloc(NN * sizeof *what), *wlp = malloc(NN * sizeof *wlp);
    int8_t sign[NN];
    assert_non_null(what && wlp);
    int rc = decode_gpu_run(dec, 1, &t, fx->z + (size_t)f * DIM, fx->truth + (size_t)f * NN, DECODE_OBSERVE_SNAPSHOTS,
                            r, what, NULL, &err);
    if (rc)
        fail_msg("decode: %s", err.message);
    assert_int_equal(decode_gpu_read_lowpass(dec, wlp, &err), 0);
    assert_int_equal(decode_gpu_read_carrier(dec, sign, &err), 0);
    const char *tag = f ? "0300" : "0000";
    char name[64];
    double scale;
    snprintf(name, sizeof name, "decode_omega_lp_t%s.npy", tag);
    double *ref = test_data_load(name, NPY_F8, NN);
    assert_non_null(ref);
    assert_true(max_abs_diff(wlp, ref, NN, &scale) <= 1e-10 * scale);
    free(ref);
    snprintf(name, sizeof name, "decode_sign_t%s.npy", tag);
    int8_t *sref = test_data_load(name, NPY_I1, NN);
    assert_non_null(sref);
    assert_memory_equal(sign, sref, NN);
    free(sref);
    snprintf(name, sizeof name, "decode_omega_hat_t%s.npy", tag);
    ref = test_data_load(name, NPY_F8, NN);
    assert_non_null(ref);
    double diff = max_abs_diff(what, ref, NN, &scale);
    if (!(diff <= 1e-9 * scale))
        fail_msg("omega_hat t=%s: max diff %.3g (scale %.3g)", tag, diff, scale);
    free(ref);
    free(what);
    free(wlp);
    decode_gpu_destroy(dec);
}

static void test_reference_parity(void **state)
{
    struct fixture *fx = *state;
    struct decode_result r0, rT;
    check_reference_frame(fx, 0, &r0);
    check_reference_frame(fx, 1, &rT);
    assert_rel(r0.rel_l2, summary_value(fx, "relL2_0"), 1e-9, "relL2_0");
    assert_rel(rT.rel_l2, summary_value(fx, "relL2_T"), 1e-9, "relL2_T");
    assert_rel(r0.corr, summary_value(fx, "corr_0"), 1e-9, "corr_0");
    assert_rel(rT.corr, summary_value(fx, "corr_T"), 1e-9, "corr_T");
    assert_rel(rT.energy - rT.energy_truth, summary_value(fx, "dE_T"), 1e-9, "dE_T");
    assert_rel(rT.enstrophy - rT.enstrophy_truth, summary_value(fx, "dZ_T"), 1e-9, "dZ_T");
    assert_rel(rT.energy_truth, summary_value(fx, "E_true_T"), 1e-12, "E_true_T");
    /* The per-step series at t = 0 and 300. */
    const char *series[] = {"energy_decoded.npy", "enstrophy_decoded.npy"};
    double got[2][2] = {{r0.energy, rT.energy}, {r0.enstrophy, rT.enstrophy}};
    for (int s = 0; s < 2; s++) {
        double *ref = test_data_load(series[s], NPY_F8, 301);
        assert_non_null(ref);
        assert_rel(got[s][0], ref[0], 1e-9, series[s]);
        assert_rel(got[s][1], ref[300], 1e-9, series[s]);
        free(ref);
    }
    /* Saturate grows support: the reference mask is nearly everything (docs/numerics.md "Decode"). */
    assert_true(rT.level[rT.nlevels - 1].active > NN / 2);
}

/* Both frames in one batch give what they gave alone. */
static void test_batch_equals_single(void **state)
{
    struct fixture *fx = *state;
    struct dashi_error err = {0};
    struct decode_config cfg = config(fx, false, 2);
    struct decode_gpu *dec = NULL;
    assert_int_equal(decode_gpu_create(&fx->vk, fx->fft, &cfg, &dec, &err), 0);
    uint64_t t[2] = {0, 300};
    struct decode_result r[2];
    double *what = malloc(2 * NN * sizeof *what);
    assert_non_null(what);
    assert_int_equal(decode_gpu_run(dec, 2, t, fx->z, fx->truth, DECODE_OBSERVE_SNAPSHOTS, r, what, NULL, &err), 0);
    double *ref = test_data_load("decode_omega_hat_t0300.npy", NPY_F8, NN), scale;
    assert_non_null(ref);
    assert_true(max_abs_diff(what + NN, ref, NN, &scale) <= 1e-9 * scale);
    assert_rel(r[0].rel_l2, summary_value(fx, "relL2_0"), 1e-9, "relL2_0 (batch)");
    assert_rel(r[1].rel_l2, summary_value(fx, "relL2_T"), 1e-9, "relL2_T (batch)");
    /* Observer none: nothing read back, no error. */
    assert_int_equal(decode_gpu_run(dec, 2, t, fx->z, fx->truth, DECODE_OBSERVE_NONE, NULL, NULL, NULL, &err), 0);
    free(ref);
    free(what);
    decode_gpu_destroy(dec);
}

/* Dashi mode: frames decoded together in one group (each with its own step t, which
 * keys its residual phases), in a run shorter than the engine's batch, give bit for
 * bit what each gives alone. */
static void test_dashi_group_equals_single(void **state)
{
    struct fixture *fx = *state;
    struct dashi_error err = {0};
    struct decode_config cfg3 = config(fx, true, 3), cfg1 = config(fx, true, 1);
    struct decode_gpu *dec3 = NULL, *dec1 = NULL;
    assert_int_equal(decode_gpu_create(&fx->vk, fx->fft, &cfg3, &dec3, &err), 0);
    assert_int_equal(decode_gpu_create(&fx->vk, fx->fft, &cfg1, &dec1, &err), 0);
    uint64_t t[2] = {0, 300};
    struct decode_result r[2], one;
    double *both = malloc(2 * NN * sizeof *both), *alone = malloc(NN * sizeof *alone);
    assert_non_null(both && alone);
    assert_int_equal(decode_gpu_run(dec3, 2, t, fx->z, fx->truth, DECODE_OBSERVE_SNAPSHOTS, r, both, NULL, &err), 0);
    for (int f = 0; f < 2; f++) {
        assert_int_equal(decode_gpu_run(dec1, 1, &t[f], fx->z + (size_t)f * DIM, fx->truth + (size_t)f * NN,
                                        DECODE_OBSERVE_SNAPSHOTS, &one, alone, NULL, &err), 0);
        assert_memory_equal(alone, both + (size_t)f * NN, NN * sizeof *alone);
        assert_true(one.rel_l2 == r[f].rel_l2 && one.energy == r[f].energy && one.corr == r[f].corr);
        assert_int_equal(one.closure_depth, r[f].closure_depth);
        assert_int_equal(one.nlevels, r[f].nlevels);
        for (uint32_t k = 0; k < one.nlevels; k++) {
            assert_int_equal(one.level[k].active, r[f].level[k].active);
            assert_int_equal(one.level[k].killed, r[f].level[k].killed);
            assert_true(one.level[k].abs_sum == r[f].level[k].abs_sum);
        }
    }
    free(both);
    free(alone);
    decode_gpu_destroy(dec3);
    decode_gpu_destroy(dec1);
}

static void test_dashi_beats_reference(void **state)
{
    struct fixture *fx = *state;
    struct dashi_error err = {0};
    struct decode_config cfg = config(fx, true, 2);
    struct decode_gpu *dec = NULL;
    assert_int_equal(decode_gpu_create(&fx->vk, fx->fft, &cfg, &dec, &err), 0);
    uint64_t t[2] = {0, 300};
    struct decode_result r[2], again[2];
    double *a = malloc(2 * NN * sizeof *a), *b = malloc(2 * NN * sizeof *b);
    assert_non_null(a && b);
    assert_int_equal(decode_gpu_run(dec, 2, t, fx->z, fx->truth, DECODE_OBSERVE_SNAPSHOTS, r, a, NULL, &err), 0);
    assert_true(r[0].rel_l2 < summary_value(fx, "relL2_0"));
    assert_true(r[1].rel_l2 < summary_value(fx, "relL2_T"));
    assert_true(r[0].corr > summary_value(fx, "corr_0"));
    fprintf(stderr, "dashi: rel_l2 %.4f / %.4f (reference %.4f / %.4f), depth %d / %d\n", r[0].rel_l2, r[1].rel_l2,
            summary_value(fx, "relL2_0"), summary_value(fx, "relL2_T"), r[0].closure_depth, r[1].closure_depth);
    for (int f = 0; f < 2; f++) {
        assert_true(r[f].closure_depth >= 1 && r[f].closure_depth <= 32);
        for (uint32_t k = 1; k < r[f].nlevels; k++) /* the closure only removes support */
            assert_true(r[f].level[k].active + r[f].level[k].killed == r[f].level[k - 1].active);
    }
    /* Deterministic: the same run again gives the same fields bit for bit. */
    assert_int_equal(decode_gpu_run(dec, 2, t, fx->z, fx->truth, DECODE_OBSERVE_SNAPSHOTS, again, b, NULL, &err), 0);
    assert_memory_equal(a, b, 2 * NN * sizeof *a);
    /* The decoded field is real with the anchors in: no Hermitian loss, so ω̂'s spectrum
     * carries the anchors' energy; and a different seed changes only the residual. */
    free(a);
    free(b);
    decode_gpu_destroy(dec);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reference_parity),
        cmocka_unit_test(test_batch_equals_single),
        cmocka_unit_test(test_dashi_group_equals_single),
        cmocka_unit_test(test_dashi_beats_reference),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
