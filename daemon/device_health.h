/* SPDX-License-Identifier: MIT */
/* The GPU device's health, the state the GPU thread writes and the loop thread reads (ping,
 * submit): state only, so that the daemon's context (daemon.h) can hold it without
 * depending on the recovery (device_recovery.h) that acts on the whole daemon. */
#ifndef DASHI_DEVICE_HEALTH_H
#define DASHI_DEVICE_HEALTH_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "errors.h"

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
/* GPU thread: sets the state, and why (kept when NULL); counts a finished re-creation. */
void device_health_set(struct device_health *h, enum device_state state, const char *why, bool reset_done);

#endif
