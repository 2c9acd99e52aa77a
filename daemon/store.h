/* SPDX-License-Identifier: MIT */
/* The daemon's SQLite database: jobs and their state events, inputs/outputs (blob
 * references), metrics, hashes, blob metadata. WAL mode; one connection, used only by
 * the daemon's loop thread (the single writer). Schema from schema/NNN_*.sql, applied
 * in order by PRAGMA user_version. Times are Unix seconds (REAL). */
#ifndef DASHI_STORE_H
#define DASHI_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "blobstore.h"
#include "errors.h"

struct sqlite3;

struct store {
    struct sqlite3 *db;
};

/* Job states, in the order of their life. Names are the strings stored and sent. */
enum job_state { JOB_QUEUED, JOB_RUNNING, JOB_SUCCEEDED, JOB_FAILED, JOB_CANCELLED, JOB_INTERRUPTED,
                 JOB_STATE_COUNT };
const char *job_state_name(enum job_state s);
int job_state_from_name(const char *name); /* -1 if unknown */
bool job_state_is_final(enum job_state s);  /* succeeded, failed, cancelled */

struct job_row {
    int64_t id;
    char kind[16];
    enum job_state state;
    uid_t uid;
    char user[64];
    int priority;
    bool is_private;
    char *params_json;      /* malloc'd; owned by the row (resolved parameters, defaults included) */
    void *params_mp;        /* malloc'd; the same parameters as a msgpack map, re-validated on resume */
    size_t params_mp_len;
    double submitted_at, started_at, ended_at; /* 0 = not yet */
    char device[128];       /* empty until started */
    char driver[128];
    char precision[8];      /* "f64" | "f32" */
    char mode[16];
    uint64_t step, total_steps; /* progress */
    double gpu_seconds;
    uint64_t mem_estimate;
    char error_code[32];    /* empty when none */
    char error_field[64];
    char error_message[256];
    char checkpoint[DASHI_HASH_HEX + 1]; /* blob with the last checkpoint; empty when none */
    uint64_t checkpoint_step;
    double time_limit;      /* the job's own GPU-time limit in seconds (0: none) */
    int64_t reused_from;    /* the job whose outputs it reused (0: it computed them; store_reuse.h) */
    int64_t parent;         /* the pipeline this job is a stage of (0: none; job_stages.h) */
};

void job_row_free(struct job_row *row); /* frees params_json and params_mp */

int store_open(struct store *st, const char *path, struct dashi_error *err);
void store_close(struct store *st);
int store_schema_version(struct store *st); /* PRAGMA user_version */

/* Inserts a queued job (row->id set on return) with its 'queued' event. */
int store_job_insert(struct store *st, struct job_row *row, struct dashi_error *err);
/* Moves a job to a state, stamping started_at (running) or ended_at (final states and
 * interrupted), storing the error (NULL when none), and adding an event row. */
int store_job_set_state(struct store *st, int64_t id, enum job_state state, double now,
                        const struct dashi_error *error, struct dashi_error *err);
/* The same, the event's detail being note when there is no error (NULL: none): the
 * running event names the device the job was placed on. */
int store_job_set_state_note(struct store *st, int64_t id, enum job_state state, double now,
                             const struct dashi_error *error, const char *note, struct dashi_error *err);
/* Replaces the resolved parameters and the plan's figures of a job (a waiting job whose
 * dependencies resolved: its parameters now hold what validation learned from them). */
int store_job_set_params(struct store *st, int64_t id, const char *params_json, const void *params_mp,
                         size_t params_mp_len, uint64_t total_steps, uint64_t mem_estimate, struct dashi_error *err);
int store_job_set_device(struct store *st, int64_t id, const char *device, const char *driver,
                         const char *precision, struct dashi_error *err);
int store_job_set_progress(struct store *st, int64_t id, uint64_t step, uint64_t total_steps,
                           double gpu_seconds, struct dashi_error *err);
/* 1 when a blob is still referenced: some job's checkpoint, input or output, or a recorded
 * upload; 0 when nothing refers to it; -1 on error. */
int store_blob_referenced(struct store *st, const char *hash, struct dashi_error *err);
int store_job_set_checkpoint(struct store *st, int64_t id, const char *hash, uint64_t step,
                             struct dashi_error *err);
/* When job id was removed (rm; store_gc.c): 1 with *at and *by (the caller's uid) set,
 * 0 if it never was, -1 on error. */
int store_removed_get(struct store *st, int64_t id, double *at, int64_t *by, struct dashi_error *err);
/* E_NOT_FOUND if absent (its message says so when the job was removed). */
int store_job_get(struct store *st, int64_t id, struct job_row *row, struct dashi_error *err);

struct job_filter {
    int state;        /* -1: any */
    const char *kind; /* NULL: any */
    int64_t uid;      /* -1: any */
    uid_t viewer;     /* private jobs of other users are hidden unless viewer is 0 */
    uint64_t limit;   /* 0: 100 */
    int64_t before_id; /* > 0: only jobs with a smaller id (the paging cursor: the last id seen) */
    bool stages;       /* the stages of pipelines too (false: a pipeline is one row) */
    const struct runs_filter *runs; /* NULL: no name, tag, parameter or group filter (store_tags.h) */
};
/* Newest first. cb returns non-zero to stop. The row is freed after cb returns. */
int store_job_list(struct store *st, const struct job_filter *f,
                   int (*cb)(void *ctx, const struct job_row *row), void *ctx, struct dashi_error *err);
/* The stages of pipeline `parent` (jobs whose parent it is), oldest first: at most cap ids
 * into ids, their number in *n. */
int store_job_children(struct store *st, int64_t parent, int64_t *ids, size_t cap, size_t *n,
                       struct dashi_error *err);

/* How many jobs the filter matches, every page together (before_id and limit ignored). */
int store_job_count(struct store *st, const struct job_filter *f, uint64_t *n, struct dashi_error *err);
/* Ids of jobs in the given state, oldest first (*ids malloc'd). */
int store_jobs_in_state(struct store *st, enum job_state s, int64_t **ids, size_t *n, struct dashi_error *err);

/* Events of one job, oldest first. */
int store_job_events(struct store *st, int64_t id,
                     int (*cb)(void *ctx, double at, const char *state, const char *detail), void *ctx,
                     struct dashi_error *err);
/* At most limit events of one job after the event numbered after (0: from the first),
 * oldest first, each with its number (seq) for the next call. */
struct job_event {
    int64_t seq;
    double at;
    const char *state, *detail; /* valid during the callback; detail may be NULL */
};
int store_job_events_after(struct store *st, int64_t id, int64_t after, size_t limit,
                           int (*cb)(void *ctx, const struct job_event *ev), void *ctx, struct dashi_error *err);

/* Inputs/outputs: role is "input" or "output". */
int store_job_blob_add(struct store *st, int64_t id, const char *role, const char *name, const char *hash,
                       struct dashi_error *err);
int store_job_blobs(struct store *st, int64_t id, const char *role,
                    int (*cb)(void *ctx, const char *name, const char *hash), void *ctx, struct dashi_error *err);

struct metric {
    const char *key;
    int64_t step;   /* -1 for a summary scalar */
    double value;
};
/* Inserts (or replaces) all n in one transaction. */
int store_metrics_add(struct store *st, int64_t id, const struct metric *m, size_t n, struct dashi_error *err);
/* A position in a job's metrics, ordered by (key, step): a page starts after it. */
struct metric_cursor {
    char key[48];
    int64_t step;
};
/* key NULL: all keys. Ordered by key, step; at most limit rows after `after` (NULL: from
 * the start). */
int store_metrics(struct store *st, int64_t id, const char *key, const struct metric_cursor *after, uint64_t limit,
                  int (*cb)(void *ctx, const char *key, int64_t step, double value), void *ctx,
                  struct dashi_error *err);
/* The distinct metric keys of a job, in order (for naming the valid ones). */
int store_metric_keys(struct store *st, int64_t id, int (*cb)(void *ctx, const char *key), void *ctx,
                      struct dashi_error *err);

struct zhash {
    uint32_t traj;
    uint64_t step;
    char hex[33]; /* BLAKE2b-128 */
};
int store_hashes_add(struct store *st, int64_t id, const struct zhash *h, size_t n, struct dashi_error *err);
/* Ordered by (traj, step); at most limit rows after the (traj, step) of `after` (NULL:
 * from the start). */
int store_hashes(struct store *st, int64_t id, const struct zhash *after, uint64_t limit,
                 int (*cb)(void *ctx, const struct zhash *h), void *ctx, struct dashi_error *err);

int store_blob_record(struct store *st, const struct blob_meta *meta, uid_t uid, double now,
                      struct dashi_error *err);
/* Bytes of the blobs uid owns: those it stored first (uploads) and the outputs of its
 * jobs, each distinct blob once (the disk quota, max_disk_bytes). */
int store_blob_bytes_owned(struct store *st, uid_t uid, uint64_t *bytes, struct dashi_error *err);
/* E_NOT_FOUND if the hash was never recorded. */
int store_blob_get(struct store *st, const char *hash, struct blob_meta *meta, struct dashi_error *err);

/* Runs fn inside one transaction (BEGIN IMMEDIATE ... COMMIT, ROLLBACK on failure). */
int store_transaction(struct store *st, int (*fn)(void *ctx, struct dashi_error *err), void *ctx,
                      struct dashi_error *err);

#endif
