/* SPDX-License-Identifier: MIT */
/* Per-user limits at submission (docs/cli.md, "Limits"): the job is refused with
 * E_QUOTA, naming the limit in the error's field, before anything is queued. */
#ifndef DASHI_QUOTA_H
#define DASHI_QUOTA_H

#include <sys/types.h>

#include "daemon.h"
#include "job.h"

/* Loop thread: 0 if a job of uid with this plan fits the user's limits beside the user's
 * active jobs; -1 with E_QUOTA (field max_queued_jobs, max_steps, max_gpu_memory, or
 * for its outputs max_disk_bytes or disk_reserve_bytes: disk_check). */
int quota_check_submit(struct daemon *d, uid_t uid, const struct job_plan *plan, struct dashi_error *err);
/* Loop thread: 0 if `more` jobs of uid (a pipeline's stages, a sweep's runs: checked together
 * before any is queued) fit max_queued_jobs beside the user's active jobs; -1 with E_QUOTA
 * naming it. */
int quota_check_jobs(struct daemon *d, uid_t uid, uint64_t more, struct dashi_error *err);
/* Sets j->time_limit (and its key) to the smaller of the job's own limit (seconds, 0 =
 * none) and its user's max_gpu_seconds. */
void quota_time_limit(const struct daemon *d, struct sched_job *j, double own_limit);

#endif
