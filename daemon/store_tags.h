/* SPDX-License-Identifier: MIT */
/* The store's side of named runs (schema/009_runs.sql): a job's name, group, tags and
 * notes and the groups sweeps make. Loop thread only, like
 * the rest of the store. */
#ifndef DASHI_STORE_TAGS_H
#define DASHI_STORE_TAGS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "job_labels.h"
#include "store.h"
#include "store_filter.h"

/* Sets a new job's name and group and adds its tags (inside submission's transaction). */
int store_job_labels_set(struct store *st, int64_t id, const struct job_labels *l, struct dashi_error *err);
/* A job's name, group (and group_name, "" when it has none) and tags. */
int store_job_labels_get(struct store *st, int64_t id, struct job_labels *l, char group_name[JOB_NAME_MAX + 1],
                         struct dashi_error *err);
/* Adds (remove false) or removes tags; adding beyond JOB_TAGS_MAX on the job is E_TOO_LARGE
 * naming "tags", and nothing changes. */
int store_job_tags_change(struct store *st, int64_t id, char (*tags)[JOB_TAG_MAX + 1], int n, bool remove,
                          struct dashi_error *err);
/* Appends a note by uid; the JOB_NOTES_MAX + 1st is E_TOO_LARGE naming "text". */
int store_job_note_add(struct store *st, int64_t id, uid_t uid, double at, const char *text, struct dashi_error *err);
/* A job's notes, oldest first. */
int store_job_notes(struct store *st, int64_t id, int (*cb)(void *ctx, double at, int64_t uid, const char *text),
                    void *ctx, struct dashi_error *err);
/* Records a group of uid (name NULL: none); *id is its id. */
int store_group_create(struct store *st, uid_t uid, const char *name, const char *kind, const char *vary_json,
                       double now, int64_t *id, struct dashi_error *err);

#endif
