/* SPDX-License-Identifier: MIT */
/* The store's side of reusing identical work (docs/storage.md "Job identity"): a job's
 * identity hash, the succeeded jobs that share it, and recording a job as succeeded with
 * another job's results. Loop thread only, like the rest of the store. */
#ifndef DASHI_STORE_REUSE_H
#define DASHI_STORE_REUSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "errors.h"
#include "store.h"

/* Sets job id's identity (64 hex digits). */
int store_job_set_identity(struct store *st, int64_t id, const char *identity, struct dashi_error *err);
/* Records that job id must run even when an identical job succeeded ("reuse": false). */
int store_job_forbid_reuse(struct store *st, int64_t id, struct dashi_error *err);
/* Whether job id may take an identical job's results (false after store_job_forbid_reuse). */
int store_job_reuse_allowed(struct store *st, int64_t id, bool *allowed, struct dashi_error *err);
/* Up to cap succeeded jobs with this identity that computed their results themselves
 * (not reused), newest first, into ids (*n of them). */
int store_reuse_candidates(struct store *st, const char *identity, int64_t *ids, size_t cap, size_t *n,
                           struct dashi_error *err);
/* Up to cap queued or running jobs with this identity and an id below `below`, oldest
 * first, into ids (*n of them). */
int store_identical_in_flight(struct store *st, const char *identity, int64_t below, int64_t *ids, size_t cap,
                              size_t *n, struct dashi_error *err);
/* In one transaction: the queued job id takes the outputs, metrics, hashes and atom tables
 * of the succeeded job original, its device and progress, 0 GPU seconds, reused_from =
 * original, and becomes succeeded (an event says from which job). E_STATE when id is no
 * longer queued. */
int store_job_reuse(struct store *st, int64_t id, int64_t original, double now, struct dashi_error *err);

#endif
