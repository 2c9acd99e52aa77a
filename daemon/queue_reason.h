/* SPDX-License-Identifier: MIT */
/* Why an active job is not on the device (docs/protocol.md "Queue reasons"): the
 * scheduler's own record of its last pass (scheduler.h), and the device's health when
 * the GPU thread cannot schedule at all. */
#ifndef DASHI_QUEUE_REASON_H
#define DASHI_QUEUE_REASON_H

#include <stddef.h>
#include <stdint.h>

#include "daemon.h"

#define QUEUE_REASON_MAX 160

/* Loop thread: the reason for job id into out; "" when it is not active or is running. */
void queue_reason(struct daemon *d, int64_t id, char *out, size_t size);

#endif
