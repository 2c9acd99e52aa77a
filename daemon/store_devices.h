/* SPDX-License-Identifier: MIT */
/* The store's side of the device pool (schema/013_job_devices.sql): the devices each job
 * ran on with its GPU seconds on each, and the device a job is pinned to. Loop thread
 * only, like the rest of the store. */
#ifndef DASHI_STORE_DEVICES_H
#define DASHI_STORE_DEVICES_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

struct job_device {
    int device;       /* the pool index */
    char name[128];
    double gpu_seconds;
};

/* Job id (a part of it, when split) started on device `device` named name: a run there
 * begins, its seconds counted on top of the runs before. */
int store_job_device_started(struct store *st, int64_t id, int device, const char *name, struct dashi_error *err);
/* The current run of job id on `device` has taken `seconds` so far. */
int store_job_device_seconds(struct store *st, int64_t id, int device, double seconds, struct dashi_error *err);
/* The devices job id ran on, by index, into out (at most cap); *n how many. */
int store_job_devices(struct store *st, int64_t id, struct job_device *out, size_t cap, size_t *n,
                      struct dashi_error *err);
/* Job id must run on device `device` (its pool index). */
int store_job_pin_set(struct store *st, int64_t id, int device, struct dashi_error *err);
/* The device job id is pinned to, -1 when none. */
int store_job_pin_get(struct store *st, int64_t id, int *device, struct dashi_error *err);

#endif
