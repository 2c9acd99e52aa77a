/* SPDX-License-Identifier: MIT */
/* The Slurm executor's state, d->slurm (docs/cluster.md): the Slurm jobs the catalogue
 * follows and the sbatch runs in flight, with the questions the layers below the executor
 * ask of it (how many jobs a user has there, why a job is where it is, cancel through the
 * handler slurm_track registers). Here, below jobs.c and the ops, so that those can ask
 * without calling up into slurm_track.c or slurm_submit.c (tests/e2e/layers.py). Loop
 * thread only. */
#ifndef DASHI_SLURM_STATE_H
#define DASHI_SLURM_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <uv.h>

#include "errors.h"
#include "store_origin.h"

struct conn;
struct daemon;
struct slurm_cmd;

struct slurm_tracked {
    int64_t job;
    uid_t uid;                         /* its owner: counted in max_queued_jobs */
    char slurm_id[32];                 /* "1234" or "1234_5" (an array task) */
    char bundle[ORIGIN_PATH_MAX];      /* where its Slurm job writes its bundle */
    char node[64];                     /* "" until Slurm names it */
    char reason[64];                   /* squeue's reason while it is pending */
    bool running;                      /* recorded running */
    bool cancelled_by_owner;           /* dashi cancel ran scancel */
    char cancelled_by[64];
    int unlisted;                      /* polls in a row that did not list it */
    struct slurm_cmd *scancel;         /* in flight */
};

/* One sbatch run in flight (slurm_submit.c): its jobs are recorded, the answer waits. */
struct slurm_batch {
    struct daemon *d;
    struct conn *conn; /* NULL once it closed */
    uint64_t req_id;
    uid_t uid;
    bool sweep;
    int64_t group;
    char name[64];
    size_t n;
    int64_t *ids;
    char jobdir[ORIGIN_PATH_MAX - 32]; /* room for /bundle-K in the origin */
    struct slurm_cmd *cmd;
    struct slurm_batch *next;
};

/* `cancel` of a followed job (slurm_track.c's scancel). */
typedef int (*slurm_cancel_fn)(struct daemon *d, int64_t job, const char *caller_name, struct dashi_error *err);

struct slurm_state {
    struct daemon *d;
    struct slurm_tracked *jobs;
    size_t n, cap;
    uv_timer_t timer;
    struct slurm_cmd *poll;            /* the squeue in flight, NULL when none */
    struct slurm_cmd *sacct;           /* the sacct in flight (jobs squeue forgot), NULL when none */
    struct slurm_batch *batches;       /* sbatch runs in flight (slurm_submit.c) */
    slurm_cancel_fn cancel;            /* registered by slurm_track_start */
    bool stopping;
};

struct slurm_tracked *slurm_state_find(const struct slurm_state *s, int64_t job); /* NULL: not followed */
/* uid's jobs Slurm runs for this daemon, and those sbatch is taking: its active jobs too
 * (max_queued_jobs). 0 without a state. */
uint64_t slurm_state_active(const struct daemon *d, uid_t uid);
/* Why a followed job is where it is ("slurm 1234_5 on n2", "slurm 1234: Resources"); false
 * when job is not followed. */
bool slurm_state_reason(const struct daemon *d, int64_t job, char *out, size_t cap);
/* `cancel` of a job that runs elsewhere: the registered handler; E_STATE without one. */
int slurm_state_cancel(struct daemon *d, int64_t job, const char *caller_name, struct dashi_error *err);
/* A closing connection: its sbatch runs go on, unanswered. */
void slurm_state_conn_released(struct conn *c);
/* The daemon stops: sbatch runs in flight are abandoned (their jobs fail at the next
 * start: whether Slurm took them is unknown). */
void slurm_state_abandon_batches(struct slurm_state *s);
void slurm_batch_free(struct slurm_batch *b);

#endif
