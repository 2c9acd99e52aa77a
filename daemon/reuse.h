/* SPDX-License-Identifier: MIT */
/* Reuse of identical work (docs/storage.md "Job identity"): jobs are deterministic, so a
 * job identical to a succeeded one takes that job's results instead of running. Loop
 * thread: called by jobs.c once a job's inputs have all resolved. */
#ifndef DASHI_REUSE_H
#define DASHI_REUSE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "blobstore.h"
#include "errors.h"
#include "job.h"
#include "store.h"
#include "vk.h"

/* What reuse reads: the daemon's store, blobs and device, and its version (which enters the
 * identity: a release may change the numerics). */
struct reuse_ctx {
    struct store *store;
    const struct blobstore *blobs;
    const struct vk_runtime *vk;
    const char *daemon_version;
};

/* The identity of a validated job whose inputs have all resolved (plan->ndeps == 0): the
 * BLAKE2b-256, as 64 hex digits, of its canonical encoding (docs/storage.md). */
int reuse_identity(const struct reuse_ctx *ctx, const struct job_kind *kind, const void *params,
                   const struct job_plan *plan, char identity[DASHI_HASH_HEX + 1], struct dashi_error *err);

/* The newest succeeded job with this identity that computed its results, whose results uid
 * may see (its own, another user's public job, or any for root) and whose outputs all still
 * exist in the blob store (none released by a keep rule): *original its id, or 0 when there
 * is none. */
int reuse_find(const struct reuse_ctx *ctx, const char *identity, uid_t uid, int64_t *original,
               struct dashi_error *err);

/* What an identical job offers a resolved one: the identity, a succeeded original whose
 * results it takes (reuse_find), or else the oldest identical job still queued or running,
 * older than it and visible to its owner, to wait for (0: none). */
struct reuse_match {
    char identity[DASHI_HASH_HEX + 1];
    int64_t original, in_flight;
};

/* The match for the resolved job of uid with id `id` (0: not recorded yet, so every recorded
 * job is older); with allow false (`"reuse": false`) only the identity is computed. Reads
 * only: nothing is recorded. */
int reuse_lookup(const struct reuse_ctx *ctx, int64_t id, uid_t uid, const struct job_kind *kind,
                 const void *params, const struct job_plan *plan, bool allow, struct reuse_match *m,
                 struct dashi_error *err);

/* Stores the recorded job id's identity and, when m has an original, records id as
 * succeeded at `now` with the original's results (*reused true). */
int reuse_apply(const struct reuse_ctx *ctx, int64_t id, const struct reuse_match *m, double now, bool *reused,
                struct dashi_error *err);

#endif
