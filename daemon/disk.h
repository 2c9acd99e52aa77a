/* SPDX-License-Identifier: MIT */
/* Disk space (docs/cli.md "Limits", docs/storage.md "Disk space"): the per-user quota on
 * the bytes of blobs a user owns, the free-space reserve of the state file system, and
 * the reserve file that keeps room for the database when something else fills the disk.
 * Loop thread only. */
#ifndef DASHI_DISK_H
#define DASHI_DISK_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "daemon.h"

/* The reserve file is this large, or disk_reserve_bytes when that is smaller: room for
 * the transactions that record the jobs' ends (a few pages each). */
#define DISK_RESERVE_FILE_BYTES (8ull << 20)

/* Bytes an unprivileged process may still write on the file system of dir. */
int disk_free_bytes(const char *dir, uint64_t *free_bytes, struct dashi_error *err);
/* 0 if uid may store `bytes` more: within max_disk_bytes beside what the user owns, the
 * outputs its active jobs will write and its open uploads (E_QUOTA, field max_disk_bytes),
 * and leaving disk_reserve_bytes free (E_QUOTA, field disk_reserve_bytes). */
int disk_check(struct daemon *d, uid_t uid, uint64_t bytes, struct dashi_error *err);
/* Creates <state>/reserve (preallocated) if it is missing and the reserve is not in use. */
void disk_reserve_make(struct daemon *d);
/* Deletes the reserve file so that a write that failed for want of space can be retried;
 * false if there was none to delete. disk_reserve_make recreates it once there is room. */
bool disk_reserve_release(struct daemon *d);

#endif
