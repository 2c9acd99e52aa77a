/* SPDX-License-Identifier: MIT */
/* dashi-bench-rollout: steps per second of the rollout engine (z_{t+1} = z_t · A) for
 * f64 exact, f64 fast and f32 fast at B=1 and B=256 (fast batches in blocks of steps,
 * rollout_block.h), and fast f64 on the split product (rollout_split.h) at B=256, next to
 * the plain C loop of exact mode (rollout_ref_step_*) measured in the same run.
 *   --device NAME   Vulkan device (vk.h rules; default auto)
 *   --steps N       steps per submission (default: as a job sizes its runs, ~12.5 ms each)
 *   --D N           state size (default 654)
 *   --B N           the batch of the batched rows and the sweep (default 256)
 *   --quick         shorter measurements
 *   --sweep         also time the persistent kernel's workgroup counts and polling widths
 *                   (DASHI_ROLLOUT_PERSIST, DASHI_ROLLOUT_PERSIST_EPT), the batched GEMM's
 *                   tile shapes (DASHI_ROLLOUT_GEMM, DASHI_ROLLOUT_GEMM_EXACT), the blocks
 *                   of steps (DASHI_ROLLOUT_BLOCK, DASHI_ROLLOUT_TILE), and the split
 *                   product's digits (DASHI_ROLLOUT_SPLIT_DIGITS)
 *   --sweep-blocks  only the blocks of steps' part of --sweep
 *   --tiles 'T;T'   only these values of DASHI_ROLLOUT_TILE (blocks of steps, f64 fast)
 * Before timing, exact mode is checked bit for bit against the C loop on this device
 * (f64 and f32, B=1 and B=3, with records), so a fast kernel cannot be a wrong one; fast
 * f64 in blocks against the same loop (deviation); and the split product against its C
 * loop (bit for bit) and the IEEE product (deviation). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rollout_gpu.h"
#include "rollout_ref.h"
#include "rollout_split.h"
#include "rollout_tuning.h"
#include "vk.h"

struct bench_opts {
    const char *device;
    uint32_t steps, D, B;
    bool quick, sweep, sweep_blocks;
    const char *tiles; /* --tiles: the tiles to sweep, ';'-separated (no block lengths) */
    double seconds; /* measuring time per configuration */
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static uint64_t next_rand(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static double uniform(uint64_t *s) /* in [-1, 1) */
{
    return (double)(next_rand(s) >> 11) * 0x1.0p-52 - 1.0;
}

/* A random operator scaled so that its growth rate is about 1 per step: long rollouts
 * then neither overflow (f32 included) nor sink into subnormals, which would distort
 * the CPU timings. */
static void make_operator(double *A, uint32_t D)
{
    uint64_t s = 0x9e3779b97f4a7c15ull;
    for (size_t i = 0; i < (size_t)D * D; i++)
        A[i] = uniform(&s) * sqrt(3.0 / D);
    double *z = malloc(D * sizeof *z), *n = malloc(D * sizeof *n);
    for (uint32_t i = 0; i < D; i++)
        z[i] = uniform(&s);
    double log_growth = 0;
    const int iters = 200;
    for (int t = 0; t < iters; t++) {
        rollout_ref_step_f64(A, z, n, D, 1);
        double norm = 0;
        for (uint32_t i = 0; i < D; i++)
            norm += n[i] * n[i];
        norm = sqrt(norm);
        for (uint32_t i = 0; i < D; i++)
            z[i] = n[i] / norm;
        if (t >= iters / 2)
            log_growth += log(norm);
    }
    double rate = exp(log_growth / (iters - iters / 2));
    for (size_t i = 0; i < (size_t)D * D; i++)
        A[i] /= rate;
    free(z);
    free(n);
}

static void make_states(double *z, uint32_t D, uint32_t B)
{
    uint64_t s = 12345;
    for (size_t i = 0; i < (size_t)B * D; i++)
        z[i] = uniform(&s);
}

/* The doubles src[0..count) as float (f32) or double into dst, as the C loop takes them. */
static void store_as(void *dst, const double *src, size_t count, bool f32)
{
    for (size_t i = 0; i < count; i++) {
        if (f32)
            ((float *)dst)[i] = (float)src[i];
        else
            ((double *)dst)[i] = src[i];
    }
}

/* One step of the plain C loop in the given precision; *z and *o swap, so *z is the new state. */
static void ref_step(const void *a, void **z, void **o, uint32_t D, uint32_t B, bool f32)
{
    if (f32)
        rollout_ref_step_f32(a, *z, *o, D, B);
    else
        rollout_ref_step_f64(a, *z, *o, D, B);
    void *tmp = *z;
    *z = *o;
    *o = tmp;
}

/* Steps per second of the plain C loop (exact-mode order). */
static double cpu_rate(const double *A, const double *z0, uint32_t D, uint32_t B, bool f32, double seconds)
{
    size_t n = (size_t)B * D;
    void *a = malloc((size_t)D * D * (f32 ? 4 : 8)), *z = malloc(n * 8), *o = malloc(n * 8);
    store_as(a, A, (size_t)D * D, f32);
    store_as(z, z0, n, f32);
    uint64_t steps = 0;
    double t0 = now_s(), t;
    do {
        ref_step(a, &z, &o, D, B, f32);
        steps++;
        t = now_s() - t0;
    } while (t < seconds);
    free(a);
    free(z);
    free(o);
    return (double)steps / t;
}

struct gpu_result {
    double wall_rate, ts_rate; /* steps/s by wall clock and by GPU timestamps */
    uint64_t nonfinite;
    bool persistent; /* the engine ran many steps per dispatch */
    const char *arithmetic; /* rollout_gpu_arithmetic */
    uint32_t block_steps;   /* rollout_gpu_block_steps */
    uint32_t steps;         /* per submission: as asked (in whole blocks), or as a job sizes its runs */
};

/* Runs of gpu_rate with steps 0 are sized as a job sizes them: a quarter of the daemon's
 * default slice of 50 ms (daemon/config.c, job_rollout.c), by rollout_gpu_run_steps. */
#define JOB_RUN_MS 12.5

/* An engine with the DASHI_ROLLOUT_* knobs as they are now: the sweeps set them before
 * each engine, where the daemon reads them once at its start. */
static int engine_create(struct vk_runtime *vk, struct rollout_config cfg, const double *A, const double *z0,
                         struct rollout_gpu **r, struct dashi_error *err)
{
    struct rollout_tuning tuning;
    rollout_tuning_from_env(&tuning);
    cfg.tuning = &tuning;
    return rollout_gpu_create(vk, &cfg, A, z0, r, err);
}

static int gpu_rate(struct vk_runtime *vk, const double *A, const double *z0, uint32_t D, uint32_t B,
                    enum rollout_precision prec, enum rollout_mode mode, uint32_t steps, double seconds,
                    struct gpu_result *res)
{
    struct rollout_config cfg = {.D = D, .B = B, .precision = prec, .mode = mode,
                                 .max_steps_per_run = steps ? steps : ROLLOUT_MAX_RUN};
    struct rollout_gpu *r;
    struct dashi_error err = {0};
    if (engine_create(vk, cfg, A, z0, &r, &err) != 0) {
        fprintf(stderr, "rollout_gpu_create: %s: %s\n", dashi_code_name(err.code), err.message);
        return -1;
    }
    uint32_t nrec;
    uint64_t bad = 0;
    double ms, gpu_ms = 0, t0, t;
    uint32_t block = rollout_gpu_block_steps(r);
    if (!steps) {
        /* Two short runs (the first builds the kernels), then the job's run length. */
        uint32_t probe = block > 16 ? block : 16;
        for (int i = 0; i < 2; i++) {
            t0 = now_s();
            if (rollout_gpu_run(r, probe, 0, NULL, &nrec, &bad, &ms, &err) != 0)
                goto fail;
        }
        double per_step = (ms > 0 ? ms : 1e3 * (now_s() - t0)) / probe;
        steps = rollout_gpu_run_steps(r, 0, per_step, JOB_RUN_MS);
    } else if (steps > block) {
        steps -= steps % block;
    }
    res->steps = steps;
    /* Warm up: records the command buffer of this run length. */
    if (rollout_gpu_run(r, steps, 0, NULL, &nrec, &bad, &ms, &err) != 0)
        goto fail;
    uint64_t done = 0;
    t0 = now_s();
    do {
        if (rollout_gpu_run(r, steps, 0, NULL, &nrec, &bad, &ms, &err) != 0)
            goto fail;
        done += steps;
        gpu_ms = ms < 0 || gpu_ms < 0 ? -1 : gpu_ms + ms;
        if (bad && !res->nonfinite)
            res->nonfinite = bad;
        t = now_s() - t0;
    } while (t < seconds);
    res->wall_rate = (double)done / t;
    res->persistent = rollout_gpu_persistent(r);
    res->arithmetic = rollout_gpu_arithmetic(r);
    res->block_steps = rollout_gpu_block_steps(r);
    res->ts_rate = gpu_ms > 0 ? (double)done / (gpu_ms * 1e-3) : -1;
    rollout_gpu_destroy(r);
    return 0;
fail:
    fprintf(stderr, "rollout_gpu_run: %s: %s\n", dashi_code_name(err.code), err.message);
    rollout_gpu_destroy(r);
    return -1;
}

static double rel_l2(const double *x, const double *ref, size_t n)
{
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        num += (x[i] - ref[i]) * (x[i] - ref[i]);
        den += ref[i] * ref[i];
    }
    return den > 0 ? sqrt(num / den) : sqrt(num);
}

/* What check_against_loop found. */
struct loop_check {
    bool persistent;      /* the persistent kernel ran the check */
    uint32_t block_steps; /* rollout_gpu_block_steps */
    double max_dev;       /* fast mode: largest relative L2 deviation of a compared state */
};

/* The engine on this device against rollout_ref_step_*: 60 steps in runs of `run` with a
 * record every `every`-th step (0: none), every recorded state and the final state of
 * each run compared: bit for bit in exact mode, by relative L2 deviation (at most 1e-12)
 * in fast mode (f64 only; the engine takes blocks of steps where a job would). Returns
 * 0 (match), 1 (mismatch or records missing), -1 (error). */
static int check_against_loop(struct vk_runtime *vk, const double *A, const double *z0, uint32_t D, uint32_t B,
                              enum rollout_precision prec, enum rollout_mode mode, uint32_t run, uint32_t every,
                              struct loop_check *out)
{
    const uint32_t steps = 60;
    struct rollout_config cfg = {.D = D, .B = B, .precision = prec, .mode = mode, .max_steps_per_run = run};
    size_t n = (size_t)B * D;
    bool f32 = prec == ROLLOUT_F32, exact = mode == ROLLOUT_EXACT;
    double *rec = malloc((every ? run / every + 1 : 1) * n * sizeof *rec), *got = malloc(n * sizeof *got);
    void *a = malloc((size_t)D * D * 8), *z = malloc(n * 8), *o = malloc(n * 8);
    double *want = malloc(n * sizeof *want);
    struct rollout_gpu *r = NULL;
    struct dashi_error err = {0};
    int bad = -1;
    *out = (struct loop_check){0};
    if (!rec || !got || !a || !z || !o || !want || engine_create(vk, cfg, A, z0, &r, &err) != 0)
        goto out;
    store_as(a, A, (size_t)D * D, f32);
    store_as(z, z0, n, f32);
    bad = 0;
    for (uint32_t done = 0; done < steps && !bad;) {
        uint32_t chunk = steps - done < run ? steps - done : run, nrec;
        uint64_t nonfinite;
        double ms;
        if (rollout_gpu_run(r, chunk, every, every ? rec : NULL, &nrec, &nonfinite, &ms, &err) != 0 ||
            rollout_gpu_read_state(r, got, &err) != 0) {
            bad = -1;
            break;
        }
        uint32_t k = 0;
        for (uint32_t s = 1; s <= chunk && !bad; s++) {
            ref_step(a, &z, &o, D, B, f32);
            for (size_t i = 0; i < n; i++)
                want[i] = f32 ? (double)((float *)z)[i] : ((double *)z)[i];
            const double *compared[2] = {every && (done + s) % every == 0 ? &rec[k++ * n] : NULL,
                                         s == chunk ? got : NULL};
            for (int c = 0; c < 2; c++) {
                if (!compared[c])
                    continue;
                if (exact)
                    bad = memcmp(compared[c], want, n * sizeof *want) != 0;
                else
                    out->max_dev = fmax(out->max_dev, rel_l2(compared[c], want, n));
                if (bad)
                    break;
            }
        }
        if (k != nrec)
            bad = 1;
        done += chunk;
    }
    if (bad == 0 && !exact && !(out->max_dev <= 1e-12))
        bad = 1;
    out->persistent = rollout_gpu_persistent(r);
    out->block_steps = rollout_gpu_block_steps(r);
out:
    if (bad < 0)
        fprintf(stderr, "check_against_loop: %s: %s\n", dashi_code_name(err.code), err.message);
    rollout_gpu_destroy(r);
    free(rec);
    free(got);
    free(a);
    free(z);
    free(o);
    free(want);
    return bad;
}

/* Fast f64 for a batch of B on this device, step by step against the C loops: bit for bit
 * against rollout_split_ref_step when the engine uses the split product, and the largest
 * deviation from the IEEE f64 product (exact order) relative to each output row's
 * largest magnitude. Returns 0 (match or not split), 1 (mismatch), -1 (error). */
static int check_split(struct vk_runtime *vk, const double *A, const double *z0, uint32_t D, uint32_t B,
                       const char **arith, double *max_dev)
{
    struct rollout_config cfg = {.D = D, .B = B, .precision = ROLLOUT_F64, .mode = ROLLOUT_FAST, .max_steps_per_run = 1};
    size_t n = (size_t)B * D;
    double *z = malloc(n * 8), *got = malloc(n * 8), *ref = malloc(n * 8), *ieee = malloc(n * 8);
    struct rollout_gpu *r = NULL;
    struct dashi_error err = {0};
    int bad = -1;
    *max_dev = 0;
    if (!z || !got || !ref || !ieee || engine_create(vk, cfg, A, z0, &r, &err) != 0)
        goto out;
    *arith = rollout_gpu_arithmetic(r);
    bool split = strncmp(*arith, "split", 5) == 0;
    memcpy(z, z0, n * 8);
    bad = 0;
    const char *digits = getenv("DASHI_ROLLOUT_SPLIT_DIGITS");
    for (int step = 0; step < 3 && !bad; step++) {
        uint32_t nrec;
        uint64_t nonfinite;
        double ms;
        if (rollout_gpu_run(r, 1, 0, NULL, &nrec, &nonfinite, &ms, &err) != 0 || rollout_gpu_read_state(r, got, &err) != 0) {
            bad = -1;
            break;
        }
        rollout_ref_step_f64(A, z, ieee, D, B);
        if (split)
            rollout_split_ref_step(A, z, ref, D, B, digits ? (uint32_t)atoi(digits) : SPLIT_DIGITS);
        for (uint32_t b = 0; b < B; b++) {
            double top = 0;
            for (uint32_t c = 0; c < D; c++)
                top = fmax(top, fabs(ieee[(size_t)b * D + c]));
            for (uint32_t c = 0; c < D; c++) {
                size_t i = (size_t)b * D + c;
                if (split && memcmp(&got[i], &ref[i], 8) != 0)
                    bad = 1;
                if (top > 0)
                    *max_dev = fmax(*max_dev, fabs(got[i] - ieee[i]) / top);
            }
        }
        memcpy(z, got, n * 8);
    }
out:
    if (bad < 0)
        fprintf(stderr, "check_split: %s: %s\n", dashi_code_name(err.code), err.message);
    rollout_gpu_destroy(r);
    free(z);
    free(got);
    free(ref);
    free(ieee);
    return bad;
}

/* " blocks of N" into buf where the engine computed N steps at once (rollout_block.h). */
static const char *blocks_note(const struct gpu_result *r, char buf[32])
{
    buf[0] = 0;
    if (r->block_steps > 1)
        snprintf(buf, 32, " blocks of %u", r->block_steps);
    return buf;
}

static const char *label(enum rollout_precision p, enum rollout_mode m)
{
    return p == ROLLOUT_F64 ? (m == ROLLOUT_EXACT ? "f64 exact" : "f64 fast") : (m == ROLLOUT_EXACT ? "f32 exact" : "f32 fast");
}

/* One sweep line: the rate of (prec, mode, B) with env knob `name` set to `value`. */
static void sweep_one(struct vk_runtime *vk, const double *A, const double *z, const struct bench_opts *o, uint32_t B,
                      enum rollout_precision prec, enum rollout_mode mode, const char *name, const char *value)
{
    setenv(name, value, 1);
    struct gpu_result r = {0};
    char blocks[32];
    if (gpu_rate(vk, A, z, o->D, B, prec, mode, o->steps, o->seconds / 2, &r) == 0)
        printf("  %s B=%-3u %s=%-14s %12.0f %12.0f %6u/run %s%s%s\n", label(prec, mode), B, name, value, r.wall_rate,
               r.ts_rate, r.steps, r.arithmetic, r.persistent ? " persistent" : "", blocks_note(&r, blocks));
    unsetenv(name);
}

/* Blocks of steps (rollout_block.h): their length (1: step by step, the GEMM of the
 * sweep) and the tile of the wide GEMM. */
static void sweep_blocks(struct vk_runtime *vk, const double *A, const double *zb, const struct bench_opts *o)
{
    static const char *blocks[] = {"1", "16", "25", "32", "38"};
    static const char *tiles[] = {"128,128,4,4,8",   "128,128,4,4,8,8", "128,128,4,4,8,4", "128,128,4,4,4",
                                  "128,128,2,4,8",   "128,128,2,4,8,8", "128,128,4,2,8",   "128,128,4,2,8,8",
                                  "128,128,2,4,16",  "128,64,2,4,8",    "64,64,2,2,8",     "256,64,8,2,8"};
    printf("\nblocks of steps, B=%u f64 fast (env knob = value: steps/s wall, GPU-timestamp steps/s)\n", o->B);
    if (o->tiles) {
        char *list = strdup(o->tiles), *save = NULL;
        if (!list)
            fprintf(stderr, "--tiles: out of memory\n");
        for (char *t = list ? strtok_r(list, ";", &save) : NULL; t; t = strtok_r(NULL, ";", &save))
            sweep_one(vk, A, zb, o, o->B, ROLLOUT_F64, ROLLOUT_FAST, "DASHI_ROLLOUT_TILE", t);
        free(list);
        return;
    }
    for (size_t i = 0; i < sizeof blocks / sizeof *blocks; i++)
        sweep_one(vk, A, zb, o, o->B, ROLLOUT_F64, ROLLOUT_FAST, "DASHI_ROLLOUT_BLOCK", blocks[i]);
    for (size_t i = 0; i < sizeof tiles / sizeof *tiles; i++)
        sweep_one(vk, A, zb, o, o->B, ROLLOUT_F64, ROLLOUT_FAST, "DASHI_ROLLOUT_TILE", tiles[i]);
}

static void sweep(struct vk_runtime *vk, const double *A, const double *z1, const double *zb, const struct bench_opts *o)
{
    static const char *persist[][2] = {{"0", "2"},  {"33", "2"}, {"44", "2"}, {"66", "1"},
                                       {"66", "2"}, {"66", "4"}, {"132", "2"}};
    static const char *gemm[] = {"32,48,4,6,16,4", "32,48,4,6,32,4", "32,48,4,6,64,4", "32,48,4,6,32,8",
                                 "32,42,4,6,32,8", "16,48,4,6,32,8", "32,32,4,4,32,8", "16,32,4,4,32,16",
                                 "32,48,2,6,16,4"};
    static const char *gexact[] = {"16,32,4,4,32", "16,16,4,4,32", "16,48,4,6,32", "16,32,4,4,64",
                                   "16,32,2,4,32", "8,32,2,4,32", "off"};
    printf("\nsweep (env knob = value: steps/s wall, GPU-timestamp steps/s)\n");
    for (size_t i = 0; i < sizeof persist / sizeof *persist; i++) {
        setenv("DASHI_ROLLOUT_PERSIST_EPT", persist[i][1], 1);
        printf("  (DASHI_ROLLOUT_PERSIST_EPT=%s)\n", persist[i][1]);
        sweep_one(vk, A, z1, o, 1, ROLLOUT_F64, ROLLOUT_EXACT, "DASHI_ROLLOUT_PERSIST", persist[i][0]);
    }
    unsetenv("DASHI_ROLLOUT_PERSIST_EPT");
    setenv("DASHI_ROLLOUT_BLOCK", "1", 1); /* the GEMM of step-by-step batches */
    for (size_t i = 0; i < sizeof gemm / sizeof *gemm; i++)
        sweep_one(vk, A, zb, o, o->B, ROLLOUT_F64, ROLLOUT_FAST, "DASHI_ROLLOUT_GEMM", gemm[i]);
    for (size_t i = 0; i < sizeof gemm / sizeof *gemm && i < 4; i++)
        sweep_one(vk, A, zb, o, o->B, ROLLOUT_F32, ROLLOUT_FAST, "DASHI_ROLLOUT_GEMM", gemm[i]);
    unsetenv("DASHI_ROLLOUT_BLOCK");
    for (size_t i = 0; i < sizeof gexact / sizeof *gexact; i++)
        sweep_one(vk, A, zb, o, o->B, ROLLOUT_F64, ROLLOUT_EXACT, "DASHI_ROLLOUT_GEMM_EXACT", gexact[i]);
    sweep_blocks(vk, A, zb, o);
    if (!vk->int8_matrix || getenv("DASHI_ROLLOUT_SPLIT"))
        return;
    static const char *split_digits[] = {"8", "7"};
    setenv("DASHI_ROLLOUT_SPLIT", "on", 1);
    for (size_t i = 0; i < sizeof split_digits / sizeof *split_digits; i++)
        sweep_one(vk, A, zb, o, o->B, ROLLOUT_F64, ROLLOUT_FAST, "DASHI_ROLLOUT_SPLIT_DIGITS", split_digits[i]);
    unsetenv("DASHI_ROLLOUT_SPLIT");
}

static int parse(int argc, char **argv, struct bench_opts *o)
{
    *o = (struct bench_opts){.device = "auto", .D = 654, .B = 256, .seconds = 1.0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--quick") == 0) {
            o->quick = true;
            o->seconds = 0.25;
        } else if (strcmp(a, "--sweep") == 0) {
            o->sweep = true;
        } else if (strcmp(a, "--sweep-blocks") == 0) {
            o->sweep_blocks = true;
        } else if (i + 1 < argc && strcmp(a, "--tiles") == 0) {
            o->tiles = argv[++i];
            o->sweep_blocks = true;
        } else if (i + 1 < argc && strcmp(a, "--device") == 0) {
            o->device = argv[++i];
        } else if (i + 1 < argc && strcmp(a, "--steps") == 0) {
            o->steps = (uint32_t)strtoul(argv[++i], NULL, 10);
        } else if (i + 1 < argc && strcmp(a, "--B") == 0) {
            o->B = (uint32_t)strtoul(argv[++i], NULL, 10);
        } else if (i + 1 < argc && strcmp(a, "--D") == 0) {
            o->D = (uint32_t)strtoul(argv[++i], NULL, 10);
        } else {
            fprintf(stderr, "usage: %s [--device NAME] [--steps N] [--D N] [--B N] [--quick] [--sweep] "
                            "[--sweep-blocks] [--tiles 'T;T;...']\n", argv[0]);
            return -1;
        }
    }
    if (o->D == 0 || o->B < 16) {
        fprintf(stderr, "--D must be >= 1 and --B >= 16\n");
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct bench_opts o;
    if (parse(argc, argv, &o) != 0)
        return 2;
    struct vk_runtime vk;
    struct dashi_error err = {0};
    if (vk_runtime_open(&vk, o.device, NULL, &err) != 0) {
        fprintf(stderr, "dashi-bench-rollout: %s: %s\n", dashi_code_name(err.code), err.message);
        return 1;
    }
    const uint32_t D = o.D, BB = o.B;
    double *A = malloc((size_t)D * D * sizeof *A), *z1 = malloc(D * sizeof *z1);
    double *zb = malloc((size_t)BB * D * sizeof *zb);
    if (!A || !z1 || !zb)
        return 1;
    make_operator(A, D);
    make_states(zb, D, BB);
    memcpy(z1, zb, D * sizeof *z1);

    time_t now = time(NULL);
    char date[32];
    strftime(date, sizeof date, "%Y-%m-%d", gmtime(&now));
    printf("dashi-bench-rollout  %s\n", date);
    printf("device: %s (driver %s %s, Vulkan %s, subgroup %u)\n", vk.device_name, vk.driver_name, vk.driver_info,
           vk.api_version, vk.subgroup_size);
    printf("D=%u; GPU rate = steps/s by wall clock over whole submissions (timestamps in brackets) of steps/run\n"
           "steps (by default as a job sizes its runs: about %.1f ms each, whole blocks of steps);\n", D, JOB_RUN_MS);
    printf("CPU = plain C loop of exact mode (one core), ratio = GPU wall / CPU\n\n");
    const uint32_t check_B[2] = {1, 3};
    for (int bi = 0; bi < 2; bi++)
        for (int pi = 0; pi < 2; pi++) {
            enum rollout_precision prec = pi ? ROLLOUT_F32 : ROLLOUT_F64;
            struct loop_check c1 = {0}, c2 = {0};
            int bad = check_against_loop(&vk, A, zb, D, check_B[bi], prec, ROLLOUT_EXACT, 25, 7, &c1);
            if (!bad)
                bad = check_against_loop(&vk, A, zb, D, check_B[bi], prec, ROLLOUT_EXACT, 60, 0, &c2);
            bool p1 = c1.persistent, p2 = c2.persistent;
            printf("exact check %s B=%u against the C loop (60 steps: runs of 25 recording every 7th, one run of 60): "
                   "%s%s\n", label(prec, ROLLOUT_EXACT), check_B[bi],
                   bad == 0 ? "bit-identical" : bad > 0 ? "MISMATCH" : "error",
                   p1 && p2 ? " (persistent kernel)" : p1 || p2 ? " (persistent kernel in part)" : "");
            if (bad)
                return 1;
        }
    struct loop_check fc = {0};
    int fbad = check_against_loop(&vk, A, zb, D, 16, ROLLOUT_F64, ROLLOUT_FAST, 25, 7, &fc);
    printf("fast f64 check B=16 (60 steps: runs of 25 recording every 7th, blocks of %u): largest relative L2 "
           "deviation from the C loop %.3g%s\n", fc.block_steps, fc.max_dev,
           fbad < 0 ? ": error" : fbad ? ": TOO LARGE" : "");
    if (fbad)
        return 1;
    const char *arith = "";
    double dev = 0;
    /* The split product is only used when asked for (rollout_gpu.c): ask, for its check
     * and its row of the table, unless the caller chose already. */
    bool ask_split = getenv("DASHI_ROLLOUT_SPLIT") == NULL;
    if (ask_split)
        setenv("DASHI_ROLLOUT_SPLIT", "on", 1);
    int sbad = check_split(&vk, A, zb, D, 16, &arith, &dev);
    if (ask_split)
        unsetenv("DASHI_ROLLOUT_SPLIT");
    printf("fast f64 check B=16 (3 steps, each from the GPU's state): arithmetic %s; %s; largest deviation from the "
           "IEEE f64 product %.3g of the row's largest magnitude\n", arith,
           sbad < 0 ? "error" : strncmp(arith, "split", 5) != 0 ? "no split product on this device"
                    : sbad ? "MISMATCH against the C split product" : "bit-identical to the C split product", dev);
    if (sbad)
        return 1;
    printf("\n");
    printf("| mode      |   B | steps/run | GPU steps/s (timestamps)    | traj-steps/s | CPU steps/s | ratio  |\n");
    printf("|-----------|-----|-----------|-----------------------------|--------------|-------------|--------|\n");
    /* Row 4 (batches only): fast f64 on the split product. */
    const enum rollout_precision precs[4] = {ROLLOUT_F64, ROLLOUT_F64, ROLLOUT_F32, ROLLOUT_F64};
    const enum rollout_mode modes[4] = {ROLLOUT_EXACT, ROLLOUT_FAST, ROLLOUT_FAST, ROLLOUT_FAST};
    const uint32_t Bs[2] = {1, BB};
    int rc = 0;
    for (int bi = 0; bi < 2; bi++) {
        uint32_t B = Bs[bi];
        uint32_t steps = o.steps;
        double cpu64 = cpu_rate(A, zb, D, B, false, o.seconds / 2);
        double cpu32 = cpu_rate(A, zb, D, B, true, o.seconds / 2);
        for (int m = 0; m < (B == 1 ? 3 : 4); m++) {
            struct gpu_result r = {0};
            if (m == 3 && ask_split)
                setenv("DASHI_ROLLOUT_SPLIT", "on", 1);
            int failed = gpu_rate(&vk, A, B == 1 ? z1 : zb, D, B, precs[m], modes[m], steps, o.seconds, &r);
            if (m == 3 && ask_split)
                unsetenv("DASHI_ROLLOUT_SPLIT");
            if (failed) {
                rc = 1;
                continue;
            }
            double cpu = precs[m] == ROLLOUT_F64 ? cpu64 : cpu32;
            char ts[32] = "n/a";
            if (r.ts_rate > 0)
                snprintf(ts, sizeof ts, "%.0f", r.ts_rate);
            char note[64] = "", blocks[32];
            if (r.nonfinite)
                snprintf(note, sizeof note, " (non-finite from step %llu!)", (unsigned long long)r.nonfinite);
            printf("| %-9s | %3u | %9u | %12.0f (%12s) | %12.4g | %11.1f | %6.3gx | %s%s%s%s\n",
                   label(precs[m], modes[m]), B, r.steps, r.wall_rate, ts, r.wall_rate * B, cpu, r.wall_rate / cpu,
                   r.arithmetic, r.persistent ? " persistent" : "", blocks_note(&r, blocks), note);
        }
    }
    if (o.sweep)
        sweep(&vk, A, z1, zb, &o);
    else if (o.sweep_blocks)
        sweep_blocks(&vk, A, zb, &o);
    free(A);
    free(z1);
    free(zb);
    vk_runtime_close(&vk);
    return rc;
}
