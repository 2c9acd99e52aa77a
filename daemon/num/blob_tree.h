/* SPDX-License-Identifier: MIT */
/* The chunk-tree address of a blob (docs/storage.md "Blob addresses"): the bytes are cut
 * into chunks of BLOB_TREE_CHUNK bytes, each chunk is hashed on its own (a leaf), and the
 * address is the hash of the total size, the chunk size and the leaves (the root):
 *   leaf_i = BLAKE2b-256(0x00 || le64(i) || chunk_i)
 *   root   = BLAKE2b-256(0x01 || 0x01 || le64(size) || le64(C) || leaf_0 || ... || leaf_{n-1})
 * with n = max(1, ceil(size / C)) (an empty blob has one empty leaf). The first byte
 * separates leaves from roots, the second byte of a root is the version of the rule.
 * Chunks are independent, so they hash in parallel (a pool) or as they stream in. */
#ifndef DASHI_BLOB_TREE_H
#define DASHI_BLOB_TREE_H

#include <sodium.h>
#include <stddef.h>
#include <stdint.h>

#define BLOB_TREE_CHUNK ((uint64_t)4 << 20) /* C: 4 MiB */
#define BLOB_TREE_HASH 32                   /* bytes of a leaf or a root */
#define BLOB_TREE_VERSION 1
#define BLOB_TREE_MAX_THREADS 64

/* Every chunk argument below is the chunk size in bytes, > 0 (BLOB_TREE_CHUNK for addresses). */
/* How many leaves a blob of size bytes has with chunks of chunk bytes (at least 1). */
uint64_t blob_tree_leaf_count(uint64_t size, uint64_t chunk);
/* leaf_index's hash of one whole chunk (n bytes; the last chunk may be shorter). */
void blob_tree_leaf(uint64_t index, const void *data, size_t n, uint8_t out[BLOB_TREE_HASH]);
/* The root over nleaves leaf hashes (nleaves * BLOB_TREE_HASH bytes). */
void blob_tree_root(uint64_t size, uint64_t chunk, const uint8_t *leaves, uint64_t nleaves,
                    uint8_t out[BLOB_TREE_HASH]);

/* Bytes fed in order in pieces of any size, leaves hashed as each chunk completes, so
 * finishing costs the last chunk's tail and the root. Holds no globals: one stream per
 * thread, or handed between threads with the caller's own synchronisation. */
struct blob_tree_pool;
struct blob_tree_stream {
    crypto_generichash_state leaf; /* first: libsodium wants it 64-byte aligned */
    uint64_t chunk;   /* C */
    uint64_t fed;     /* bytes so far */
    uint64_t in_leaf; /* bytes of the current chunk so far */
    uint8_t *leaves;  /* the completed leaves, grown as needed */
    uint64_t nleaves, cap;
};
int blob_tree_stream_init(struct blob_tree_stream *s, uint64_t chunk); /* -1: chunk 0 or out of memory */
int blob_tree_stream_update(struct blob_tree_stream *s, const void *data, size_t n); /* -1: out of memory */
/* As update, but the whole chunks inside data are hashed in parallel by pool (NULL:
 * serially): for large appends, so a big blob costs its bytes over the pool's threads. */
int blob_tree_stream_update_pool(struct blob_tree_stream *s, struct blob_tree_pool *pool, const void *data,
                                 size_t n); /* -1: out of memory */
/* The root; the leaves stay readable in s->leaves (s->nleaves) until free. */
int blob_tree_stream_final(struct blob_tree_stream *s, uint8_t root[BLOB_TREE_HASH]);
void blob_tree_stream_free(struct blob_tree_stream *s);

/* A small pool of hashing threads: threads - 1 workers, the calling thread being the
 * last. One call at a time per pool (the caller's own lock if it is shared). */
/* Threads to use for a configured count: 0 means the online CPUs, up to 8; the result
 * is at least 1 and at most BLOB_TREE_MAX_THREADS. */
int blob_tree_threads(int configured);
/* NULL when the threads or memory cannot be had. */
struct blob_tree_pool *blob_tree_pool_new(int threads);
void blob_tree_pool_free(struct blob_tree_pool *p);
int blob_tree_pool_threads(const struct blob_tree_pool *p);
/* The leaves of the chunks of data[0, size) with chunk size chunk, the first one having
 * index first (a piece of a larger blob that starts on a chunk boundary), in parallel:
 * leaves receives blob_tree_leaf_count(size, chunk) hashes. A NULL pool hashes serially. */
void blob_tree_pool_leaves(struct blob_tree_pool *p, const void *data, uint64_t size, uint64_t chunk,
                           uint64_t first, uint8_t *leaves);
/* The address of a whole buffer: its leaves through the pool, then the root. -1: out of memory. */
int blob_tree_hash(struct blob_tree_pool *p, const void *data, uint64_t size, uint64_t chunk,
                   uint8_t root[BLOB_TREE_HASH]);

#endif
