/* SPDX-License-Identifier: MIT */
/* The catalogue's Slurm jobs after sbatch accepted them (docs/cluster.md): squeue polled
 * on a timer (config slurm_poll_s, uv_spawn, its output read into a bounded buffer), each
 * job's state mapped from Slurm's (pending: queued; running or completing: running, with
 * its node; a job squeue no longer lists, past MinJobAge, is looked up with sacct), and
 * when Slurm says a job ended, the bundle it wrote imported into the same
 * job id (slurm_bundle.c), or, without a bundle, the job failed (cancelled) with Slurm's
 * reason. A restarted daemon tracks again the Slurm jobs its store holds as queued or
 * running. Loop thread only. */
#ifndef DASHI_SLURM_TRACK_H
#define DASHI_SLURM_TRACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <uv.h>

#include "errors.h"
#include "store_origin.h"

struct daemon;
struct slurm_cmd;
struct slurm_batch;

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

/* The Slurm executor's state, d->slurm (created by slurm_track_start). */
struct slurm_state {
    struct daemon *d;
    struct slurm_tracked *jobs;
    size_t n, cap;
    uv_timer_t timer;
    struct slurm_cmd *poll;            /* the squeue in flight, NULL when none */
    struct slurm_cmd *sacct;           /* the sacct in flight (jobs squeue forgot), NULL when none */
    struct slurm_batch *batches;       /* sbatch runs in flight (slurm_submit.c) */
    bool stopping;
};

/* At start, once the loop exists: the state, the Slurm jobs of the store, the timer. */
int slurm_track_start(struct daemon *d, struct dashi_error *err);
/* The daemon stops: commands in flight are abandoned (the Slurm jobs go on and are
 * tracked again at the next start), the timer closed, the state freed once it is. */
void slurm_track_stop(struct daemon *d);
/* Follows job of uid (recorded queued, its origin stored) as Slurm job slurm_id. */
int slurm_track_add(struct daemon *d, int64_t job, uid_t uid, const char *slurm_id, const char *bundle,
                    struct dashi_error *err);
/* uid's jobs Slurm runs for this daemon, and those sbatch is taking: its active jobs too
 * (max_queued_jobs). */
uint64_t slurm_track_active(const struct daemon *d, uid_t uid);
/* `cancel` of a tracked job: scancel, the job ends cancelled once Slurm says so. */
int slurm_track_cancel(struct daemon *d, int64_t job, const char *caller_name, struct dashi_error *err);
/* Why a tracked job is where it is ("slurm 1234_5 on n2", "slurm 1234: Resources"); false
 * when job is not tracked. */
bool slurm_track_reason(const struct daemon *d, int64_t job, char *out, size_t cap);

#endif
