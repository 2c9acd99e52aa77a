/* SPDX-License-Identifier: MIT */
/* A GPU thread, one per device of the pool: takes the slices the scheduler places on its
 * device, runs them through the job kinds, and posts what they report to the loop thread
 * (uv_async_send on d->wake). */
#ifndef DASHI_GPU_WORKER_H
#define DASHI_GPU_WORKER_H

#include "daemon.h"
#include "job.h"
#include "scheduler.h"

struct job_exec {
    struct daemon *d;
    struct gpu_device *dev; /* where the job runs */
    struct sched_job *job;
    struct job_msg *batch; /* what the current slice reported; posted after the slice */
    struct dashi_error emit_error; /* a report that could not be made fails the job */
};

/* Thread entry point; arg is the struct gpu_device. The last GPU thread to return asks
 * the I/O thread to exit (which then posts MSG_WORKER_EXIT). */
void gpu_worker_main(void *arg);

#endif
