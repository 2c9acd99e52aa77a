/* SPDX-License-Identifier: MIT */
/* The life of a job on the loop thread, in one place. A job is validated in full before
 * anything is recorded (nothing is queued on bad input), recorded, and handed to the
 * scheduler; one that consumes the output of a job still active waits and is validated
 * again when that job succeeds (or fails when it does not). Re-queueing at daemon start
 * and `resume` rebuild a job from its stored row the same way. Every final state reached
 * here or reported by the GPU thread (results.c) goes through jobs_ended.
 *
 *   submit -> queued [-> waiting -> validated again] -> running (GPU thread) -> ended
 *   interrupted -> resume -> queued;   queued at start -> re-queued
 *
 * ops_job.c translates requests into these calls and their results into replies. */
#ifndef DASHI_JOBS_H
#define DASHI_JOBS_H

#include <msgpack.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "daemon.h"
#include "job.h"

struct job_labels;

/* A submission as the request gave it (args: the kind's parameter map). */
struct job_submission {
    const struct job_kind *kind;
    const msgpack_object *args;
    uid_t uid;
    const char *user;
    int priority;
    bool is_private;
    double time_limit; /* GPU seconds, 0: none */
    bool reuse;        /* false: run even when an identical job succeeded (reuse.h) */
    int64_t parent;    /* the pipeline it is a stage of (0: none) */
    int pin;           /* 1 + the device it must run on (submit's `device`, device_pool_find), 0: any */
    const struct job_labels *labels; /* name, tags and group (job_labels.h); NULL: none */
};

/* Validates, records and schedules the job; *id is its id. Refused (nothing recorded)
 * while the device is lost, on bad parameters, or beyond the user's limits. A kind made
 * of stages (pipeline) is recorded with its stages as children, in one transaction; the
 * stages are scheduled, the pipeline's state follows theirs. */
int jobs_submit(struct daemon *d, const struct job_submission *s, int64_t *id, struct dashi_error *err);
/* What jobs_submit checks before it records anything (the device, the parameters, the
 * user's limits), without recording: a sweep checks every run before it queues one. */
int jobs_check(struct daemon *d, const struct job_submission *s, struct dashi_error *err);
/* A job Slurm runs (slurm_submit.c): validated and checked against the user's limits like
 * a submission, recorded queued with its inputs (*id), never scheduled here; *plan is
 * what validation learned (its inputs, to write out for the node). Its inputs must be
 * stored now: one that takes the output of a job not yet succeeded is refused (E_STATE). */
int jobs_record_elsewhere(struct daemon *d, const struct job_submission *s, int64_t *id, struct job_plan *plan,
                          struct dashi_error *err);
/* Daemon start: schedules again the jobs the database holds as queued; one whose stored
 * parameters no longer validate (a blob removed, another device) is failed with the reason. */
int jobs_requeue(struct daemon *d, struct dashi_error *err);
/* `resume` by caller: the interrupted job id continues from its checkpoint (owner or root;
 * validated again, the per-user limits apply as at submission). For a pipeline: each of
 * its interrupted stages. */
int jobs_resume(struct daemon *d, uid_t caller, int64_t id, struct dashi_error *err);
/* `cancel` by caller (named by caller_name in the job's error): a queued job ends at once
 * (*ended true), a running one is flagged and the GPU thread ends it after its slice. A
 * pipeline's active stages are cancelled, the last first. A job Slurm runs is cancelled
 * there (scancel) and ends cancelled once Slurm says so. */
int jobs_cancel(struct daemon *d, uid_t caller, const char *caller_name, int64_t id, bool *ended,
                struct dashi_error *err);
/* A job reached a final state and it is recorded: its waiters get its record, and its
 * waiting dependents are validated again (it succeeded) or fail (it did not). */
void jobs_ended(struct daemon *d, int64_t id);
/* The GPU thread started job id and that is recorded (a pipeline follows its stages). */
void jobs_started(struct daemon *d, int64_t id);

#endif
