/* SPDX-License-Identifier: MIT */
/* The I/O thread, its request queue and the staging pool (io_worker.h). */
#include "io_worker.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum io_op {
    IO_APPEND,     /* data, n -> w */
    IO_RELEASE,    /* buf back to the pool */
    IO_CHECKPOINT, /* sync writers, store owned, report it */
    IO_END,        /* publish w as output name */
    IO_PUT,        /* store owned as output name */
    IO_CLOSE,      /* close (or, discard, abort) w */
    IO_FINISH,     /* the job's end: post batch and ended, free the stream */
    IO_EXIT,       /* post MSG_WORKER_EXIT and stop */
};

#define IO_MAX_SYNC 4

struct io_req {
    enum io_op op;
    struct io_stream *st;
    struct blob_writer *w;
    const void *data;
    size_t n;
    void *owned;              /* freed after the request */
    struct io_buf *buf;
    bool discard;
    bool resident;            /* IO_END: report the published hash to the resident cache */
    struct blob_writer *sync[IO_MAX_SYNC];
    enum npy_dtype dtype;
    int ndim;
    uint64_t shape[4];
    uint64_t step;
    char name[48];            /* output name, or the partials prefix of IO_FINISH */
    struct job_msg *batch, *ended;
    struct io_req *next;
};

/* A staging buffer. With a Vulkan runtime its bytes are host-visible device memory
 * (vk_buffer_alloc VK_MEM_HOST: HOST_CACHED where the device has it, else COHERENT), so
 * the GPU copies results straight into what the I/O thread hashes and writes; without
 * one, or when such memory cannot be had, they follow the header (malloc). Only the GPU
 * thread allocates and frees Vulkan memory: the I/O thread retires what it would free. */
struct io_buf {
    struct io_stream *owner; /* NULL while free */
    size_t size;
    struct io_buf *next;     /* the free list, the retired list, or the owner's list */
    void *data;              /* vkb.mapped or inline_data */
    struct vk_buffer vkb;    /* block -1: malloc'd */
    max_align_t inline_data[];
};

struct io_stream {
    struct io_worker *w;
    int64_t job;
    struct resident *resident; /* where io_end_resident reports: the job's device's cache */
    bool used;                 /* GPU thread */
    /* under w->mu */
    uint64_t held;
    bool wanting, counted;
    uint64_t want_gen;
    struct io_buf *bufs;       /* held */
    bool failed;
    struct dashi_error error;
    /* I/O thread */
    struct { char name[32]; struct blob_meta meta; } outputs[MSG_MAX_OUTPUTS];
    int noutputs;
};

static void *must_alloc(size_t n)
{
    void *p = calloc(1, n);
    if (!p) {
        fprintf(stderr, "dashid: out of memory for an I/O request\n");
        abort(); /* like a lost report: better a clear stop than silently missing bytes */
    }
    return p;
}

/* ---- the pool (callers hold w->mu) ---- */

/* streams_using counts the streams that hold or want staging: their shares. */
static void recount(struct io_stream *st)
{
    bool using = st->held > 0 || st->wanting;
    if (using != st->counted)
        st->w->streams_using += using ? 1 : -1;
    st->counted = using;
}

/* GPU thread (or the loop thread once it is gone): Vulkan memory is freed only there. */
static void buffer_free(struct io_worker *w, struct io_buf *b)
{
    if (b->vkb.block >= 0)
        vk_buffer_free(w->vk, &b->vkb);
    free(b);
}

static void free_list(struct io_worker *w, struct io_buf *b)
{
    while (b) {
        struct io_buf *next = b->next;
        buffer_free(w, b);
        b = next;
    }
}

/* Host-visible Vulkan memory when there is a runtime, else (or when it has none to
 * give) host memory: a buffer the GPU cannot copy into only costs the kind a copy. */
static struct io_buf *buffer_new(struct io_worker *w, size_t bytes)
{
    struct io_buf *b;
    if (w->vk && (b = calloc(1, sizeof *b))) {
        struct dashi_error err;
        if (vk_buffer_alloc(w->vk, bytes, VK_MEM_HOST, &b->vkb, &err) == 0) {
            b->size = bytes;
            b->data = b->vkb.mapped;
            return b;
        }
        free(b);
    }
    b = malloc(sizeof *b + bytes);
    if (b) {
        memset(b, 0, sizeof *b);
        b->vkb.block = -1;
        b->size = bytes;
        b->data = b->inline_data;
    }
    return b;
}

static void drop_cache_for(struct io_worker *w, uint64_t room)
{
    while (w->free_bufs && w->staging_held + w->staging_cached + room > w->staging_total) {
        struct io_buf *b = w->free_bufs;
        w->free_bufs = b->next;
        w->staging_cached -= b->size;
        buffer_free(w, b);
    }
}

/* A cached buffer of at least bytes and less than twice that, else a new one. */
static struct io_buf *take_buffer(struct io_worker *w, size_t bytes)
{
    for (struct io_buf **p = &w->free_bufs; *p; p = &(*p)->next)
        if ((*p)->size >= bytes && (*p)->size / 2 < bytes) {
            struct io_buf *b = *p;
            *p = b->next;
            w->staging_cached -= b->size;
            return b;
        }
    drop_cache_for(w, bytes);
    return buffer_new(w, bytes);
}

struct io_buf *io_staging_get(struct io_stream *st, size_t bytes)
{
    struct io_worker *w = st->w;
    uv_mutex_lock(&w->mu);
    struct io_buf *retired = w->retired;
    w->retired = NULL;
    unsigned others = w->streams_using - (st->counted ? 1 : 0);
    uint64_t share = others ? w->staging_total / 2 : w->staging_total;
    bool fits = st->held + bytes <= share && w->staging_held + bytes <= w->staging_total;
    bool alone = st->held == 0 && w->staging_held == 0; /* progress even over the bound */
    struct io_buf *b = fits || alone ? take_buffer(w, bytes) : NULL;
    if (b) {
        b->owner = st;
        b->next = st->bufs;
        st->bufs = b;
        st->held += b->size;
        w->staging_held += b->size;
        st->wanting = false;
    } else {
        st->wanting = true;
        st->want_gen = atomic_load(&w->released);
    }
    recount(st);
    uv_mutex_unlock(&w->mu);
    free_list(w, retired);
    return b;
}

void *io_buf_data(struct io_buf *b) { return b->data; }

const struct vk_buffer *io_buf_vk(const struct io_buf *b) { return b->vkb.block >= 0 ? &b->vkb : NULL; }

void io_staging_drop(struct io_worker *w)
{
    uv_mutex_lock(&w->mu);
    while (w->staging_held > 0)
        uv_cond_wait(&w->returned, &w->mu);
    struct io_buf *cached = w->free_bufs, *retired = w->retired;
    w->free_bufs = w->retired = NULL;
    w->staging_cached = 0;
    uv_mutex_unlock(&w->mu);
    free_list(w, cached);
    free_list(w, retired);
}

size_t io_staging_target(const struct io_stream *st) { return (size_t)(st->w->staging_total / 4); }

/* Returns b to the free list (w->mu held). */
static void give_back(struct io_worker *w, struct io_buf *b)
{
    struct io_stream *st = b->owner;
    for (struct io_buf **p = &st->bufs; *p; p = &(*p)->next)
        if (*p == b) {
            *p = b->next;
            break;
        }
    st->held -= b->size;
    w->staging_held -= b->size;
    recount(st);
    b->owner = NULL;
    if (w->staging_held + w->staging_cached + b->size <= w->staging_total) {
        b->next = w->free_bufs;
        w->free_bufs = b;
        w->staging_cached += b->size;
    } else { /* the oversize buffer of a job alone: the GPU thread frees it */
        b->next = w->retired;
        w->retired = b;
    }
    uv_cond_broadcast(&w->returned);
}

/* Staging was freed: a job waiting for it may run (scheduler_next watches `released`). */
static void staging_freed(struct io_worker *w)
{
    atomic_fetch_add(&w->released, 1);
    scheduler_wake(w->sched);
}

/* ---- requests (GPU thread) ---- */

static struct io_req *req_new(struct io_stream *st, enum io_op op)
{
    struct io_req *r = must_alloc(sizeof *r);
    r->op = op;
    r->st = st;
    if (st)
        st->used = true;
    return r;
}

static void enqueue(struct io_worker *w, struct io_req *r)
{
    uv_mutex_lock(&w->mu);
    if (w->tail)
        w->tail->next = r;
    else
        w->head = r;
    w->tail = r;
    uv_cond_signal(&w->cv);
    uv_mutex_unlock(&w->mu);
}

void io_append(struct io_stream *st, struct blob_writer *w, const void *data, size_t n)
{
    struct io_req *r = req_new(st, IO_APPEND);
    r->w = w;
    r->data = data;
    r->n = n;
    enqueue(st->w, r);
}

void io_append_owned(struct io_stream *st, struct blob_writer *w, void *owned, size_t n)
{
    struct io_req *r = req_new(st, IO_APPEND);
    r->w = w;
    r->data = r->owned = owned;
    r->n = n;
    enqueue(st->w, r);
}

void io_release(struct io_stream *st, struct io_buf *b)
{
    struct io_req *r = req_new(st, IO_RELEASE);
    r->buf = b;
    enqueue(st->w, r);
}

static void set_array(struct io_req *r, enum npy_dtype dtype, int ndim, const uint64_t *shape, void *owned)
{
    r->dtype = dtype;
    r->ndim = ndim < 4 ? ndim : 4;
    memcpy(r->shape, shape, (size_t)r->ndim * sizeof *shape);
    r->owned = owned;
}

void io_checkpoint(struct io_stream *st, struct blob_writer *const *writers, int nwriters, enum npy_dtype dtype,
                   int ndim, const uint64_t *shape, void *owned, uint64_t step)
{
    struct io_req *r = req_new(st, IO_CHECKPOINT);
    for (int i = 0; i < nwriters && i < IO_MAX_SYNC; i++)
        r->sync[i] = writers[i];
    set_array(r, dtype, ndim, shape, owned);
    r->step = step;
    enqueue(st->w, r);
}

static void end_request(struct io_stream *st, struct blob_writer *w, const char *name, bool resident)
{
    struct io_req *r = req_new(st, IO_END);
    r->w = w;
    r->resident = resident;
    snprintf(r->name, sizeof r->name, "%s", name);
    enqueue(st->w, r);
}

void io_end(struct io_stream *st, struct blob_writer *w, const char *name) { end_request(st, w, name, false); }

void io_end_resident(struct io_stream *st, struct blob_writer *w, const char *name)
{
    end_request(st, w, name, true);
}

void io_put(struct io_stream *st, const char *name, enum npy_dtype dtype, int ndim, const uint64_t *shape,
            void *owned)
{
    struct io_req *r = req_new(st, IO_PUT);
    set_array(r, dtype, ndim, shape, owned);
    snprintf(r->name, sizeof r->name, "%s", name);
    enqueue(st->w, r);
}

void io_close(struct io_stream *st, struct blob_writer *w, bool discard)
{
    if (!w)
        return;
    struct io_req *r = req_new(st, IO_CLOSE);
    r->w = w;
    r->discard = discard;
    enqueue(st->w, r);
}

/* ---- streams ---- */

struct io_stream *io_stream_new(struct io_worker *w, int64_t job, struct resident *resident)
{
    struct io_stream *st = calloc(1, sizeof *st);
    if (st) {
        st->w = w;
        st->job = job;
        st->resident = resident;
    }
    return st;
}

bool io_stream_used(const struct io_stream *st) { return st->used; }

int io_stream_error(struct io_stream *st, struct dashi_error *err)
{
    uv_mutex_lock(&st->w->mu);
    bool failed = st->failed;
    if (failed)
        *err = st->error;
    uv_mutex_unlock(&st->w->mu);
    return failed ? -1 : 0;
}

bool io_stream_waiting(struct io_stream *st, uint64_t *gen)
{
    uv_mutex_lock(&st->w->mu);
    bool waiting = st->wanting;
    *gen = st->want_gen;
    uv_mutex_unlock(&st->w->mu);
    return waiting;
}

void io_stream_finish(struct io_stream *st, struct job_msg *batch, struct job_msg *ended, const char *prefix)
{
    struct io_req *r = req_new(st, IO_FINISH);
    r->batch = batch;
    r->ended = ended;
    snprintf(r->name, sizeof r->name, "%s", prefix);
    enqueue(st->w, r);
}

void io_stream_free(struct io_stream *st)
{
    if (!st)
        return;
    struct io_worker *w = st->w;
    uv_mutex_lock(&w->mu);
    bool freed = st->bufs != NULL;
    while (st->bufs)
        give_back(w, st->bufs);
    st->wanting = false;
    recount(st);
    uv_mutex_unlock(&w->mu);
    if (freed)
        staging_freed(w);
    free(st);
}

/* ---- the I/O thread ---- */

static bool stream_failed(struct io_stream *st)
{
    uv_mutex_lock(&st->w->mu);
    bool failed = st->failed;
    uv_mutex_unlock(&st->w->mu);
    return failed;
}

static void stream_fail(struct io_stream *st, const struct dashi_error *err)
{
    uv_mutex_lock(&st->w->mu);
    if (!st->failed) {
        st->failed = true;
        st->error = *err;
    }
    uv_mutex_unlock(&st->w->mu);
    fprintf(stderr, "dashid: job %lld: writing its outputs failed: %s: %s\n", (long long)st->job,
            dashi_code_name(err->code), err->message);
}

static void post(struct io_worker *w, struct job_msg *m)
{
    scheduler_post(w->sched, m);
    uv_async_send(w->wake);
}

static void fault_delay(const struct io_worker *w)
{
    if (!w->delay_ms)
        return;
    struct timespec ts = {.tv_sec = w->delay_ms / 1000, .tv_nsec = (long)(w->delay_ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void add_output(struct io_stream *st, const char *name, const struct blob_meta *meta)
{
    if (st->noutputs == MSG_MAX_OUTPUTS) {
        fprintf(stderr, "dashid: job %lld reports more than %d outputs; '%s' dropped\n", (long long)st->job,
                MSG_MAX_OUTPUTS, name);
        return;
    }
    snprintf(st->outputs[st->noutputs].name, sizeof st->outputs[0].name, "%s", name);
    st->outputs[st->noutputs++].meta = *meta;
}

static int run_checkpoint(struct io_worker *w, const struct io_req *r, struct dashi_error *err)
{
    for (int i = 0; i < IO_MAX_SYNC; i++)
        if (r->sync[i] && blob_writer_sync(r->sync[i], err) != 0)
            return -1;
    struct blob_meta meta;
    if (blobstore_put_array(w->blobs, r->dtype, r->ndim, r->shape, r->owned, &meta, err) != 0)
        return -1;
    struct job_msg *m = must_alloc(sizeof *m);
    m->type = MSG_SLICE;
    m->job = r->st->job;
    snprintf(m->checkpoint, sizeof m->checkpoint, "%s", meta.hash);
    m->checkpoint_step = r->step;
    post(w, m);
    return 0;
}

/* The job's end: its outputs join ended (or its failure replaces a success). */
static void run_finish(struct io_worker *w, struct io_req *r)
{
    struct io_stream *st = r->st;
    struct job_msg *m = r->ended;
    struct dashi_error err;
    if (io_stream_error(st, &err) != 0 && m->state == JOB_SUCCEEDED) {
        m->state = JOB_FAILED;
        m->error = err;
    }
    if (m->state == JOB_SUCCEEDED)
        for (int i = 0; i < st->noutputs && m->noutputs < MSG_MAX_OUTPUTS; i++) {
            memcpy(m->outputs[m->noutputs].name, st->outputs[i].name, sizeof m->outputs[0].name);
            m->outputs[m->noutputs++].meta = st->outputs[i].meta;
        }
    if (m->state != JOB_INTERRUPTED) /* only an interrupted job continues its partial files */
        blobstore_remove_partials(w->blobs, r->name);
    if (r->batch)
        post(w, r->batch);
    post(w, m);
    io_stream_free(st);
}

/* Runs r; false for IO_EXIT. */
static bool run_request(struct io_worker *w, struct io_req *r)
{
    struct dashi_error err;
    dashi_error_clear(&err);
    struct io_stream *st = r->st;
    struct blob_meta meta;
    switch (r->op) {
    case IO_APPEND:
        fault_delay(w);
        if (!stream_failed(st) && blob_writer_append(r->w, r->data, r->n, &err) != 0)
            stream_fail(st, &err);
        break;
    case IO_RELEASE:
        uv_mutex_lock(&w->mu);
        give_back(w, r->buf);
        uv_mutex_unlock(&w->mu);
        staging_freed(w);
        break;
    case IO_CHECKPOINT:
        if (!stream_failed(st) && run_checkpoint(w, r, &err) != 0)
            stream_fail(st, &err);
        break;
    case IO_END:
        meta.hash[0] = '\0';
        if (stream_failed(st))
            blob_writer_abort(r->w);
        else if (blob_writer_end(r->w, &meta, &err) != 0)
            stream_fail(st, &err);
        else
            add_output(st, r->name, &meta);
        if (r->resident && st->resident) { /* an empty hash (not published) frees the entry */
            resident_published(st->resident, st->job, r->name, stream_failed(st) ? "" : meta.hash);
            scheduler_wake(w->sched); /* admission may now evict or has room again */
        }
        break;
    case IO_PUT:
        if (!stream_failed(st) && blobstore_put_array(w->blobs, r->dtype, r->ndim, r->shape, r->owned, &meta, &err))
            stream_fail(st, &err);
        else if (!stream_failed(st))
            add_output(st, r->name, &meta);
        break;
    case IO_CLOSE:
        if (r->discard)
            blob_writer_abort(r->w);
        else
            blob_writer_close(r->w);
        break;
    case IO_FINISH:
        run_finish(w, r);
        break;
    case IO_EXIT: {
        struct job_msg *m = must_alloc(sizeof *m);
        m->type = MSG_WORKER_EXIT;
        post(w, m);
        return false;
    }
    }
    return true;
}

static void io_main(void *arg)
{
    struct io_worker *w = arg;
    for (bool more = true; more;) {
        uv_mutex_lock(&w->mu);
        while (!w->head)
            uv_cond_wait(&w->cv, &w->mu);
        struct io_req *r = w->head;
        w->head = r->next;
        if (!w->head)
            w->tail = NULL;
        uv_mutex_unlock(&w->mu);
        more = run_request(w, r);
        free(r->owned);
        free(r);
    }
}

/* ---- start and stop ---- */

static int parse_fault(struct io_worker *w, const char *fault, struct dashi_error *err)
{
    if (!fault || !fault[0])
        return 0;
    char *end;
    if (strncmp(fault, "delay_ms:", 9) == 0) {
        unsigned long v = strtoul(fault + 9, &end, 10);
        if (end != fault + 9 && !*end && v <= 60000) {
            w->delay_ms = (unsigned)v;
            return 0;
        }
    }
    return dashi_fail(err, DASHI_E_BAD_VALUE, "DASHI_IO_FAULT",
                      "DASHI_IO_FAULT=\"%s\": expected delay_ms:N (N <= 60000: a sleep before each write)", fault);
}

int io_worker_init(struct io_worker *w, uint64_t staging_bytes, const char *fault, struct scheduler *sched,
                   uv_async_t *wake, struct blobstore *blobs, struct dashi_error *err)
{
    memset(w, 0, sizeof *w);
    if (parse_fault(w, fault, err) != 0)
        return -1;
    if (uv_mutex_init(&w->mu) != 0)
        return dashi_fail(err, DASHI_E_INTERNAL, "", "cannot initialise a mutex");
    if (uv_cond_init(&w->cv) != 0 || uv_cond_init(&w->returned) != 0) {
        uv_mutex_destroy(&w->mu);
        return dashi_fail(err, DASHI_E_INTERNAL, "", "cannot initialise a condition variable");
    }
    atomic_init(&w->released, 0);
    w->staging_total = staging_bytes;
    w->sched = sched;
    w->wake = wake;
    w->blobs = blobs;
    return 0;
}

int io_worker_start(struct io_worker *w)
{
    if (uv_thread_create(&w->thread, io_main, w) != 0)
        return -1;
    w->started = true;
    return 0;
}

void io_worker_request_exit(struct io_worker *w) { enqueue(w, req_new(NULL, IO_EXIT)); }

void io_worker_join(struct io_worker *w)
{
    if (w->started)
        uv_thread_join(&w->thread);
    w->started = false;
}

void io_worker_destroy(struct io_worker *w)
{
    while (w->head) { /* only when the thread never ran */
        struct io_req *r = w->head;
        w->head = r->next;
        if (r->batch)
            job_msg_free(r->batch);
        if (r->ended)
            job_msg_free(r->ended);
        free(r->owned);
        free(r);
    }
    free_list(w, w->free_bufs);
    free_list(w, w->retired);
    w->free_bufs = w->retired = NULL;
    uv_cond_destroy(&w->returned);
    uv_cond_destroy(&w->cv);
    uv_mutex_destroy(&w->mu);
}
