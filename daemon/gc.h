/* SPDX-License-Identifier: MIT */
/* Garbage collection of the blob store (docs/storage.md "Lifecycle"): blob files nothing
 * refers to, uploads past gc_upload_grace_s, and partial files of jobs that will not
 * continue. Runs on the loop thread, the store's only writer, in batches: the references it
 * reads for a file cannot change before that file is judged and freed; files that running
 * jobs may not have recorded yet (or jobs submitted during the walk) are spared by their
 * mtime. */
#ifndef DASHI_GC_H
#define DASHI_GC_H

#include <stdbool.h>
#include <stdint.h>

#include "store.h"

struct gc_tally {
    uint64_t count, bytes;
};

struct gc_report {
    struct gc_tally unreferenced; /* released outputs and checkpoints, orphans */
    struct gc_tally uploads;      /* unreferenced uploads past their grace */
    struct gc_tally partials;     /* blobs/tmp/part-job-ID-* of jobs that will not continue */
    struct gc_tally live;         /* blobs kept: referenced, or uploads within their grace */
    struct gc_tally recent;       /* newer than the oldest active job: kept this time */
    bool applied;
};

/* What gc works on: the daemon's store and blobs, gc_upload_grace_s, the time now. */
struct gc_scope {
    struct store *st;
    const struct blobstore *bs;
    uint64_t upload_grace_s;
    double now;
};

/* A walk finding (apply: also freeing) what nothing needs, in bounded steps so that the
 * loop thread serves other requests between them (ops_gc.c runs one step per loop turn). */
struct gc_walk;
/* Starts a walk of g (copied); *out is freed with gc_end. */
int gc_begin(const struct gc_scope *g, bool apply, struct gc_walk **out, struct dashi_error *err);
/* Judges (apply: frees) at most `batch` more blob files; once every shard is done, the
 * partial files too, and *done is true. */
int gc_step(struct gc_walk *w, size_t batch, bool *done, struct dashi_error *err);
/* What the walk has found so far (all of it once done). */
const struct gc_report *gc_walk_report(const struct gc_walk *w);
void gc_end(struct gc_walk *w);
/* The partial-file part of a walk; also run at daemon start, after jobs left running were
 * marked interrupted. */
int gc_partials(const struct gc_scope *g, bool apply, struct gc_tally *t, struct dashi_error *err);

#endif
