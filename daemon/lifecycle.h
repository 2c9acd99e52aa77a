/* SPDX-License-Identifier: MIT */
/* The daemon's start and stop: opens the parts of struct daemon in order, runs the loop
 * and closes them (lifecycle.c). main.c drives it; the shutdown op and the signals begin
 * the stop. */
#ifndef DASHI_LIFECYCLE_H
#define DASHI_LIFECYCLE_H

#include "daemon.h"

struct conn_handlers;

/* Opens everything the daemon runs on (cfg set: config_defaults and the options), re-queues
 * the jobs left queued, listens, serving requests with handlers, and starts the GPU thread.
 * On failure what was opened stays for daemon_close. */
int daemon_start(struct daemon *d, const struct conn_handlers *handlers, struct dashi_error *err);
/* Runs the loop until the daemon has stopped (daemon_begin_stop, then the GPU thread's exit). */
void daemon_run(struct daemon *d);
/* Closes what daemon_start opened. */
void daemon_close(struct daemon *d);
/* Begins an orderly stop: no new connections or jobs, the GPU thread finishes its
 * slice and reports running jobs interrupted, then the loop ends. */
void daemon_begin_stop(struct daemon *d, const char *why);

#endif
