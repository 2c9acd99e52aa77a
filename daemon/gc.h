/* SPDX-License-Identifier: MIT */
/* Garbage collection of the blob store (docs/storage.md "Lifecycle"): blob files nothing
 * refers to, uploads past gc_upload_grace_s, and partial files of jobs that will not
 * continue. Runs on the loop thread, the store's only writer, so the references it reads
 * cannot change under it; files that running jobs may not have recorded yet are spared by
 * their mtime. */
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

/* Finds (apply: also frees) what nothing needs. */
int gc_run(const struct gc_scope *g, bool apply, struct gc_report *r, struct dashi_error *err);
/* The partial-file part of gc_run; also run at daemon start, after jobs left running were
 * marked interrupted. */
int gc_partials(const struct gc_scope *g, bool apply, struct gc_tally *t, struct dashi_error *err);

#endif
