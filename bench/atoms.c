/* SPDX-License-Identifier: MIT */
/* dashi-bench-atoms: frames per second of the atoms job's track mode (closed carrier,
 * atom extraction, threading to the previous frame) at several N, on the host path
 * (atoms.c) and on the GPU path the job uses (atoms_gpu.h: carrier, labelling and
 * reductions on the "auto" device, batches of frames), over the same frames in the same
 * run, with the time split by stage; every GPU frame is compared with the host's.
 *
 *   dashi-bench-atoms [--sizes 256,1024] [--frames F] [--evolve] [--evolve-sizes 1000,10000,100000]
 *
 * --evolve adds a second table after the track one: evolve mode's transport (one step =
 * atom_advect with 4 RK2 substeps at kmax 32, upload and readback included; wall clock,
 * and the device's share from GPU timestamps) on the GPU ("auto" device) against the
 * host reference loop measured in the same run, then the normal form Π (host) applied to
 * the moved atoms with evolve's default knobs: a whole evolve step is the two together.
 *
 * Frames: a smooth random field (the LES initial condition of seeds 1 and 2) rotated
 * between the two and drifted by one cell in x per frame, so atoms move, deform, split
 * and merge a little from frame to frame the way saved LES frames do.
 *
 * Host times are CPU time of the one thread doing the work (host code is single-
 * threaded), so a busy machine does not distort them; the GPU path's atoms_gpu_run is
 * wall clock (GPU work is no CPU time), its stages GPU timestamps. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "atom_velocity.h"
#include "atoms.h"
#include "atoms_gpu.h"
#include "ic.h"
#include "normal_form.h"
#include "pcg64.h"
#include "lineage_thread.h"

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

static double wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

static void die(const char *what, const struct dashi_error *err)
{
    fprintf(stderr, "dashi-bench-atoms: %s: %s\n", what, err->message);
    exit(1);
}

static void frame_of(const double *w0, const double *w1, uint32_t n, int t, double *out)
{
    double th = 0.02 * t, c = cos(th), s = sin(th);
    for (uint32_t i = 0; i < n; i++)
        for (uint32_t j = 0; j < n; j++) {
            size_t src = (size_t)i * n + (j + n - (uint32_t)t % n) % n;
            out[(size_t)i * n + j] = c * w0[src] + s * w1[src];
        }
}

static void bench_gpu(struct vk_runtime *vk, uint32_t n, int frames, const double *w0, const double *w1,
                      const struct atom_frame *host, const int *host_depth);

static void bench(struct vk_runtime *vk, uint32_t n, int frames)
{
    struct dashi_error err = {0};
    size_t nn = (size_t)n * n;
    double *w0 = malloc(nn * sizeof *w0), *w1 = malloc(nn * sizeof *w1), *w = malloc(nn * sizeof *w);
    int8_t *s = malloc(nn);
    if (!w0 || !w1 || !w || !s) {
        fprintf(stderr, "dashi-bench-atoms: out of memory\n");
        exit(1);
    }
    if (les_initial_condition(1, n, w0, &err) || les_initial_condition(2, n, w1, &err))
        die("initial condition", &err);
    struct thread_params tp;
    thread_params_default(&tp);
    struct atom_frame *kept = calloc((size_t)frames, sizeof *kept); /* for the GPU's comparison */
    int *depths = calloc((size_t)frames, sizeof *depths);
    if (!kept || !depths) {
        fprintf(stderr, "dashi-bench-atoms: out of memory\n");
        exit(1);
    }
    double t_carrier = 0, t_extract = 0, t_link = 0;
    size_t atoms = 0, events[LINEAGE_KIND_COUNT] = {0};
    int depth_sum = 0;
    for (int t = 0; t < frames; t++) {
        frame_of(w0, w1, n, t, w);
        double a = now_ms();
        int depth;
        if (atoms_closed_carrier(w, n, 0.35, s, &depth, &err))
            die("carrier", &err);
        double b = now_ms();
        struct atom_frame cur;
        if (atoms_extract(s, w, n, 2 * M_PI, &cur, &err))
            die("extract", &err);
        double c = now_ms();
        if (t > 0) {
            struct thread_result r;
            if (threads_link(&kept[t - 1], &cur, &tp, &r, &err))
                die("link", &err);
            for (int k = 0; k < LINEAGE_KIND_COUNT; k++)
                events[k] += r.events[k];
            thread_result_free(&r);
        }
        double d = now_ms();
        t_carrier += b - a;
        t_extract += c - b;
        t_link += d - c;
        atoms += cur.count;
        depth_sum += depth;
        depths[t] = depth;
        kept[t] = cur;
    }
    double total = t_carrier + t_extract + t_link;
    printf("| %u | host | %d | %.1f | %.1f | %.2f | %.2f | %.2f | %.2f | %.1f | %zu/%zu/%zu/%zu/%zu |\n", n, frames,
           1e3 * frames / total, (double)atoms / frames, t_carrier / frames, t_extract / frames, t_link / frames,
           total / frames, (double)depth_sum / frames, events[0], events[1], events[2], events[3], events[4]);
    fflush(stdout);
    if (vk)
        bench_gpu(vk, n, frames, w0, w1, kept, depths);
    for (int t = 0; t < frames; t++)
        atom_frame_free(&kept[t]);
    free(kept);
    free(depths);
    free(w0);
    free(w1);
    free(w);
    free(s);
}

/* ---- track on the GPU path (atoms_gpu.h) over the frames bench() measured ---- */

/* One size's GPU stage split, per frame (printed as a second table). */
struct gpu_split {
    uint32_t n, batch;
    int frames, batches;
    double stage[ATOMS_GPU_STAGES], run, finish, submits, levels, iters;
    uint32_t winding, differ;
};
static struct gpu_split splits[16];
static int nsplits;

static double rel_diff(double a, double b) { return fabs(a - b) / (fabs(b) > 1e-300 ? fabs(b) : 1); }

static double periodic_diff(double a, double b)
{
    double d = fmod(fabs(a - b), 2 * M_PI);
    return d > M_PI ? 2 * M_PI - d : d;
}

/* The GPU frame equals the host's: counts, order, labels, cells, σ, seeds exactly, the
 * measures within 1e-12 (tests/unit/num/test_atoms_gpu.c holds the same bar). */
static bool same_frame(const struct atom_frame *g, const struct atom_frame *h)
{
    if (g->count != h->count || memcmp(g->labels, h->labels, (size_t)h->n * h->n * sizeof *h->labels) != 0)
        return false;
    for (size_t k = 0; k < h->count; k++) {
        const struct atom *a = &g->atoms[k], *b = &h->atoms[k];
        if (a->sigma != b->sigma || a->cells != b->cells || a->seed != b->seed || rel_diff(a->gamma, b->gamma) > 1e-12 ||
            periodic_diff(a->cx, b->cx) > 1e-11 || periodic_diff(a->cy, b->cy) > 1e-11 ||
            rel_diff(a->eps, b->eps) > 1e-12 || rel_diff(a->elongation, b->elongation) > 1e-12)
            return false;
    }
    return true;
}

static void bench_gpu(struct vk_runtime *vk, uint32_t n, int frames, const double *w0, const double *w1,
                      const struct atom_frame *host, const int *host_depth)
{
    struct dashi_error err = {0};
    struct atoms_gpu *ag = NULL;
    if (atoms_gpu_create(vk, n, atoms_gpu_default_batch(n), 0.35, &ag, &err))
        die("GPU atoms", &err);
    uint32_t batch = atoms_gpu_batch(ag);
    struct atom_frame *cur = calloc(batch, sizeof *cur);
    int *depth = calloc(batch, sizeof *depth);
    if (!cur || !depth) {
        fprintf(stderr, "dashi-bench-atoms: out of memory\n");
        exit(1);
    }
    /* Untimed: builds the pipelines; the first batch's pass counts adapt to it. */
    frame_of(w0, w1, n, 0, atoms_gpu_frame(ag, 0));
    if (atoms_gpu_run(ag, 1, cur, depth, &err))
        die("GPU atoms", &err);
    atom_frame_free(&cur[0]);
    struct thread_params tp;
    thread_params_default(&tp);
    struct atom_frame prev = {0};
    struct gpu_split sp = {.n = n, .batch = batch, .frames = frames};
    double t_link = 0;
    size_t atoms = 0, events[LINEAGE_KIND_COUNT] = {0};
    int depth_sum = 0;
    for (int t0 = 0; t0 < frames; t0 += (int)batch) {
        uint32_t count = (uint32_t)(frames - t0) < batch ? (uint32_t)(frames - t0) : batch;
        for (uint32_t b = 0; b < count; b++)
            frame_of(w0, w1, n, t0 + (int)b, atoms_gpu_frame(ag, b));
        double a = wall_ms();
        if (atoms_gpu_run(ag, count, cur, depth, &err))
            die("GPU atoms", &err);
        sp.run += wall_ms() - a;
        const struct atoms_gpu_stats *st = atoms_gpu_last_stats(ag);
        for (int k = 0; k < ATOMS_GPU_STAGES; k++)
            sp.stage[k] += st->gpu_ms[k];
        sp.finish += st->finish_ms;
        sp.submits += st->submits;
        sp.levels += st->closure_levels;
        sp.iters += st->label_iters;
        sp.winding += st->winding;
        sp.batches++;
        for (uint32_t b = 0; b < count; b++) {
            int t = t0 + (int)b;
            sp.differ += !same_frame(&cur[b], &host[t]) || depth[b] != host_depth[t];
            double c = now_ms();
            if (t > 0) {
                struct thread_result r;
                if (threads_link(&prev, &cur[b], &tp, &r, &err))
                    die("link", &err);
                for (int k = 0; k < LINEAGE_KIND_COUNT; k++)
                    events[k] += r.events[k];
                thread_result_free(&r);
            }
            t_link += now_ms() - c;
            atoms += cur[b].count;
            depth_sum += depth[b];
            atom_frame_free(&prev);
            prev = cur[b];
        }
    }
    atom_frame_free(&prev);
    double carrier = (sp.run - sp.finish) / frames, finish = sp.finish / frames, link = t_link / frames;
    double total = carrier + finish + link;
    printf("| %u | GPU | %d | %.1f | %.1f | %.2f | %.2f | %.2f | %.2f | %.1f | %zu/%zu/%zu/%zu/%zu |\n", n, frames,
           1e3 / total, (double)atoms / frames, carrier, finish, link, total, (double)depth_sum / frames, events[0],
           events[1], events[2], events[3], events[4]);
    fflush(stdout);
    if (nsplits < (int)(sizeof splits / sizeof splits[0]))
        splits[nsplits++] = sp;
    free(cur);
    free(depth);
    atoms_gpu_destroy(ag);
}

static void print_splits(void)
{
    if (nsplits == 0)
        return;
    printf("\nGPU path per frame: stages from GPU timestamps (summed over a batch's submissions, divided by its "
           "frames), atoms_gpu_run's wall clock, its host finish (records to atom frames); per batch: submissions, "
           "closure passes and labelling iterations recorded\n\n");
    printf("| N | batch | upload ms | detail ms | closure ms | labelling ms | reductions ms | GPU ms | run wall ms | "
           "host finish ms | submits | closure passes | label iters | winding atoms | frames ≠ host |\n"
           "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for (int i = 0; i < nsplits; i++) {
        const struct gpu_split *sp = &splits[i];
        double f = sp->frames, gpu = 0;
        for (int k = 0; k < ATOMS_GPU_STAGES; k++)
            gpu += sp->stage[k];
        printf("| %u | %u | %.3f | %.3f | %.3f | %.3f | %.3f | %.3f | %.3f | %.3f | %.1f | %.1f | %.1f | %u | %u |\n",
               sp->n, sp->batch, sp->stage[0] / f, sp->stage[1] / f, sp->stage[2] / f, sp->stage[3] / f,
               sp->stage[4] / f, gpu / f, sp->run / f, sp->finish / f, sp->submits / sp->batches,
               sp->levels / sp->batches, sp->iters / sp->batches, sp->winding, sp->differ);
    }
    fflush(stdout);
}

/* ---- evolve mode: atom transport by the induced velocity (atom_velocity.h) ---- */

#define EVOLVE_KMAX 32
#define EVOLVE_SUBSTEPS 4
#define EVOLVE_DT 0.01

/* Atoms spread over the box with strengths of both signs and core radii between 0.1 and
 * 0.3 of the mean spacing L/√count, as extracted atoms are (cores smaller than the gaps),
 * so the normal form merges some close pairs rather than collapsing everything. */
static struct atom_point *evolve_atoms(size_t count)
{
    struct pcg64 rng;
    pcg64_seed(&rng, 5);
    struct atom_point *a = malloc(count * sizeof *a);
    if (!a) {
        fprintf(stderr, "dashi-bench-atoms: out of memory\n");
        exit(1);
    }
    for (size_t i = 0; i < count; i++) {
        a[i].x = pcg64_uniform(&rng, 0, 2 * M_PI);
        a[i].y = pcg64_uniform(&rng, 0, 2 * M_PI);
        a[i].q = pcg64_uniform(&rng, -1, 1);
        a[i].eps = pcg64_uniform(&rng, 0.1, 0.3) * 2 * M_PI / sqrt((double)count);
    }
    return a;
}

/* Milliseconds of one application of the normal form Π with evolve's default knobs
 * (merging at 0.5·(ε_a+ε_b), no pruning, no budget) to the atoms, the host half of an
 * evolve step; the best of a few repetitions. */
static double normal_form_ms(const struct atom_point *a, size_t count, size_t *out_count)
{
    struct atom *in = calloc(count, sizeof *in);
    if (!in) {
        fprintf(stderr, "dashi-bench-atoms: out of memory\n");
        exit(1);
    }
    for (size_t i = 0; i < count; i++)
        in[i] = (struct atom){.sigma = a[i].q < 0 ? -1 : 1, .gamma = fabs(a[i].q), .cx = a[i].x, .cy = a[i].y,
                              .eps = a[i].eps, .elongation = 1, .cells = 1, .seed = (uint32_t)i};
    struct nf_params nf;
    nf_params_default(&nf);
    nf.merge_dist = 0.5;
    double best = INFINITY;
    for (int rep = 0; rep < 3; rep++) {
        struct nf_result r = {0};
        struct dashi_error err = {0};
        double t0 = wall_ms();
        if (normal_form_apply(in, count, &nf, &r, &err))
            die("normal form", &err);
        best = fmin(best, wall_ms() - t0);
        *out_count = r.count;
        nf_result_free(&r);
    }
    free(in);
    return best;
}

/* Steps per second of the GPU and host paths at one atom count. Both first take one step
 * from the same atoms (the GPU's also builds its pipelines, so it is not timed) and their
 * results are compared; then each repeats steps for about a second (the host at least
 * one step, which at 1e5 atoms takes seconds). */
static void bench_evolve_one(struct vk_runtime *vk, size_t count)
{
    struct dashi_error err = {0};
    struct atom_point *g = evolve_atoms(count), *h = evolve_atoms(count);
    struct atom_velocity_gpu *gpu = NULL;
    if (atom_velocity_gpu_create(vk, count, EVOLVE_KMAX, &gpu, &err) ||
        atom_advect_gpu(gpu, g, count, 2 * M_PI, EVOLVE_DT, EVOLVE_SUBSTEPS, &err))
        die("evolve on the GPU", &err);
    double t0 = wall_ms();
    if (atom_advect_host(h, count, EVOLVE_KMAX, 2 * M_PI, EVOLVE_DT, EVOLVE_SUBSTEPS, &err))
        die("evolve on the host", &err);
    double host_ms = wall_ms() - t0;
    int host_steps = 1;
    double diff = 0;
    for (size_t i = 0; i < count; i++) {
        double dx = fabs(g[i].x - h[i].x), dy = fabs(g[i].y - h[i].y);
        diff = fmax(diff, fmax(fmin(dx, 2 * M_PI - dx), fmin(dy, 2 * M_PI - dy)));
    }
    while (host_ms < 1000 && host_steps < 1000) {
        t0 = wall_ms();
        if (atom_advect_host(h, count, EVOLVE_KMAX, 2 * M_PI, EVOLVE_DT, EVOLVE_SUBSTEPS, &err))
            die("evolve on the host", &err);
        host_ms += wall_ms() - t0;
        host_steps++;
    }
    int gpu_steps = 0;
    double gpu_ms = 0, device_ms = 0;
    while ((gpu_ms < 1000 || gpu_steps < 10) && gpu_steps < 100000) {
        t0 = wall_ms();
        if (atom_advect_gpu(gpu, g, count, 2 * M_PI, EVOLVE_DT, EVOLVE_SUBSTEPS, &err))
            die("evolve on the GPU", &err);
        gpu_ms += wall_ms() - t0;
        device_ms += atom_velocity_gpu_last_ms(gpu);
        gpu_steps++;
    }
    double gpu_rate = 1e3 * gpu_steps / gpu_ms, host_rate = 1e3 * host_steps / host_ms;
    size_t kept = 0;
    double nf_ms = normal_form_ms(g, count, &kept);
    double step_ms = gpu_ms / gpu_steps + nf_ms; /* a whole evolve step: transport on the GPU, then Π */
    printf("| %zu | %.3f | %.3f | %.1f | %.3g | %d | %.1f | %.4g | %.3g | %.3g× | %.1e | %.2f (%zu kept) | %.2f | %.3g |\n",
           count, gpu_ms / gpu_steps, device_ms / gpu_steps, gpu_rate, gpu_rate * count, host_steps,
           host_ms / host_steps, host_rate, host_rate * count, gpu_rate / host_rate, diff, nf_ms, kept, step_ms,
           1e3 * (double)count / step_ms);
    fflush(stdout);
    atom_velocity_gpu_destroy(gpu);
    free(g);
    free(h);
}

static void bench_evolve(const char *sizes)
{
    struct vk_runtime vk = {0};
    struct dashi_error err = {0};
    if (vk_runtime_open(&vk, "auto", NULL, &err))
        die("Vulkan", &err);
    printf("\nevolve: atom steps, one step = advect with %d RK2 substeps at kmax %d (%s, %s %s)\n\n",
           EVOLVE_SUBSTEPS, EVOLVE_KMAX, vk.device_name, vk.driver_name, vk.driver_info);
    printf("| atoms | GPU ms/step | of which device | GPU steps/s | GPU atom-steps/s | host steps timed | host ms/step "
           "| host steps/s | host atom-steps/s | GPU/host | max GPU−host after 1 step | Π ms | evolve step ms "
           "| evolve atom-steps/s |\n"
           "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for (const char *p = sizes; *p;) {
        size_t count = (size_t)strtoull(p, NULL, 10);
        if (count > 0)
            bench_evolve_one(&vk, count);
        const char *comma = strchr(p, ',');
        if (!comma)
            break;
        p = comma + 1;
    }
    vk_runtime_close(&vk);
}

int main(int argc, char **argv)
{
    const char *sizes = "256,1024";
    const char *evolve_sizes = NULL;
    int frames = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--sizes") == 0 && i + 1 < argc)
            sizes = argv[++i];
        else if (strcmp(argv[i], "--frames") == 0 && i + 1 < argc)
            frames = atoi(argv[++i]);
        else if (strcmp(argv[i], "--evolve") == 0)
            evolve_sizes = evolve_sizes ? evolve_sizes : "1000,10000,100000";
        else if (strcmp(argv[i], "--evolve-sizes") == 0 && i + 1 < argc)
            evolve_sizes = argv[++i];
        else {
            fprintf(stderr, "usage: dashi-bench-atoms [--sizes 256,1024] [--frames F] [--evolve] "
                            "[--evolve-sizes 1000,10000,100000]\n");
            return 2;
        }
    }
    struct vk_runtime vk = {0};
    struct dashi_error verr = {0};
    bool gpu = vk_runtime_open(&vk, "auto", NULL, &verr) == 0;
    if (gpu)
        printf("track: host path vs GPU path (%s, %s %s)\n\n", vk.device_name, vk.driver_name, vk.driver_info);
    else
        printf("track: host path only (no Vulkan device: %s)\n\n", verr.message);
    printf("| N | path | frames | frames/s | atoms/frame | carrier ms (GPU: + labels, reductions) | extract ms (GPU: "
           "host finish) | link ms | ms/frame | depth K | events cont/split/merge/birth/death |\n"
           "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---|\n");
    for (const char *p = sizes; *p;) {
        uint32_t n = (uint32_t)strtoul(p, NULL, 10);
        if (n >= 16)
            bench(gpu ? &vk : NULL, n, frames > 0 ? frames : n >= 1024 ? 16 : 64);
        const char *comma = strchr(p, ',');
        if (!comma)
            break;
        p = comma + 1;
    }
    print_splits();
    vk_runtime_close(&vk);
    if (evolve_sizes)
        bench_evolve(evolve_sizes);
    return 0;
}
