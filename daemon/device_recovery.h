/* SPDX-License-Identifier: MIT */
/* What the daemon does when one of its GPUs is lost (VK_ERROR_DEVICE_LOST): that device's
 * GPU thread interrupts the jobs that held state on it (gpu_worker.c), then re-creates the
 * device and the caches built on it here, retrying with backoff while it cannot; the other
 * devices keep running the queue, the loop thread keeps serving and reports each device's
 * health in `ping`. docs/cli.md, "The GPU
 * thread and device loss". */
#ifndef DASHI_DEVICE_RECOVERY_H
#define DASHI_DEVICE_RECOVERY_H

#include "daemon.h"

/* GPU thread: records the loss (state recovering, logged with its cause). */
void device_loss_begin(struct gpu_device *g, const struct dashi_error *cause);
/* GPU thread, once no job holds anything of the device: destroys the FFT plan cache and
 * every device object, re-creates them, and retries with backoff (1 s doubling to 60 s)
 * until that succeeds or the daemon stops. Returns 0 when the device is back. */
int device_recreate(struct gpu_device *g);

#endif
