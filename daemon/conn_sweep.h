/* SPDX-License-Identifier: MIT */
/* The sweep, once a second on the loop thread, that ends connections whose frame is too
 * slow (frame_timeout_s), whose replies go unread (reply_queue_timeout_s) or that sit
 * idle (idle_timeout_s): the time limits of docs/protocol.md "Limits", beside the byte
 * and descriptor limits of conn_budget.h. */
#ifndef DASHI_CONN_SWEEP_H
#define DASHI_CONN_SWEEP_H

#include "daemon.h"

/* Once the server listens. */
int conn_sweep_start(struct daemon *d, struct dashi_error *err);
/* Before the connections are closed. */
void conn_sweep_stop(struct daemon *d);

#endif
