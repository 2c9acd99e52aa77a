/* SPDX-License-Identifier: MIT */
/* The chunk-tree blob address (blob_tree.h, docs/storage.md "Blob addresses"): leaves
 * hashed serially as bytes stream in, or in parallel over a buffer by a small pool. */
#include "blob_tree.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { LEAF_TAG = 0x00, ROOT_TAG = 0x01 };

static void le64(uint8_t out[8], uint64_t v)
{
    for (int i = 0; i < 8; i++)
        out[i] = (uint8_t)(v >> (8 * i));
}

uint64_t blob_tree_leaf_count(uint64_t size, uint64_t chunk)
{
    return size == 0 ? 1 : size / chunk + (size % chunk != 0);
}

static void leaf_begin(crypto_generichash_state *st, uint64_t index)
{
    uint8_t prefix[9] = {LEAF_TAG};
    le64(prefix + 1, index);
    crypto_generichash_init(st, NULL, 0, BLOB_TREE_HASH);
    crypto_generichash_update(st, prefix, sizeof prefix);
}

void blob_tree_leaf(uint64_t index, const void *data, size_t n, uint8_t out[BLOB_TREE_HASH])
{
    crypto_generichash_state st;
    leaf_begin(&st, index);
    crypto_generichash_update(&st, data, n);
    crypto_generichash_final(&st, out, BLOB_TREE_HASH);
}

void blob_tree_root(uint64_t size, uint64_t chunk, const uint8_t *leaves, uint64_t nleaves,
                    uint8_t out[BLOB_TREE_HASH])
{
    uint8_t prefix[18] = {ROOT_TAG, BLOB_TREE_VERSION};
    le64(prefix + 2, size);
    le64(prefix + 10, chunk);
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, BLOB_TREE_HASH);
    crypto_generichash_update(&st, prefix, sizeof prefix);
    crypto_generichash_update(&st, leaves, (unsigned long long)(nleaves * BLOB_TREE_HASH));
    crypto_generichash_final(&st, out, BLOB_TREE_HASH);
}

/* ---- streaming ---- */

int blob_tree_stream_init(struct blob_tree_stream *s, uint64_t chunk)
{
    s->leaves = NULL;
    if (chunk == 0)
        return -1;
    s->chunk = chunk;
    s->fed = 0;
    s->in_leaf = 0;
    s->nleaves = 0;
    s->cap = 16;
    s->leaves = malloc(s->cap * BLOB_TREE_HASH);
    if (!s->leaves)
        return -1;
    leaf_begin(&s->leaf, 0);
    return 0;
}

static int push_leaf(struct blob_tree_stream *s)
{
    if (s->nleaves == s->cap) {
        uint8_t *grown = realloc(s->leaves, 2 * s->cap * BLOB_TREE_HASH);
        if (!grown)
            return -1;
        s->leaves = grown;
        s->cap *= 2;
    }
    crypto_generichash_final(&s->leaf, s->leaves + s->nleaves * BLOB_TREE_HASH, BLOB_TREE_HASH);
    s->nleaves++;
    s->in_leaf = 0;
    return 0;
}

int blob_tree_stream_update(struct blob_tree_stream *s, const void *data, size_t n)
{
    const uint8_t *p = data;
    while (n > 0) {
        if (s->in_leaf == s->chunk) { /* a full chunk is closed only when more bytes follow */
            if (push_leaf(s) < 0)
                return -1;
            leaf_begin(&s->leaf, s->nleaves);
        }
        size_t take = s->chunk - s->in_leaf < n ? (size_t)(s->chunk - s->in_leaf) : n;
        crypto_generichash_update(&s->leaf, p, take);
        s->in_leaf += take;
        s->fed += take;
        p += take;
        n -= take;
    }
    return 0;
}

static int reserve_leaves(struct blob_tree_stream *s, uint64_t more)
{
    uint64_t cap = s->cap;
    while (cap < s->nleaves + more)
        cap *= 2;
    if (cap == s->cap)
        return 0;
    uint8_t *grown = realloc(s->leaves, cap * BLOB_TREE_HASH);
    if (!grown)
        return -1;
    s->leaves = grown;
    s->cap = cap;
    return 0;
}

int blob_tree_stream_update_pool(struct blob_tree_stream *s, struct blob_tree_pool *pool, const void *data,
                                 size_t n)
{
    const uint8_t *p = data;
    size_t head = s->in_leaf < s->chunk ? (size_t)(s->chunk - s->in_leaf) : 0; /* completes the open chunk */
    if (head >= n || n - head <= s->chunk || blob_tree_pool_threads(pool) == 1)
        return blob_tree_stream_update(s, data, n);
    if (blob_tree_stream_update(s, p, head) < 0)
        return -1;
    p += head;
    n -= head;
    /* Whole chunks with at least one byte after them go to the pool (a chunk is closed only
     * when more bytes follow, as in update); the rest opens the next leaf. */
    uint64_t whole = (n - 1) / s->chunk;
    if (push_leaf(s) < 0 || reserve_leaves(s, whole) < 0)
        return -1;
    blob_tree_pool_leaves(pool, p, whole * s->chunk, s->chunk, s->nleaves, s->leaves + s->nleaves * BLOB_TREE_HASH);
    s->nleaves += whole;
    s->fed += whole * s->chunk;
    p += whole * s->chunk;
    n -= (size_t)(whole * s->chunk);
    leaf_begin(&s->leaf, s->nleaves);
    return blob_tree_stream_update(s, p, n);
}

int blob_tree_stream_final(struct blob_tree_stream *s, uint8_t root[BLOB_TREE_HASH])
{
    if (push_leaf(s) < 0) /* the last chunk (an empty one for an empty blob) */
        return -1;
    blob_tree_root(s->fed, s->chunk, s->leaves, s->nleaves, root);
    return 0;
}

void blob_tree_stream_free(struct blob_tree_stream *s)
{
    free(s->leaves);
    s->leaves = NULL;
}

/* ---- the pool ---- */

/* One batch of chunks at a time: workers and the caller take the next chunk index from
 * `next` under the lock (a chunk is 4 MiB of hashing, so the lock is never contended),
 * and the caller waits until `done` reaches the count. */
struct blob_tree_pool {
    pthread_mutex_t lock;
    pthread_cond_t work, finished;
    int threads; /* including the caller */
    int started; /* workers created */
    bool stopping;
    uint64_t batch; /* increases with each call: a worker takes part once per batch */
    const uint8_t *data;
    uint64_t size, chunk, first, count, next, done;
    uint8_t *leaves;
    pthread_t workers[BLOB_TREE_MAX_THREADS];
};

int blob_tree_threads(int configured)
{
    long n = configured > 0 ? configured : sysconf(_SC_NPROCESSORS_ONLN);
    if (configured <= 0 && n > 8)
        n = 8;
    return n < 1 ? 1 : n > BLOB_TREE_MAX_THREADS ? BLOB_TREE_MAX_THREADS : (int)n;
}

/* Hashes chunks of the current batch until none is left; called with the lock held. */
static void take_chunks(struct blob_tree_pool *p)
{
    while (p->next < p->count) {
        uint64_t i = p->next++;
        uint64_t off = i * p->chunk;
        size_t n = p->size - off < p->chunk ? (size_t)(p->size - off) : (size_t)p->chunk;
        const uint8_t *data = p->data + off;
        uint8_t *out = p->leaves + i * BLOB_TREE_HASH;
        pthread_mutex_unlock(&p->lock);
        blob_tree_leaf(p->first + i, data, n, out);
        pthread_mutex_lock(&p->lock);
        if (++p->done == p->count)
            pthread_cond_signal(&p->finished);
    }
}

static void *worker_main(void *arg)
{
    struct blob_tree_pool *p = arg;
    uint64_t seen = 0;
    pthread_mutex_lock(&p->lock);
    for (;;) {
        while (!p->stopping && p->batch == seen)
            pthread_cond_wait(&p->work, &p->lock);
        if (p->stopping)
            break;
        seen = p->batch;
        take_chunks(p);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

struct blob_tree_pool *blob_tree_pool_new(int threads)
{
    struct blob_tree_pool *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->threads = threads < 1 ? 1 : threads > BLOB_TREE_MAX_THREADS ? BLOB_TREE_MAX_THREADS : threads;
    if (pthread_mutex_init(&p->lock, NULL) != 0) {
        free(p);
        return NULL;
    }
    if (pthread_cond_init(&p->work, NULL) != 0 || pthread_cond_init(&p->finished, NULL) != 0) {
        pthread_mutex_destroy(&p->lock);
        free(p);
        return NULL;
    }
    for (; p->started < p->threads - 1; p->started++)
        if (pthread_create(&p->workers[p->started], NULL, worker_main, p) != 0) {
            blob_tree_pool_free(p);
            return NULL;
        }
    return p;
}

void blob_tree_pool_free(struct blob_tree_pool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->lock);
    p->stopping = true;
    pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->lock);
    for (int i = 0; i < p->started; i++)
        pthread_join(p->workers[i], NULL);
    pthread_cond_destroy(&p->work);
    pthread_cond_destroy(&p->finished);
    pthread_mutex_destroy(&p->lock);
    free(p);
}

int blob_tree_pool_threads(const struct blob_tree_pool *p)
{
    return p ? p->threads : 1;
}

void blob_tree_pool_leaves(struct blob_tree_pool *p, const void *data, uint64_t size, uint64_t chunk,
                           uint64_t first, uint8_t *leaves)
{
    uint64_t count = blob_tree_leaf_count(size, chunk);
    if (!p || p->threads == 1 || count == 1) {
        for (uint64_t i = 0; i < count; i++) {
            uint64_t off = i * chunk;
            size_t n = size - off < chunk ? (size_t)(size - off) : (size_t)chunk;
            blob_tree_leaf(first + i, (const uint8_t *)data + off, n, leaves + i * BLOB_TREE_HASH);
        }
        return;
    }
    pthread_mutex_lock(&p->lock);
    p->data = data;
    p->size = size;
    p->chunk = chunk;
    p->first = first;
    p->count = count;
    p->next = 0;
    p->done = 0;
    p->leaves = leaves;
    p->batch++;
    pthread_cond_broadcast(&p->work);
    take_chunks(p);
    while (p->done < p->count)
        pthread_cond_wait(&p->finished, &p->lock);
    pthread_mutex_unlock(&p->lock);
}

int blob_tree_hash(struct blob_tree_pool *p, const void *data, uint64_t size, uint64_t chunk,
                   uint8_t root[BLOB_TREE_HASH])
{
    uint64_t count = blob_tree_leaf_count(size, chunk);
    uint8_t *leaves = malloc(count * BLOB_TREE_HASH);
    if (!leaves)
        return -1;
    blob_tree_pool_leaves(p, data, size, chunk, 0, leaves);
    blob_tree_root(size, chunk, leaves, count, root);
    free(leaves);
    return 0;
}
