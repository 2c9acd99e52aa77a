/* SPDX-License-Identifier: MIT */
/* dashi-bench-les: LES step throughput at several N in f64 and f32 on one device, the
 * FFT share of a step, and the FFT traffic as a fraction of the device's copy bandwidth
 * (measured in the same run with vkCmdCopyBuffer of a large buffer).
 *
 *   dashi-bench-les [--device auto|lavapipe|...] [--sizes 256,512,...] [--quick]
 *
 * FFT traffic model: a 2-D R2C/C2R plane costs at least one read and one write of the
 * data per axis, about 4 N^2 values (N^2 real + 3 passes over N(N/2+1) complex); 14 planes
 * per step. It is a lower bound (VkFFT may split long axes into more passes). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fft_vkfft.h"
#include "ic.h"
#include "les_gpu.h"
#include "vk.h"

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

static void die(const char *what, const struct dashi_error *err)
{
    fprintf(stderr, "dashi-bench-les: %s: %s%s%s\n", what, err->message, err->field[0] ? " field " : "", err->field);
    exit(1);
}

/* GB/s of a device-local copy (read + write counted). */
static double copy_bandwidth(struct vk_runtime *vk, VkDeviceSize bytes)
{
    struct dashi_error err = {0};
    struct vk_buffer a = {.block = -1}, b = {.block = -1};
    struct vk_cmd c;
    while (bytes >= (1u << 20) && (vk_buffer_alloc(vk, bytes, VK_MEM_DEVICE, &a, &err) != 0 ||
                                   vk_buffer_alloc(vk, bytes, VK_MEM_DEVICE, &b, &err) != 0)) {
        vk_buffer_free(vk, &a);
        bytes /= 2;
    }
    if (vk_cmd_create(vk, &c, &err) != 0)
        die("vk_cmd_create", &err);
    double best = 0;
    for (int rep = 0; rep < 3; rep++) {
        if (vk_cmd_begin(vk, &c, &err) != 0)
            die("vk_cmd_begin", &err);
        int t0 = vk_cmd_timestamp(&c);
        for (int k = 0; k < 4; k++) {
            vk_cmd_copy(&c, &a, 0, &b, 0, bytes);
            vk_cmd_barrier(&c);
        }
        int t1 = vk_cmd_timestamp(&c);
        double h0 = now_ms();
        if (vk_cmd_submit_wait(vk, &c, &err) != 0)
            die("copy", &err);
        double ms = vk_cmd_elapsed_ms(vk, &c, t0, t1);
        if (ms <= 0)
            ms = now_ms() - h0;
        double gbs = 4.0 * 2.0 * (double)bytes / (ms * 1e-3) / 1e9;
        if (gbs > best)
            best = gbs;
    }
    vk_cmd_destroy(vk, &c);
    vk_buffer_free(vk, &a);
    vk_buffer_free(vk, &b);
    return best;
}

/* ms per step of the FFTs alone: the same 4 VkFFT calls a step records. */
static double fft_ms_per_step(struct vk_runtime *vk, struct fft_cache *fc, uint32_t n, bool f32, int reps)
{
    struct dashi_error err = {0};
    enum fft_precision prec = f32 ? FFT_F32 : FFT_F64;
    struct fft_plan *p1, *p7, *p5;
    if (fft_plan_get(fc, n, 1, prec, FFT_R2C, &p1, &err) || fft_plan_get(fc, n, 7, prec, FFT_R2C, &p7, &err) ||
        fft_plan_get(fc, n, 5, prec, FFT_R2C, &p5, &err))
        die("fft_plan_get", &err);
    struct vk_cmd c;
    if (vk_cmd_create(vk, &c, &err) != 0)
        die("vk_cmd_create", &err);
    double best = INFINITY;
    for (int rep = 0; rep < 2; rep++) {
        if (vk_cmd_begin(vk, &c, &err) != 0)
            die("vk_cmd_begin", &err);
        int t0 = vk_cmd_timestamp(&c);
        for (int s = 0; s < reps; s++) {
            struct fft_plan *seq[4] = {p1, p7, p1, p5};
            for (int k = 0; k < 4; k++) {
                int rc = (k % 2 == 0) ? fft_record_forward(seq[k], &c, &err) : fft_record_inverse(seq[k], &c, &err);
                if (rc != 0)
                    die("fft record", &err);
                vk_cmd_barrier(&c);
            }
        }
        int t1 = vk_cmd_timestamp(&c);
        double h0 = now_ms();
        if (vk_cmd_submit_wait(vk, &c, &err) != 0)
            die("fft submit", &err);
        double ms = vk_cmd_elapsed_ms(vk, &c, t0, t1);
        if (ms <= 0)
            ms = now_ms() - h0;
        if (ms / reps < best)
            best = ms / reps;
    }
    vk_cmd_destroy(vk, &c);
    fft_plan_put(fc, p1);
    fft_plan_put(fc, p7);
    fft_plan_put(fc, p5);
    fft_cache_trim(fc); /* free this size's buffers before the next */
    return best;
}

int main(int argc, char **argv)
{
    const char *device = "auto";
    char sizes_arg[256] = "256,512,1024,2048,4096";
    bool quick = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--device") && i + 1 < argc)
            device = argv[++i];
        else if (!strcmp(argv[i], "--sizes") && i + 1 < argc)
            snprintf(sizes_arg, sizeof sizes_arg, "%s", argv[++i]);
        else if (!strcmp(argv[i], "--quick")) {
            quick = true;
            snprintf(sizes_arg, sizeof sizes_arg, "64,128");
        } else {
            fprintf(stderr, "usage: dashi-bench-les [--device D] [--sizes 256,512,...] [--quick]\n");
            return 2;
        }
    }
    struct vk_runtime vk = {0};
    struct dashi_error err = {0};
    if (vk_runtime_open(&vk, device, NULL, &err) != 0)
        die("vk_runtime_open", &err);
    struct fft_cache *fc;
    if (fft_cache_create(&vk, &fc, &err) != 0)
        die("fft_cache_create", &err);
    double bw = copy_bandwidth(&vk, quick ? (VkDeviceSize)64 << 20 : (VkDeviceSize)1 << 30);
    printf("device: %s (%s %s)\ncopy bandwidth (vkCmdCopyBuffer, read+write): %.1f GB/s\n", vk.device_name,
           vk.driver_name, vk.driver_info, bw);
    printf("FFTs per step: %u (2 forward R2C, 12 inverse C2R in batches of 7 and 5)\n\n", LES_FFTS_PER_STEP);
    printf("| N | precision | ms/step | steps/s | FFT ms/step | FFT share | FFT GB/s | of copy BW |\n");
    printf("|---:|---|---:|---:|---:|---:|---:|---:|\n");
    fflush(stdout);
    char profile[8192] = "";
    size_t plen = 0;
    char *save = NULL;
    for (char *tok = strtok_r(sizes_arg, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        uint32_t n = (uint32_t)strtoul(tok, NULL, 10);
        for (int pi = 0; pi < 2; pi++) {
            bool f32 = pi == 1;
            struct les_config cfg = {.n = n, .dt = 1e-4, .nu0 = 1e-4, .cs = 0.17, .f32 = f32, .max_steps = 4096};
            if (les_config_validate(&cfg, &vk, &err) != 0) {
                printf("| %u | %s | skipped: %s | | | | | |\n", n, f32 ? "f32" : "f64", err.message);
                continue;
            }
            double *w0 = malloc((size_t)n * n * sizeof *w0);
            if (!w0 || les_initial_condition(1, n, w0, &err) != 0)
                die("initial condition", &err);
            struct les_gpu *les;
            if (les_gpu_create(&vk, fc, &cfg, w0, 0, &les, &err) != 0)
                die("les_gpu_create", &err);
            free(w0);
            struct les_run run;
            /* warm-up (pipeline compilation), then a run sized to ~0.5 s of GPU time */
            if (les_gpu_run(les, 3, 0, NULL, NULL, NULL, &run, &err) != 0)
                die("warm-up", &err);
            double h0 = now_ms();
            if (les_gpu_run(les, 5, 0, NULL, NULL, NULL, &run, &err) != 0)
                die("probe", &err);
            double probe = run.gpu_ms > 0 ? run.gpu_ms / 5 : (now_ms() - h0) / 5;
            double target = quick ? 200.0 : 500.0;
            uint32_t steps = (uint32_t)fmin(4096.0, fmax(5.0, target / probe));
            h0 = now_ms();
            if (les_gpu_run(les, steps, 0, NULL, NULL, NULL, &run, &err) != 0)
                die("timed run", &err);
            double ms = run.gpu_ms > 0 ? run.gpu_ms / steps : (now_ms() - h0) / steps;
            if (run.nonfinite_step >= 0)
                printf("(warning: non-finite field at step %lld)\n", (long long)run.nonfinite_step);
            double ph[LES_PROFILE_PHASES];
            if (les_gpu_profile(les, 5, ph, &err) != 0)
                die("profile", &err);
            if (plen < sizeof profile)
                plen += (size_t)snprintf(profile + plen, sizeof profile - plen,
                                         "| %u | %s | %.4f | %.4f | %.4f | %.4f | %.4f | %.4f | %.4f | %.4f | %.4f |\n", n,
                                         f32 ? "f32" : "f64", ph[0], ph[1], ph[2], ph[3], ph[4], ph[5], ph[6], ph[7],
                                         ph[8]);
            les_gpu_destroy(les);
            int reps = (int)fmin(1000.0, fmax(3.0, target / 2 / ms));
            double fms = fft_ms_per_step(&vk, fc, n, f32, reps);
            double traffic = (double)LES_FFTS_PER_STEP * 4.0 * n * (double)n * (f32 ? 4 : 8);
            double fgbs = traffic / (fms * 1e-3) / 1e9;
            printf("| %u | %s | %.4f | %.0f | %.4f | %.0f%% | %.0f | %.0f%% |\n", n, f32 ? "f32" : "f64", ms,
                   1e3 / ms, fms, 100.0 * fms / ms, fgbs, 100.0 * fgbs / bw);
            fflush(stdout);
        }
    }
    printf("\nms per step by phase (les_gpu_profile, 5 steps):\n\n"
           "| N | precision | fwd FFT | spectral 7 | inv FFT x7 | stage 1 | reduce | fwd FFT | spectral 5 | inv FFT x5 "
           "| stage 2 |\n|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n%s",
           profile);
    fft_cache_destroy(fc);
    vk_runtime_close(&vk);
    return 0;
}
