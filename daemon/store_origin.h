/* SPDX-License-Identifier: MIT */
/* The store's side of jobs that ran elsewhere (schema/011_job_origins.sql): a job imported
 * from a result bundle (docs/storage.md "Bundles") is recorded whole in one transaction,
 * with where it came from. Loop thread only, like the rest of the store. */
#ifndef DASHI_STORE_ORIGIN_H
#define DASHI_STORE_ORIGIN_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

#define ORIGIN_PATH_MAX 1024

/* Where a job ran. A job without a stored origin ran locally (executor "local", the rest empty). */
struct job_origin {
    char executor[16];                     /* "local" | "slurm" */
    char imported_from[ORIGIN_PATH_MAX];   /* the bundle's directory; "" when not imported */
    int64_t source_id;                     /* its id in the store that wrote the bundle; 0 unknown */
    char slurm_job_id[32];                 /* "" when none */
    char node[64];                         /* "" when unknown */
};

struct imported_event {
    double at;
    enum job_state state;
    const char *detail; /* NULL when none */
};

struct imported_blob {
    const char *role; /* "input" | "output" */
    const char *name;
    char hash[DASHI_HASH_HEX + 1];
};

/* A whole job as a bundle describes it. row.state is the final state; every output and
 * the checkpoint are blobs the store already records (the caller checked them). */
struct job_import {
    struct job_row row;
    const struct imported_event *events;
    size_t nevents;
    const struct imported_blob *blobs;
    size_t nblobs;
    const struct metric *metrics;
    size_t nmetrics;
    const struct zhash *hashes;
    size_t nhashes;
    struct job_origin origin;
};

/* Records imp as a new job (*id) in one transaction: its row, events, blobs, metrics,
 * hashes and origin; nothing is recorded on failure. */
int store_job_import(struct store *st, struct job_import *imp, int64_t *id, struct dashi_error *err);
/* A Slurm job of this catalogue (recorded at submission, origin executor slurm) takes the
 * outcome of the bundle its Slurm job wrote: imp->row's state, times, device, progress,
 * error and checkpoint replace the row's, the node's events follow the catalogue's, its
 * outputs, metrics and hashes are added and imp->origin replaces the origin. One
 * transaction. The stored parameters and inputs stay those of the submission. */
int store_job_import_into(struct store *st, int64_t id, struct job_import *imp, struct dashi_error *err);
/* Stores (or replaces) the origin of job id. */
int store_job_origin_set(struct store *st, int64_t id, const struct job_origin *o, struct dashi_error *err);
/* Each job of executor slurm still queued or running, oldest first (cb returns non-zero
 * to stop): what a restarted daemon tracks again. */
int store_slurm_active(struct store *st, int (*cb)(void *ctx, int64_t id, const struct job_origin *o), void *ctx,
                       struct dashi_error *err);
/* 1 when job id runs under Slurm (never on this daemon's devices), 0 when not, -1 error. */
int store_job_runs_elsewhere(struct store *st, int64_t id, struct dashi_error *err);
/* The origin of job id: executor "local" and the rest empty when it has none stored. */
int store_job_origin_get(struct store *st, int64_t id, struct job_origin *o, struct dashi_error *err);

#endif
