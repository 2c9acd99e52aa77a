/* SPDX-License-Identifier: MIT */
/* The LES engine on lavapipe against the numpy reference vectors (docs/numerics.md "LES"). One
 * runtime and one FFT plan cache serve every test, as in the daemon. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fft_vkfft.h"
#include "fixtures.h"
#include "ic.h"
#include "les_gpu.h"
#include "npy.h"
#include "test_data.h"
#include "vk.h"

struct fixture {
    struct vk_runtime vk;
    struct fft_cache *fft;
};

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof *fx);
    if (!fx || lavapipe_fft_open(&fx->vk, &fx->fft) != 0) {
        free(fx);
        return -1;
    }
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    lavapipe_fft_close(&fx->vk, fx->fft);
    free(fx);
    return 0;
}

static double *load_ref(const char *name, size_t expect_count)
{
    double *data = test_data_load(name, NPY_F8, expect_count);
    assert_non_null(data);
    return data;
}

static double rel_l2(const double *a, const double *ref, size_t n)
{
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        num += (a[i] - ref[i]) * (a[i] - ref[i]);
        den += ref[i] * ref[i];
    }
    return sqrt(num / den);
}

static double max_rel(const double *a, const double *ref, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++)
        m = fmax(m, fabs(a[i] - ref[i]) / fabs(ref[i]));
    return m;
}

static struct les_config defaults(uint32_t n)
{
    struct les_config c = {.n = n, .dt = 0.01, .nu0 = 1e-4, .cs = 0.17, .max_steps = 300, .max_frames = 1};
    return c;
}

/* Runs the reference case: 300 steps at N=64 from seed 0, in f64 or f32. */
static void run_reference_case(struct fixture *fx, bool f32, double *omega1, double *omega300, double *energy,
                               double *enstrophy)
{
    struct dashi_error err = {0};
    size_t nn = 64 * 64;
    double *w0 = malloc(nn * sizeof *w0);
    assert_non_null(w0);
    assert_int_equal(les_initial_condition(0, 64, w0, &err), 0);
    struct les_config cfg = defaults(64);
    cfg.f32 = f32;
    struct les_gpu *les = NULL;
    int rc = les_gpu_create(&fx->vk, fx->fft, &cfg, w0, 0, &les, &err);
    if (rc != 0)
        fprintf(stderr, "les_gpu_create: %s (%s)\n", err.message, err.field);
    assert_int_equal(rc, 0);
    struct les_run run;
    assert_int_equal(les_gpu_run(les, 1, 1, omega1, energy, enstrophy, &run, &err), 0);
    assert_int_equal(run.frames, 1);
    assert_int_equal(run.nonfinite_step, -1);
    /* The rest in one run: the series' first entry repeats the last of the first run. */
    double e1 = energy[1], z1 = enstrophy[1];
    assert_int_equal(les_gpu_run(les, 299, 0, NULL, energy + 1, enstrophy + 1, &run, &err), 0);
    assert_true(energy[1] == e1 && enstrophy[1] == z1); /* deterministic across runs */
    assert_int_equal(les_gpu_step(les), 300);
    assert_int_equal(les_gpu_read_field(les, omega300, &err), 0);
    les_gpu_destroy(les);
    free(w0);
}

static void test_reference_parity_f64(void **state)
{
    struct fixture *fx = *state;
    size_t nn = 64 * 64;
    double *w1 = malloc(nn * sizeof *w1), *w300 = malloc(nn * sizeof *w300);
    double energy[301], enstrophy[301];
    run_reference_case(fx, false, w1, w300, energy, enstrophy);
    double *r1 = load_ref("omega_t0001.npy", nn), *r300 = load_ref("omega_t0300.npy", nn);
    double *re = load_ref("energy_true.npy", 301), *rz = load_ref("enstrophy_true.npy", 301);
    double d1 = rel_l2(w1, r1, nn), d300 = rel_l2(w300, r300, nn);
    double de = max_rel(energy, re, 301), dz = max_rel(enstrophy, rz, 301);
    fprintf(stderr, "f64 parity: step1 %.3e step300 %.3e energy %.3e enstrophy %.3e\n", d1, d300, de, dz);
    assert_true(d1 <= 1e-10);
    assert_true(d300 <= 1e-10);
    assert_true(de <= 1e-10);
    assert_true(dz <= 1e-10);
    free(w1);
    free(w300);
    free(r1);
    free(r300);
    free(re);
    free(rz);
}

static void test_f32_close_to_f64(void **state)
{
    struct fixture *fx = *state;
    size_t nn = 64 * 64;
    double *w1 = malloc(nn * sizeof *w1), *w300 = malloc(nn * sizeof *w300);
    double energy[301], enstrophy[301];
    run_reference_case(fx, true, w1, w300, energy, enstrophy);
    double *r300 = load_ref("omega_t0300.npy", nn), *re = load_ref("energy_true.npy", 301);
    double d300 = rel_l2(w300, r300, nn), de = max_rel(energy, re, 301);
    fprintf(stderr, "f32 vs f64 after 300 steps: field rel L2 %.3e, energy max rel %.3e\n", d300, de);
    assert_true(d300 <= 1e-4);
    assert_true(de <= 1e-4);
    free(w1);
    free(w300);
    free(r300);
    free(re);
}

static void test_validation_names_field(void **state)
{
    struct fixture *fx = *state;
    struct dashi_error err = {0};
    struct les_config c = defaults(63);
    assert_int_equal(les_config_validate(&c, &fx->vk, &err), -1);
    assert_int_equal(err.code, DASHI_E_BAD_VALUE);
    assert_string_equal(err.field, "N");
    c = defaults(4);
    assert_int_equal(les_config_validate(&c, &fx->vk, &err), -1);
    assert_string_equal(err.field, "N");
    c = defaults(64);
    c.dt = NAN;
    assert_int_equal(les_config_validate(&c, &fx->vk, &err), -1);
    assert_string_equal(err.field, "dt");
    c = defaults(64);
    c.nu0 = -1;
    assert_int_equal(les_config_validate(&c, &fx->vk, &err), -1);
    assert_string_equal(err.field, "nu0");
    c = defaults(64);
    c.cs = INFINITY;
    assert_int_equal(les_config_validate(&c, &fx->vk, &err), -1);
    assert_string_equal(err.field, "cs");
    c = defaults(32768); /* tens of GiB: more than lavapipe offers */
    assert_int_equal(les_config_validate(&c, &fx->vk, &err), -1);
    assert_int_equal(err.code, DASHI_E_DEVICE_MEMORY);
    assert_string_equal(err.field, "N");
    c = defaults(64);
    assert_int_equal(les_config_validate(&c, &fx->vk, &err), 0);
}

static void test_divergence_reports_step(void **state)
{
    struct fixture *fx = *state;
    struct dashi_error err = {0};
    double w0[16 * 16];
    assert_int_equal(les_initial_condition(3, 16, w0, &err), 0);
    for (int i = 0; i < 16 * 16; i++)
        w0[i] *= 1e3;
    struct les_config c = defaults(16);
    c.dt = 10.0;
    c.max_steps = 200;
    c.max_frames = 0;
    struct les_gpu *les = NULL;
    assert_int_equal(les_gpu_create(&fx->vk, fx->fft, &c, w0, 0, &les, &err), 0);
    struct les_run run;
    assert_int_equal(les_gpu_run(les, 200, 0, NULL, NULL, NULL, &run, &err), 0);
    assert_true(run.nonfinite_step >= 1 && run.nonfinite_step <= 200);
    les_gpu_destroy(les);
}

/* Same inputs, same bits; the dealiased variant is a different, still finite flow. */
static void test_deterministic_and_dealias(void **state)
{
    struct fixture *fx = *state;
    struct dashi_error err = {0};
    double w0[32 * 32], a[32 * 32], b[32 * 32], ea[21], eb[21], ed[21];
    assert_int_equal(les_initial_condition(11, 32, w0, &err), 0);
    struct les_config c = defaults(32);
    c.max_steps = 20;
    c.max_frames = 0;
    struct les_gpu *les = NULL;
    struct les_run run;
    for (int k = 0; k < 3; k++) {
        c.dealias = (k == 2);
        assert_int_equal(les_gpu_create(&fx->vk, fx->fft, &c, w0, 0, &les, &err), 0);
        assert_int_equal(les_gpu_run(les, 20, 0, NULL, k == 0 ? ea : k == 1 ? eb : ed, NULL, &run, &err), 0);
        assert_int_equal(les_gpu_read_field(les, k == 0 ? a : b, &err), 0);
        les_gpu_destroy(les);
    }
    assert_memory_equal(ea, eb, sizeof ea);
    assert_true(isfinite(ed[20]));
    assert_true(ed[20] != ea[20]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_validation_names_field),
        cmocka_unit_test(test_reference_parity_f64),
        cmocka_unit_test(test_f32_close_to_f64),
        cmocka_unit_test(test_divergence_reports_step),
        cmocka_unit_test(test_deterministic_and_dealias),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
