/* SPDX-License-Identifier: MIT */
/* Keep rules (docs/protocol.md "keep", docs/storage.md "Lifecycle"): an output of a job
 * submitted with keep "until-consumed" is deleted once every job that consumed it has
 * ended and no job still waits to take it. Loop thread: jobs.c calls it for every job
 * that ends. */
#ifndef DASHI_KEEP_H
#define DASHI_KEEP_H

#include <stdint.h>

#include "daemon.h"

/* Releases what job id's end leaves unneeded (its own outputs and its inputs' producers'):
 * the record first (store_keep_release), then the file (blobstore_remove; one left by a
 * failure there or a crash is unreferenced, for gc). Failures are logged: the output stays. */
void keep_job_ended(struct daemon *d, int64_t id);

#endif
