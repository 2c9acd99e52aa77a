/* SPDX-License-Identifier: MIT */
/* dashi-bench-hash: throughput of the blob address (docs/storage.md "Blob addresses") on
 * an in-memory buffer, against the one-stream BLAKE2b-256 of the whole file that named
 * blobs before the chunk tree, in the same run:
 *
 *   dashi-bench-hash [--mib 1024] [--threads 1,2,4,8,16] [--reps 3]
 *   dashi-bench-hash --address FILE
 *
 * Rows: "stream" (one BLAKE2b over all bytes), "tree-stream" (the tree fed in 1 MiB
 * pieces on one thread, as an upload or a job's writer feeds it), and "tree-pool T"
 * (blob_tree_pool_leaves with T threads, as verification of a stored blob hashes it).
 * Wall time and GB/s (1e9 bytes per second) are the best of --reps runs; CPU s is the
 * CPU time of all threads per run (the same work whatever the threads: on a busy machine,
 * wall time shows only the cores that were free). Output: a markdown table.
 *
 * --address prints the address of FILE in hex (streamed), after checking that the pool
 * (4 threads) gives the same; tests/e2e/test_blob_address.sh compares it with an
 * independent computation. Exit 1 when the two differ or the file cannot be read. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "blob_tree.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void hex(const uint8_t *d, char out[2 * BLOB_TREE_HASH + 1])
{
    for (int i = 0; i < BLOB_TREE_HASH; i++)
        snprintf(out + 2 * i, 3, "%02x", d[i]);
}

static uint8_t *read_file(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 1 << 20, len = 0;
    uint8_t *buf = malloc(cap);
    while (buf) {
        if (len == cap) {
            uint8_t *grown = realloc(buf, cap *= 2);
            if (!grown) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = grown;
        }
        size_t r = fread(buf + len, 1, cap - len, f);
        len += r;
        if (r == 0)
            break;
    }
    if (ferror(f)) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    *n = len;
    return buf;
}

static int stream_root(const uint8_t *data, size_t n, uint8_t root[BLOB_TREE_HASH])
{
    struct blob_tree_stream s;
    if (blob_tree_stream_init(&s, BLOB_TREE_CHUNK) < 0)
        return -1;
    int rc = 0;
    for (size_t off = 0; rc == 0 && off < n; off += 1 << 20)
        rc = blob_tree_stream_update(&s, data + off, n - off < (1u << 20) ? n - off : 1u << 20);
    if (rc == 0)
        rc = blob_tree_stream_final(&s, root);
    blob_tree_stream_free(&s);
    return rc;
}

static int print_address(const char *path)
{
    size_t n;
    uint8_t *data = read_file(path, &n);
    if (!data) {
        fprintf(stderr, "dashi-bench-hash: cannot read %s\n", path);
        return 1;
    }
    uint8_t streamed[BLOB_TREE_HASH], pooled[BLOB_TREE_HASH];
    struct blob_tree_pool *pool = blob_tree_pool_new(4);
    int rc = pool && stream_root(data, n, streamed) == 0 && blob_tree_hash(pool, data, n, BLOB_TREE_CHUNK, pooled) == 0
                 ? 0
                 : 1;
    blob_tree_pool_free(pool);
    free(data);
    if (rc == 0 && memcmp(streamed, pooled, BLOB_TREE_HASH) != 0) {
        fprintf(stderr, "dashi-bench-hash: the streamed and pooled addresses of %s differ\n", path);
        return 1;
    }
    char h[2 * BLOB_TREE_HASH + 1];
    hex(streamed, h);
    if (rc == 0)
        printf("%s\n", h);
    return rc;
}

static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* best: the shortest wall time of the reps; cpu: the CPU time of all threads over all reps. */
static void report(const char *what, double best, double cpu, int reps, size_t n)
{
    printf("| %-12s | %7.3f | %6.2f | %7.3f |\n", what, best, (double)n / best / 1e9, cpu / reps);
}

int main(int argc, char **argv)
{
    if (sodium_init() < 0)
        return 1;
    size_t mib = 1024;
    int reps = 3;
    const char *threads = "1,2,4,8,16";
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--address") == 0 && i + 1 < argc)
            return print_address(argv[i + 1]);
        if (strcmp(argv[i], "--mib") == 0 && i + 1 < argc)
            mib = strtoul(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc)
            threads = argv[++i];
        else if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc)
            reps = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: dashi-bench-hash [--mib 1024] [--threads 1,2,4,8,16] [--reps 3] | --address FILE\n");
            return 2;
        }
    }
    size_t n = mib << 20;
    uint8_t *data = malloc(n ? n : 1);
    if (!data || reps < 1)
        return 1;
    for (size_t i = 0; i < n; i++) /* not all zeros; the speed of BLAKE2b does not depend on it */
        data[i] = (uint8_t)(i * 2654435761u >> 13);
    printf("%zu MiB, chunk %llu MiB, best of %d\n", mib, (unsigned long long)(BLOB_TREE_CHUNK >> 20), reps);
    printf("| hash | wall s | GB/s | CPU s |\n|---|---:|---:|---:|\n");
    uint8_t out[BLOB_TREE_HASH], ref[BLOB_TREE_HASH];
    double best = 1e30, cpu = cpu_now();
    for (int r = 0; r < reps; r++) {
        double t = now();
        crypto_generichash(out, BLOB_TREE_HASH, data, n, NULL, 0);
        best = fmin(best, now() - t);
    }
    report("stream", best, cpu_now() - cpu, reps, n);
    best = 1e30;
    cpu = cpu_now();
    for (int r = 0; r < reps; r++) {
        double t = now();
        if (stream_root(data, n, ref) < 0)
            return 1;
        best = fmin(best, now() - t);
    }
    report("tree-stream", best, cpu_now() - cpu, reps, n);
    int rc = 0;
    for (const char *p = threads; *p;) {
        int t = atoi(p);
        struct blob_tree_pool *pool = blob_tree_pool_new(t);
        if (!pool)
            return 1;
        best = 1e30;
        cpu = cpu_now();
        for (int r = 0; r < reps; r++) {
            double t0 = now();
            if (blob_tree_hash(pool, data, n, BLOB_TREE_CHUNK, out) < 0)
                return 1;
            best = fmin(best, now() - t0);
        }
        cpu = cpu_now() - cpu;
        blob_tree_pool_free(pool);
        char what[32];
        snprintf(what, sizeof what, "tree-pool %d", t);
        report(what, best, cpu, reps, n);
        if (memcmp(out, ref, sizeof out) != 0) {
            fprintf(stderr, "dashi-bench-hash: %d threads give another address than the stream\n", t);
            rc = 1;
        }
        p = strchr(p, ',') ? strchr(p, ',') + 1 : p + strlen(p);
    }
    free(data);
    return rc;
}
