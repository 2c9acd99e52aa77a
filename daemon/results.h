/* SPDX-License-Identifier: MIT */
/* The loop thread's side of the GPU thread's reports: each message is written to the
 * database in one transaction (the single writer), then the waiters are told and, when
 * the job ended, the lifecycle goes on (jobs_ended). The end of a job must be recorded:
 * one that cannot be (disk full, database error) is kept and retried every second. */
#ifndef DASHI_RESULTS_H
#define DASHI_RESULTS_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "daemon.h"
#include "scheduler.h"

/* Records m and tells who waits for it. Returns true when m was kept on d->unrecorded
 * (its end could not be recorded; retried by results_retry), false when the caller frees it. */
bool results_apply(struct daemon *d, struct job_msg *m);
/* Timer callback (d->record_retry): records the job ends kept on d->unrecorded, in order. */
void results_retry(uv_timer_t *h);
/* At stop: a last try to record the kept ends; what still fails is said, then dropped. */
void results_last_try(struct daemon *d);
/* E_DB if job ended but its end is not recorded yet (a wait would get no answer). */
int results_unrecorded(const struct daemon *d, int64_t job, struct dashi_error *err);

#endif
