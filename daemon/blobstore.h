/* SPDX-License-Identifier: MIT */
/* Content-addressed blob store: every input and output is an .npy file named by the
 * chunk-tree address (num/blob_tree.h, docs/storage.md "Blob addresses") of its bytes, in
 * lowercase hex, under <state>/blobs/<h[0:2]>/<hash>.npy, with the leaves of its tree
 * beside it in <hash>.chunks (32 bytes a leaf, in order), so that any chunk can be
 * verified alone. Files are written to a temporary name and renamed, the sidecar first,
 * so a blob that exists is complete. The daemon never opens a path a client names;
 * clients upload through the socket. */
#ifndef DASHI_BLOBSTORE_H
#define DASHI_BLOBSTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "errors.h"
#include "npy.h"
#include "wire.h"

/* An address a blob had before migration 006 (one BLAKE2b-256 stream) and its address now. */
struct blob_alias {
    char old[DASHI_HASH_HEX + 1];
    char new[DASHI_HASH_HEX + 1];
};

struct blob_hashing;
struct blobstore {
    char dir[4096]; /* <state>/blobs */
    uint64_t reserve_bytes; /* free bytes no write may take (config disk_reserve_bytes; 0: none) */
    struct blob_hashing *hashing; /* the hashing threads (hash_threads); NULL: serial */
    struct blob_alias *aliases;   /* sorted by old; fixed once the daemon has started */
    size_t naliases;
};

/* Metadata computed when a blob is stored. */
struct blob_meta {
    char hash[DASHI_HASH_HEX + 1];
    struct npy_info info;
    uint64_t size;    /* file bytes */
    bool all_finite;  /* float dtypes: no NaN/Inf; always true for integer dtypes */
};

int blobstore_open(struct blobstore *bs, const char *state_dir, struct dashi_error *err);
/* Starts threads hashing threads (1: none, hashing stays serial); blobstore_close stops them. */
int blobstore_start_hashing(struct blobstore *bs, int threads, struct dashi_error *err);
/* Takes aliases (malloc'd, n of them, any order) as the old names the store answers to;
 * before any other thread uses the store. */
int blobstore_set_aliases(struct blobstore *bs, struct blob_alias *aliases, size_t n);
/* The address an old name stands for, or hash itself. */
const char *blobstore_resolve(const struct blobstore *bs, const char *hash);
void blobstore_close(struct blobstore *bs); /* the hashing threads and the aliases; idempotent */

/* Streaming upload: begin with the total size (<= max_size, else E_TOO_LARGE), write
 * chunks strictly in order (offset must equal bytes written so far, else E_BAD_VALUE
 * "offset"), end to verify the npy header/size, compute the hash and metadata and
 * publish the file. abort removes the temporary file. */
struct blob_upload;
int blob_upload_begin(struct blobstore *bs, uint64_t size, uint64_t max_size, struct blob_upload **up,
                      struct dashi_error *err);
int blob_upload_write(struct blob_upload *up, uint64_t offset, const void *data, size_t n,
                      struct dashi_error *err);
int blob_upload_end(struct blob_upload *up, struct blob_meta *meta, struct dashi_error *err); /* frees up */
void blob_upload_abort(struct blob_upload *up);                                             /* frees up */

/* Stores an array produced by a job (header built here). */
int blobstore_put_array(struct blobstore *bs, enum npy_dtype dtype, int ndim, const uint64_t *shape,
                        const void *data, struct blob_meta *meta, struct dashi_error *err);

/* Streaming writer for outputs too large to hold in memory (e.g. a trajectory written
 * in chunks): shape known up front, data appended in order, exactly nbytes in total. */
struct blob_writer;
int blob_writer_begin(struct blobstore *bs, enum npy_dtype dtype, int ndim, const uint64_t *shape,
                      struct blob_writer **w, struct dashi_error *err);
int blob_writer_append(struct blob_writer *w, const void *data, size_t n, struct dashi_error *err);
int blob_writer_end(struct blob_writer *w, struct blob_meta *meta, struct dashi_error *err); /* frees w */
void blob_writer_abort(struct blob_writer *w);
/* A writer whose file survives this process, for an output a resumed job continues:
 * <blobs>/tmp/part-<name> (name: letters, digits, '-', '_'). keep is how many bytes of
 * data (after the header) to keep from a file an earlier run left; 0 starts afresh.
 * The kept bytes are read back once, to restart the hash and the finite scan, so a
 * resumed output is hashed exactly as if written in one go. E_NOT_FOUND when there is
 * no such file, its header differs or it holds fewer than keep bytes (start afresh). */
int blob_writer_resume(struct blobstore *bs, const char *name, enum npy_dtype dtype, int ndim,
                       const uint64_t *shape, uint64_t keep, struct blob_writer **w, struct dashi_error *err);
/* Makes the bytes appended so far durable: before a checkpoint that counts on them is recorded. */
int blob_writer_sync(struct blob_writer *w, struct dashi_error *err);
/* Closes without publishing and, unlike abort, keeps the file of a resumable writer. */
void blob_writer_close(struct blob_writer *w);
/* Deletes a stored blob (gc: the caller checked that nothing refers to it) with whatever
 * the store keeps beside it. 0 also when it was already absent. */
int blobstore_remove(const struct blobstore *bs, const char *hash, struct dashi_error *err);
/* Removes the files of resumable writers whose name starts with prefix. */
void blobstore_remove_partials(const struct blobstore *bs, const char *prefix);

/* Writes <hash>.chunks for a blob of size bytes from its leaves, durably, after checking
 * that they give the address hash (migration and fsck's repair; publishing does it too). */
int blobstore_write_sidecar(const struct blobstore *bs, const char *hash, uint64_t size, const uint8_t *leaves,
                            uint64_t nleaves, struct dashi_error *err);
/* 0 when <hash>.chunks holds the leaves of a blob of size bytes that give the address
 * hash; E_CORRUPT when it is missing, of the wrong length or does not match. */
int blobstore_check_sidecar(const struct blobstore *bs, const char *hash, uint64_t size, struct dashi_error *err);

/* Migration 006 (store_readdress.c): a blob stored under its old name (BLAKE2b-256 of
 * the file) gets its sidecar and a hard link under its address (meta, from one pass over
 * the file that also checks the old name; E_CORRUPT when it matches neither). Redoing it
 * after a crash is harmless. A file already under its address only gets its sidecar.
 * unlink_old removes the old name once the database no longer uses it. */
bool blobstore_has_sidecar(const struct blobstore *bs, const char *hash);
int blobstore_readdress(const struct blobstore *bs, const char *old, struct blob_meta *meta, struct dashi_error *err);
int blobstore_unlink_old(const struct blobstore *bs, const char *old, struct dashi_error *err);

/* Reading. The name of a blob is the address of its bytes, and every read checks it:
 * a file whose bytes, size or header do not match its name, a symlink (at the file or its
 * blobs/XX/ shard), or anything but a regular file under a blob's name is refused with
 * E_CORRUPT, never followed or served as valid. E_NOT_FOUND when absent. */
bool blobstore_exists(const struct blobstore *bs, const char *hash); /* a regular file, not followed */
bool blobstore_is_hash(const char *name);                             /* 64 lowercase hex digits */
int blobstore_path(const struct blobstore *bs, const char *hash, char *out, size_t cap);
/* Metadata of a stored blob, from the whole file streamed through the tree hash (header
 * parsed, size checked, data scanned for NaN/Inf). Old names (aliases) resolve here and
 * in every read below. */
int blobstore_meta(const struct blobstore *bs, const char *hash, struct blob_meta *meta, struct dashi_error *err);
/* Loads a whole blob, verified as it is read (*data malloc'd, the caller frees). Errors
 * name `input` (the job argument that refers to the blob) as their field. */
int blobstore_load(const struct blobstore *bs, const char *input, const char *hash, struct npy_info *info,
                   void **data, struct dashi_error *err);
/* Reads up to len bytes at offset into buf; *n = bytes read, *total = file size. The
 * whole chunks covering the range are read and checked against their leaves (the sidecar,
 * itself checked against the name) before any byte is copied: a damaged chunk is
 * E_CORRUPT naming it, and buf then holds nothing valid. */
int blobstore_read(const struct blobstore *bs, const char *hash, uint64_t offset, void *buf, size_t len,
                   size_t *n, uint64_t *total, struct dashi_error *err);

/* A blob kept open for reads at offsets (a job reading frames of a trajectory in its own
 * order), verified lazily: the sidecar against the name and chunk 0 (the header) at open,
 * every other chunk whole on its first read (E_CORRUPT naming the chunk, nothing of it
 * returned). Reads fail with E_CORRUPT if the file was modified (size or mtime) since it
 * was opened. meta holds the hash, header and size; all_finite is not scanned (false). */
struct blob_reader {
    int fd;
    struct stat verified;
    struct blob_meta meta;
    char hash[DASHI_HASH_HEX + 1];
    char input[32];
    uint8_t *leaves; /* from the sidecar, nleaves of them */
    uint64_t nleaves;
    uint8_t *checked; /* a bit per chunk: verified already */
    uint8_t *chunk;   /* one chunk, read and checked before it is copied out */
};
int blob_reader_open(const struct blobstore *bs, const char *input, const char *hash, struct blob_reader *r,
                     struct dashi_error *err);
/* Exactly len bytes at offset, or an error. */
int blob_reader_read(const struct blob_reader *r, uint64_t offset, void *buf, size_t len, struct dashi_error *err);
void blob_reader_close(struct blob_reader *r); /* idempotent */

#endif
