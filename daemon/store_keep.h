/* SPDX-License-Identifier: MIT */
/* The store's side of keep rules (docs/storage.md "Lifecycle"): which outputs kept
 * "until-consumed" nothing needs any more, moving one to released_outputs, and what the
 * record says of a released output. Loop thread only, like the rest of the store. */
#ifndef DASHI_STORE_KEEP_H
#define DASHI_STORE_KEEP_H

#include <stddef.h>
#include <stdint.h>

#include "errors.h"
#include "store.h"

/* The keep rule values as the parameter table packs them (job_params.c). */
#define KEEP_UNTIL_CONSUMED "until-consumed"

struct released_output {
    int64_t job;
    char name[32];
    char hash[DASHI_HASH_HEX + 1];
    char rule[24];
    int64_t consumed_by; /* the last consumer, by id */
};

/* Up to cap outputs that may be released now that job `ended` has ended (its own and
 * those of the producers of its inputs): kept until consumed by a job that succeeded,
 * consumed by at least one job and every consumer in a final state, no other job's
 * output or checkpoint, and not stored before the producer was submitted (the same bytes
 * uploaded or made earlier). Waiting jobs are the scheduler's: the caller asks it. */
int store_keep_releasable(struct store *st, int64_t ended, struct released_output *out, size_t cap, size_t *n,
                          struct dashi_error *err);
/* In one transaction: r's job_blobs rows (its job, its hash) move to released_outputs at
 * `now`, and the blob's record goes (the disk quota drops it). The caller removes the file. */
int store_keep_release(struct store *st, const struct released_output *r, double now, struct dashi_error *err);
/* The released output of job among `wanted` (one name or several separated by commas,
 * the first released wins) into *r: 1 found, 0 none, -1 a store error. */
int store_released_output(struct store *st, int64_t job, const char *wanted, struct released_output *r,
                          struct dashi_error *err);
/* Calls fn for each released output of job, by name; a nonzero return stops. */
int store_released_outputs(struct store *st, int64_t job, int (*fn)(void *ctx, const struct released_output *r),
                           void *ctx, struct dashi_error *err);

#endif
