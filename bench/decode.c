/* SPDX-License-Identifier: MIT */
/* dashi-bench-decode: decodes per second at several N for each observer policy (none,
 * metrics, snapshots), dashi mode by default (--reference for the reference mode, whose
 * phases are drawn on the host), on one device. Synthetic but well-formed inputs: the
 * default bands (k_cut 8, mid_cut 12), 128 anchors, random proxies and truth fields.
 *
 *   dashi-bench-decode [--device auto|lavapipe|...] [--sizes 64,128,256,1024] [--batch B]
 *                      [--reference] [--reps R]
 *
 * Reported: GPU ms per field (timestamps over a batch recorded in one command buffer;
 * every pass is one dispatch over a group of frames, the whole batch up to 256 MiB of
 * scratch) and wall ms per field (uploads, submit, readback included). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "decode.h"
#include "fft_vkfft.h"
#include "vk.h"

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

static void die(const char *what, const struct dashi_error *err)
{
    fprintf(stderr, "dashi-bench-decode: %s: %s%s%s\n", what, err->message, err->field[0] ? " field " : "",
            err->field);
    exit(1);
}

static double urand(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return (double)(*x >> 11) * (1.0 / 9007199254740992.0);
}

static void bench_size(struct vk_runtime *vk, struct fft_cache *fft, uint32_t n, uint32_t batch, bool reference,
                       int reps)
{
    struct dashi_error err = {0};
    size_t nn = (size_t)n * n;
    double *k = malloc(n * sizeof *k);
    uint8_t *mask = calloc(nn, 1);
    int64_t anchors[128];
    uint32_t M = 0, topk = 0;
    decode_wavenumbers(n, k);
    for (size_t i = 0; i < nn; i++) {
        double km = sqrt(k[i % n] * k[i % n] + k[i / n] * k[i / n]);
        if (km <= 8)
            mask[i] = 1, M++;
        else if (km <= 12 && topk < 128)
            anchors[topk++] = (int64_t)i;
    }
    struct decode_config cfg = {.n = n, .dashi = !reference, .M = M, .topk = topk, .mask_low = mask,
                                .anchors = anchors, .k_cut = 8, .mid_cut = 12, .tau = 0.35, .box = 11, .eta = 3,
                                .max_levels = 32, .residual_seed = 12345, .max_batch = batch, .truth = true,
                                .snapshots = true};
    uint32_t D = decode_dim(&cfg);
    double *z = malloc((size_t)batch * D * sizeof *z), *truth = malloc((size_t)batch * nn * sizeof *truth);
    double *fields = malloc((size_t)batch * nn * sizeof *fields);
    uint64_t *steps = malloc(batch * sizeof *steps), rng = 88172645463325252ull;
    struct decode_result *res = calloc(batch, sizeof *res);
    if (!k || !mask || !z || !truth || !fields || !steps || !res) {
        fprintf(stderr, "dashi-bench-decode: out of host memory at N=%u\n", n);
        exit(1);
    }
    for (uint32_t b = 0; b < batch; b++) {
        steps[b] = b;
        for (uint32_t i = 0; i < D; i++)
            z[(size_t)b * D + i] = (urand(&rng) - 0.5) * 1e-2;
        z[(size_t)b * D + 2 * M + 1] = 1e-4;
        z[(size_t)b * D + 2 * M + 2] = 1e-5;
    }
    for (size_t i = 0; i < (size_t)batch * nn; i++)
        truth[i] = urand(&rng) - 0.5;
    struct decode_gpu *dec = NULL;
    if (decode_gpu_create(vk, fft, &cfg, &dec, &err) != 0)
        die("decode_gpu_create", &err);
    const char *names[] = {"none", "metrics", "snapshots"};
    for (int obs = 0; obs < 3; obs++) {
        double gpu = 0, wall = 0, g;
        /* One warm-up run (pipelines, caches), then the measured ones. */
        if (decode_gpu_run(dec, batch, steps, z, truth, obs, res, fields, &g, &err) != 0)
            die("decode_gpu_run", &err);
        for (int r = 0; r < reps; r++) {
            double t0 = now_ms();
            if (decode_gpu_run(dec, batch, steps, z, truth, obs, res, fields, &g, &err) != 0)
                die("decode_gpu_run", &err);
            wall += now_ms() - t0;
            gpu += g;
        }
        double per = (double)reps * batch;
        printf("%-9s N=%-5u %-9s batch %-3u  gpu %8.4f ms/field  wall %8.4f ms/field  %10.0f decodes/s (gpu)"
               "  depth %d\n",
               reference ? "reference" : "dashi", n, names[obs], batch, gpu / per, wall / per, per / (gpu * 1e-3),
               obs ? res[0].closure_depth : -1);
    }
    decode_gpu_destroy(dec);
    free(k), free(mask), free(z), free(truth), free(fields), free(steps), free(res);
}

int main(int argc, char **argv)
{
    const char *device = "auto", *sizes = "64,128,256,1024";
    uint32_t batch = 16;
    bool reference = false;
    int reps = 5;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--device") == 0 && i + 1 < argc)
            device = argv[++i];
        else if (strcmp(argv[i], "--sizes") == 0 && i + 1 < argc)
            sizes = argv[++i];
        else if (strcmp(argv[i], "--batch") == 0 && i + 1 < argc)
            batch = (uint32_t)atoi(argv[++i]);
        else if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc)
            reps = atoi(argv[++i]);
        else if (strcmp(argv[i], "--reference") == 0)
            reference = true;
        else {
            fprintf(stderr, "usage: dashi-bench-decode [--device D] [--sizes 64,128] [--batch B] [--reps R] "
                            "[--reference]\n");
            return 2;
        }
    }
    if (batch < 1 || batch > DECODE_MAX_BATCH || reps < 1) {
        fprintf(stderr, "dashi-bench-decode: batch must be in [1, %d], reps >= 1\n", DECODE_MAX_BATCH);
        return 2;
    }
    struct vk_runtime vk;
    struct fft_cache *fft = NULL;
    struct dashi_error err = {0};
    if (vk_runtime_open(&vk, device, NULL, &err) != 0)
        die("vk_runtime_open", &err);
    if (fft_cache_create(&vk, &fft, &err) != 0)
        die("fft_cache_create", &err);
    printf("device: %s (%s)\n", vk.device_name, vk.driver_name);
    char list[256];
    snprintf(list, sizeof list, "%s", sizes);
    for (char *tok = strtok(list, ","); tok; tok = strtok(NULL, ",")) {
        uint32_t n = (uint32_t)atoi(tok);
        uint32_t b = batch;
        while (b > 1 && (uint64_t)b * n * n * 8 * (reference ? 6 : 4) > (512ull << 20))
            b /= 2; /* keep one batch's inputs and fields within ~512 MiB */
        bench_size(&vk, fft, n, b, reference, reps);
    }
    fft_cache_destroy(fft);
    vk_runtime_close(&vk);
    return 0;
}
