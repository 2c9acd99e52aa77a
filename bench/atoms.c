/* dashi-bench-atoms: frames per second of the atoms job's track mode (closed carrier,
 * atom extraction, threading to the previous frame) at several N, on the host path the
 * job uses, with the time split by stage.
 *
 *   dashi-bench-atoms [--sizes 256,1024] [--frames F]
 *
 * Frames: a smooth random field (the LES initial condition of seeds 1 and 2) rotated
 * between the two and drifted by one cell in x per frame, so atoms move, deform, split
 * and merge a little from frame to frame the way saved LES frames do.
 *
 * Times are CPU time of the one thread doing the work (the track path is single-threaded
 * host code), so a busy machine does not distort them. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "atoms.h"
#include "ic.h"
#include "threads.h"

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
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

static void bench(uint32_t n, int frames)
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
    struct atom_frame prev = {0};
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
            if (threads_link(&prev, &cur, &tp, &r, &err))
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
        atom_frame_free(&prev);
        prev = cur;
    }
    atom_frame_free(&prev);
    double total = t_carrier + t_extract + t_link;
    printf("| %u | %d | %.1f | %.1f | %.2f | %.2f | %.2f | %.2f | %.1f | %zu/%zu/%zu/%zu/%zu |\n", n, frames,
           1e3 * frames / total, (double)atoms / frames, t_carrier / frames, t_extract / frames, t_link / frames,
           total / frames, (double)depth_sum / frames, events[0], events[1], events[2], events[3], events[4]);
    fflush(stdout);
    free(w0);
    free(w1);
    free(w);
    free(s);
}

int main(int argc, char **argv)
{
    const char *sizes = "256,1024";
    int frames = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--sizes") == 0 && i + 1 < argc)
            sizes = argv[++i];
        else if (strcmp(argv[i], "--frames") == 0 && i + 1 < argc)
            frames = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: dashi-bench-atoms [--sizes 256,1024] [--frames F]\n");
            return 2;
        }
    }
    printf("| N | frames | frames/s | atoms/frame | carrier ms | extract ms | link ms | ms/frame | depth K | "
           "events cont/split/merge/birth/death |\n|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n");
    for (const char *p = sizes; *p;) {
        uint32_t n = (uint32_t)strtoul(p, NULL, 10);
        if (n >= 16)
            bench(n, frames > 0 ? frames : n >= 1024 ? 10 : 50);
        const char *comma = strchr(p, ',');
        if (!comma)
            break;
        p = comma + 1;
    }
    return 0;
}
