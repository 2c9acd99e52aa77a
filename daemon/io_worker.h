/* SPDX-License-Identifier: MIT */
/* The I/O thread: hashing, writing and fsync of the blobs that jobs stream out, off the
 * GPU thread (docs/architecture.md "Threads"). The GPU thread puts a job's results into
 * staging buffers from a pool bounded by io_staging_bytes and queues requests on the
 * job's stream (append, sync before a checkpoint, end/publish, close); the I/O thread
 * runs them in order and returns each buffer to the pool once its bytes are written.
 * The buffers are host-visible Vulkan memory of w->vk, so the GPU can copy results into
 * them directly (io_buf_vk); the GPU thread alone allocates and frees that memory.
 *
 * Backpressure: io_staging_get returns NULL when the job has no buffer to take (the pool
 * is spent, or the job holds its share: half the pool while another job also uses
 * staging); the slice then returns and the scheduler runs another job until the I/O
 * thread has freed staging (io_worker.released changes). A job thus never waits on the
 * disk on the GPU thread, and one writer cannot take the pool from the others.
 *
 * Durability: a checkpoint is reported (by the I/O thread) only after the writers it
 * relies on are fsync'd; a job's end is reported only after its outputs are published,
 * so `succeeded` means durable. The first error on a stream (E_IO, a full disk...) is
 * kept: the stream's later writes are skipped, the GPU thread fails the job with it at
 * its next slice, and a job that had already ended on the GPU ends failed with it.
 *
 * Threads: io_worker_* run on the loop thread at start and stop; io_stream_* and the
 * request functions on the GPU thread; everything else is the I/O thread's. */
#ifndef DASHI_IO_WORKER_H
#define DASHI_IO_WORKER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "blobstore.h"
#include "errors.h"
#include "resident.h"
#include "scheduler.h"

struct io_req;
struct io_buf;
struct io_stream;

struct io_worker {
    uv_mutex_t mu;                 /* guards everything below but the thread handle */
    uv_cond_t cv;                  /* a request was queued */
    uv_cond_t returned;            /* a buffer came back (io_staging_drop waits for them all) */
    struct io_req *head, *tail;    /* in order */
    uint64_t staging_total;        /* io_staging_bytes */
    uint64_t staging_held;         /* bytes of buffers held by streams */
    uint64_t staging_cached;       /* bytes of free buffers kept for reuse */
    struct io_buf *free_bufs;
    struct io_buf *retired;        /* given back over the bound: the GPU thread frees them */
    struct vk_runtime *vk;         /* buffers are its host-visible memory (NULL: malloc) */
    unsigned streams_using;        /* streams holding or wanting staging */
    atomic_uint_least64_t released;/* counts the buffers given back: what io-waiting jobs watch */
    unsigned delay_ms;             /* DASHI_IO_FAULT=delay_ms:N (tests): sleep before each write */
    struct scheduler *sched;       /* where reports go (scheduler_post), and who waits for staging */
    uv_async_t *wake;              /* the loop thread's wakeup after a post */
    struct blobstore *blobs;
    uv_thread_t thread;
    bool started;
};

/* Loop thread, at start: the pool of staging_bytes; fault is DASHI_IO_FAULT (NULL: none;
 * "delay_ms:N"). -1 with a message naming the variable when fault does not parse. */
int io_worker_init(struct io_worker *w, uint64_t staging_bytes, const char *fault, struct scheduler *sched,
                   uv_async_t *wake, struct blobstore *blobs, struct dashi_error *err);
int io_worker_start(struct io_worker *w); /* starts the thread; -1 if it cannot */
/* GPU thread, once every stream is finished: the I/O thread runs what is queued, posts
 * MSG_WORKER_EXIT and exits; the daemon stops when it reads that message. */
void io_worker_request_exit(struct io_worker *w);
void io_worker_join(struct io_worker *w);    /* loop thread, after MSG_WORKER_EXIT */
void io_worker_destroy(struct io_worker *w); /* frees the pool */

/* ---- a job's stream (GPU thread) ---- */
/* resident: the cache of the job's device, where io_end_resident reports (NULL: nowhere). */
struct io_stream *io_stream_new(struct io_worker *w, int64_t job, struct resident *resident); /* NULL: out of memory */
/* True once a request was queued: the job's end then goes through the stream. */
bool io_stream_used(const struct io_stream *st);
/* The first error on the I/O side (0 and err untouched when none). */
int io_stream_error(struct io_stream *st, struct dashi_error *err);
/* True when the last io_staging_get found nothing: *gen is io_worker.released then. */
bool io_stream_waiting(struct io_stream *st, uint64_t *gen);
/* The job's end: after its queued requests, the partial files named prefix* are removed
 * unless the job is interrupted, the outputs published on the stream are added to ended
 * (which fails with the stream's error if it succeeded on the GPU), then batch (may be
 * NULL) and ended are posted, and the stream is freed, with any buffer it still held. */
void io_stream_finish(struct io_stream *st, struct job_msg *batch, struct job_msg *ended, const char *prefix);
/* A stream that queued nothing is freed at once. */
void io_stream_free(struct io_stream *st);

/* ---- staging and requests (GPU thread) ---- */
/* A buffer of at least bytes, NULL when the job must wait (see above). A job holding no
 * staging while the pool is empty always gets one, even over its share or the pool's
 * size, so every job can progress: the bound is io_staging_bytes or one such buffer. */
struct io_buf *io_staging_get(struct io_stream *st, size_t bytes);
void *io_buf_data(struct io_buf *b);
/* The buffer as host-visible Vulkan memory the GPU can copy into (io_buf_data is its
 * mapping), or NULL when it is plain host memory. */
const struct vk_buffer *io_buf_vk(const struct io_buf *b);
/* GPU thread, before the device is re-created: waits until every buffer is back (the
 * jobs have ended; the I/O thread finishes what they queued) and frees the pool, whose
 * memory belongs to the old device. */
void io_staging_drop(struct io_worker *w);
/* The size a kind should aim its buffers at: a quarter of the pool, so a job alone can
 * double-buffer within its share. */
size_t io_staging_target(const struct io_stream *st);
/* Appends n bytes at data (inside a buffer the stream holds) to w: the writer is the I/O
 * thread's from the first request on. */
void io_append(struct io_stream *st, struct blob_writer *w, const void *data, size_t n);
/* Appends owned (malloc'd, n bytes) to w and frees it: data made outside a slice (at start). */
void io_append_owned(struct io_stream *st, struct blob_writer *w, void *owned, size_t n);
/* b returns to the pool once the requests before this one are done. */
void io_release(struct io_stream *st, struct io_buf *b);
/* fsyncs the writers (NULLs skipped), stores the array owned (malloc'd, freed) as the
 * checkpoint of step and reports it: a checkpoint is never recorded before its bytes. */
void io_checkpoint(struct io_stream *st, struct blob_writer *const *writers, int nwriters, enum npy_dtype dtype,
                   int ndim, const uint64_t *shape, void *owned, uint64_t step);
/* Publishes w as the job's output name (w is freed). */
void io_end(struct io_stream *st, struct blob_writer *w, const char *name);
/* The same, for an output the producer put in the resident cache (without a hash) first:
 * once published, its hash goes to resident_published, which makes the entry durable. */
void io_end_resident(struct io_stream *st, struct blob_writer *w, const char *name);
/* Stores the array owned (malloc'd, freed) as output name. */
void io_put(struct io_stream *st, const char *name, enum npy_dtype dtype, int ndim, const uint64_t *shape,
            void *owned);
/* blob_writer_close (a resumable file is kept) or, with discard, blob_writer_abort. */
void io_close(struct io_stream *st, struct blob_writer *w, bool discard);

#endif
