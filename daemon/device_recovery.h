/* SPDX-License-Identifier: MIT */
/* What the daemon does when its GPU is lost (VK_ERROR_DEVICE_LOST): the GPU thread
 * interrupts the jobs that held device state (gpu_worker.c), then re-creates the device
 * and the caches built on it here, retrying with backoff while it cannot; the loop
 * thread keeps serving and reports the device's health in `ping`. docs/cli.md, "The GPU
 * thread and device loss". */
#ifndef DASHI_DEVICE_RECOVERY_H
#define DASHI_DEVICE_RECOVERY_H

#include <stdint.h>
#include <uv.h>

#include "errors.h"

struct daemon;

enum device_state {
    DEVICE_OK,         /* jobs run */
    DEVICE_RECOVERING, /* lost; the device is being re-created (new jobs still queue) */
    DEVICE_LOST,       /* re-creating it failed; retried with backoff, new GPU jobs refused */
};

struct device_health_view {
    enum device_state state;
    uint64_t resets; /* successful re-creations since start */
    char why[512];   /* the last loss or re-creation failure; empty before the first */
};

/* Written by the GPU thread, read by the loop thread: guarded by mu. */
struct device_health {
    uv_mutex_t mu;
    struct device_health_view v;
};

int device_health_init(struct device_health *h);
void device_health_destroy(struct device_health *h);
/* A consistent copy, for ping. */
struct device_health_view device_health_get(struct device_health *h);
const char *device_state_name(enum device_state s); /* "ok", "recovering", "lost" */
/* Loop thread, at submit and resume: E_NO_GPU saying why while re-creation fails. */
int device_check_accepting(struct device_health *h, struct dashi_error *err);

/* GPU thread: records the loss (state recovering, logged with its cause). */
void device_loss_begin(struct daemon *d, const struct dashi_error *cause);
/* GPU thread, once no job holds anything of the device: destroys the FFT plan cache and
 * every device object, re-creates them, and retries with backoff (1 s doubling to 60 s)
 * until that succeeds or the daemon stops. Returns 0 when the device is back. */
int device_recreate(struct daemon *d);

#endif
