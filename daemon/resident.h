/* SPDX-License-Identifier: MIT */
/* The resident-results cache (docs/architecture.md "Device-resident results"): job outputs
 * kept in device memory so that the job consuming them binds them there instead of reading
 * the blob back through the host. GPU-thread owned (struct daemon's `resident`): only the
 * GPU thread calls these, the scheduler's admission included (scheduler_next runs there).
 *
 * An entry is a device buffer holding one output blob's data (its npy payload, row-major),
 * its layout and the blob's hash; it may be put before the hash is known (keyed by job and
 * output name, then resident_bind_hash). The entries' bytes stay within the budget
 * (config resident_bytes): a put, and the admission of a job that needs the memory, evict
 * least recently used entries first, but only entries whose blob is durable on disk
 * (resident_mark_durable) and that no consumer holds (resident_acquire pins). The cache is
 * dropped with the device (device_recovery.c): consumers then read their inputs from disk. */
#ifndef DASHI_RESIDENT_H
#define DASHI_RESIDENT_H

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "blobstore.h"
#include "vk.h"

#define RESIDENT_MAX_ENTRIES 32
#define RESIDENT_MAX_DIMS 4

struct resident_entry {
    bool used;
    int64_t job;         /* the producing job */
    char output[32];     /* its output name */
    char hash[DASHI_HASH_HEX + 1]; /* the blob's hash; empty until bound */
    struct vk_buffer buf;
    enum npy_dtype dtype;
    int ndim;
    uint64_t shape[RESIDENT_MAX_DIMS];
    uint64_t bytes;      /* the data's bytes (buf may be larger: alignment) */
    bool durable;        /* the blob is on disk: the entry may be evicted */
    int pins;            /* consumers using it now */
    uint64_t last_use;   /* LRU tick */
};

/* A blob the I/O thread published for an entry put before its hash was known. */
struct resident_published {
    int64_t job;
    char output[32];
    char hash[DASHI_HASH_HEX + 1];
    struct resident_published *next;
};

struct resident {
    struct vk_runtime *vk;
    uint64_t budget;     /* most bytes resident at once (0: off); fixed at start, read by validation too */
    uint64_t bytes;      /* bytes resident now */
    uint64_t tick;
    uint64_t evictions;  /* entries released for room since start (for tests and logs) */
    struct resident_entry e[RESIDENT_MAX_ENTRIES];
    /* The only part another thread touches: the I/O thread's resident_published reports,
     * applied by the GPU thread's next call (bind the hash, mark durable). */
    uv_mutex_t mu;
    struct resident_published *published;
};

/* The layout of a resident array (what a put records and a consumer checks). */
struct resident_layout {
    enum npy_dtype dtype;
    int ndim;
    uint64_t shape[RESIDENT_MAX_DIMS];
};

int resident_init(struct resident *r, struct vk_runtime *vk, uint64_t budget); /* -1: no mutex */
void resident_destroy(struct resident *r); /* clears, then frees the mailbox and the mutex */
/* Frees every entry, pinned ones too: at stop, and when the device was lost (before the
 * runtime is re-created, as the jobs' states are; their consumers were interrupted). */
void resident_clear(struct resident *r);

/* Takes *buf (bytes of data laid out as `layout`) into the cache as job's output `output`
 * (hash may be empty: resident_bind_hash later), evicting least recently used durable
 * entries for room. Returns true when taken (*buf then belongs to the cache and is
 * emptied); false when it cannot fit (the caller keeps and frees *buf). */
bool resident_put(struct resident *r, int64_t job, const char *output, const char *hash, bool durable,
                  struct vk_buffer *buf, uint64_t bytes, const struct resident_layout *layout);
/* Bytes a put could take now without evicting anything. */
uint64_t resident_room(const struct resident *r);
/* The hash of job's output, once the blob's address is known. */
void resident_bind_hash(struct resident *r, int64_t job, const char *output, const char *hash);
/* The blob `hash` is durable on disk: its entry may now be evicted. Until then it is pinned. */
void resident_mark_durable(struct resident *r, const char *hash);

/* The entry holding blob `hash` with `layout`, pinned until resident_release; NULL when
 * it is not resident (the consumer reads the blob). */
const struct vk_buffer *resident_acquire(struct resident *r, const char *hash, const struct resident_layout *layout);
void resident_release(struct resident *r, const struct vk_buffer *buf); /* NULL is fine */

/* Any thread (the I/O thread, once job's output `output` is published as blob `hash`):
 * the entry put for it without a hash gets the hash and becomes durable at the GPU
 * thread's next call. Only for an entry already put (the producer puts, then ends). An
 * empty hash says the blob was not published (a write failed): the entry is freed, so a
 * failed job never holds resident bytes. */
void resident_published(struct resident *r, int64_t job, const char *output, const char *hash);
/* Bytes of the entries that admission cannot evict now (pinned or not yet durable). */
uint64_t resident_pinned_bytes(struct resident *r);
/* Evicts least recently used evictable entries until at most `keep` bytes stay resident
 * (or none is evictable). */
void resident_evict_to(struct resident *r, uint64_t keep);

/* The default budget: a quarter of the device-memory budget (docs/cli.md resident_bytes). */
uint64_t resident_default_budget(uint64_t device_budget);

#endif
