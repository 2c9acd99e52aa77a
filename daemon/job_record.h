/* SPDX-License-Identifier: MIT */
/* The job record (job_record.c): the map `submit`, `show`, `wait` and `list` return
 * (docs/protocol.md), and the visibility rule for a job's row. */
#ifndef DASHI_JOB_RECORD_H
#define DASHI_JOB_RECORD_H

#include <msgpack.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "errors.h"
#include "store.h"

/* Packs the job record. E_NOT_FOUND if the job is absent or private to another user
 * (viewer). */
int pack_job_record(msgpack_packer *pk, struct store *st, int64_t id, uid_t viewer, bool with_events,
                    struct dashi_error *err);
/* The same with the job's queue reason (queue_reason.h; NULL or "": nil). */
int pack_job_record_reason(msgpack_packer *pk, struct store *st, int64_t id, uid_t viewer, bool with_events,
                           const char *reason, struct dashi_error *err);
/* Packs one of a job's events as `log` serves it (docs/protocol.md "log"). */
void pack_job_event(msgpack_packer *pk, int64_t job, const struct job_event *ev);
/* Loads a job the viewer may see: E_NOT_FOUND for private jobs of others. */
int job_get_visible(struct store *st, int64_t id, uid_t viewer, struct job_row *row, struct dashi_error *err);

#endif
