/* SPDX-License-Identifier: MIT */
/* The store's side of the lifecycle of stored data (docs/storage.md "Lifecycle"):
 * removing a job's records (rm), what still refers to a blob (gc), and the bytes each
 * user's jobs and uploads hold (acct). Loop thread only, like the rest of the store. */
#ifndef DASHI_STORE_GC_H
#define DASHI_STORE_GC_H

#include "store.h"

/* A job that still needs an output of job id: *needer = its id and name its input
 * ("" and 0 when none). */
int store_rm_needed_by(struct store *st, int64_t id, int64_t *needer, char *name, size_t cap,
                       struct dashi_error *err);
/* In one transaction: records the removal in removed_jobs (by: the caller), releases the
 * blob records of the job's outputs that nothing else refers to (the disk quota drops
 * them), and deletes the job's row (its events, inputs/outputs, metrics, hashes and atoms
 * go with it). */
int store_rm_job(struct store *st, const struct job_row *row, uid_t by, double now, struct dashi_error *err);

/* What gc finds for a blob file. */
enum gc_verdict {
    GC_LIVE,            /* a job's input, output or checkpoint, or an upload within its grace */
    GC_UNREFERENCED,    /* no record and no reference: a released output or checkpoint, an orphan */
    GC_UPLOAD_EXPIRED,  /* recorded, unreferenced, stored before upload_cutoff */
};
int store_gc_verdict(struct store *st, const char *hash, double upload_cutoff, enum gc_verdict *v,
                     struct dashi_error *err);
/* Deletes the record of a blob gc freed. */
int store_gc_forget(struct store *st, const char *hash, struct dashi_error *err);
/* The submission time of the oldest queued or running job (0 when none): files newer than
 * it may be outputs or checkpoints not recorded yet. */
int store_oldest_active_job(struct store *st, double *submitted_at, struct dashi_error *err);

/* Bytes for acct: distinct blobs that uid's jobs have as outputs (a blob shared by
 * several users counts for each), and uid's uploads (blobs it stored first that are no
 * output of its jobs). */
int store_user_bytes(struct store *st, int64_t uid, uint64_t *outputs, uint64_t *uploads,
                     struct dashi_error *err);

#endif
