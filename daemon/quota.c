/* SPDX-License-Identifier: MIT */
#include "quota.h"
#include "slurm_state.h"

#include <stdio.h>

#include "disk.h"

/* The user's active jobs (count and the sum of their device-memory estimates). */
static void user_active(struct scheduler *s, uid_t uid, uint64_t *count, uint64_t *mem)
{
    *count = *mem = 0;
    uv_mutex_lock(&s->mu);
    for (const struct sched_job *j = s->jobs; j; j = j->next)
        if (j->uid == uid) {
            (*count)++;
            *mem += j->plan.mem_estimate;
        }
    uv_mutex_unlock(&s->mu);
}

int quota_check_submit(struct daemon *d, uid_t uid, const struct job_plan *plan, struct dashi_error *err)
{
    struct user_limits l = config_user_limits(&d->cfg, uid);
    uint64_t count, mem;
    user_active(&d->sched, uid, &count, &mem);
    count += slurm_state_active(d, uid); /* Slurm runs them, this daemon follows them */
    if (count >= l.max_queued_jobs)
        return dashi_fail(err, DASHI_E_QUOTA, "max_queued_jobs",
                          "you have %llu active jobs; the limit (max_queued_jobs) is %llu per user",
                          (unsigned long long)count, (unsigned long long)l.max_queued_jobs);
    if (l.max_steps && plan->total_steps > l.max_steps)
        return dashi_fail(err, DASHI_E_QUOTA, "max_steps", "the job has %llu steps; the limit (max_steps) is %llu",
                          (unsigned long long)plan->total_steps, (unsigned long long)l.max_steps);
    if (l.max_gpu_memory && mem + plan->mem_estimate > l.max_gpu_memory)
        return dashi_fail(err, DASHI_E_QUOTA, "max_gpu_memory",
                          "the job needs about %.1f MiB of device memory beside %.1f MiB of your active jobs; "
                          "the limit (max_gpu_memory) is %.1f MiB",
                          plan->mem_estimate / 1048576.0, mem / 1048576.0, l.max_gpu_memory / 1048576.0);
    return disk_check(d, uid, plan->disk_estimate, err);
}

int quota_check_jobs(struct daemon *d, uid_t uid, uint64_t more, struct dashi_error *err)
{
    struct user_limits l = config_user_limits(&d->cfg, uid);
    uint64_t count, mem;
    user_active(&d->sched, uid, &count, &mem);
    count += slurm_state_active(d, uid); /* Slurm runs them, this daemon follows them */
    if (count + more > l.max_queued_jobs)
        return dashi_fail(err, DASHI_E_QUOTA, "max_queued_jobs",
                          "you have %llu active jobs and this one adds %llu; the limit (max_queued_jobs) is %llu "
                          "per user", (unsigned long long)count, (unsigned long long)more,
                          (unsigned long long)l.max_queued_jobs);
    return 0;
}

void quota_time_limit(const struct daemon *d, struct sched_job *j, double own_limit)
{
    struct user_limits l = config_user_limits(&d->cfg, j->uid);
    j->time_limit = own_limit;
    snprintf(j->time_limit_key, sizeof j->time_limit_key, "time_limit");
    if (l.max_gpu_seconds && (own_limit <= 0 || (double)l.max_gpu_seconds < own_limit)) {
        j->time_limit = (double)l.max_gpu_seconds;
        snprintf(j->time_limit_key, sizeof j->time_limit_key, "max_gpu_seconds");
    }
}
