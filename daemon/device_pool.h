/* SPDX-License-Identifier: MIT */
/* The daemon's pool of devices (docs/architecture.md "The device pool"): which devices
 * config `devices` opens, and what the loop thread asks of the pool at submit (a pin's
 * device, whether a job can be accepted, the device that validates it). */
#ifndef DASHI_DEVICE_POOL_H
#define DASHI_DEVICE_POOL_H

#include "daemon.h"

/* Opens every device config `devices` names (DASHI_TEST_LOGICAL_DEVICES=N, a test-only
 * knob, opens the first of them N times: several VkDevices on one physical device). A
 * device that cannot open is logged and listed in d->device_failures; none open: E_NO_GPU
 * with the first failure. Fills the scheduler's devices. */
int device_pool_open(struct daemon *d, struct dashi_error *err);
void device_pool_close(struct daemon *d);

/* The pool index `name` names: a decimal index or a substring of a device's name (the
 * first match). E_BAD_VALUE naming `device`, listing the pool, when none. */
int device_pool_find(const struct daemon *d, const char *name, int *index, struct dashi_error *err);
/* Loop thread, at submit and resume: E_NO_GPU naming `device` when the pinned device
 * (pin: 1 + index, 0: none) is lost, or when every device is. */
int device_pool_accepting(struct daemon *d, int pin, struct dashi_error *err);
/* The device a job pinned so (0: none) is validated against: its pin, else device 0. */
const struct gpu_device *device_pool_validator(const struct daemon *d, int pin);

#endif
