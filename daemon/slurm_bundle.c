/* SPDX-License-Identifier: MIT */
/* Importing a Slurm job's bundle into the job that submitted it (slurm_bundle.h). */
#include "slurm_bundle.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon.h"
#include "import_parse.h"
#include "wire.h"

#define BUNDLE_FORMAT "dashi-bundle/1"
#define BUNDLE_INDEX_MAX (64u << 20)

/* A plain file (never a link) of the bundle, opened for reading; *size its length. */
static int open_plain(const char *path, uint64_t *size, struct dashi_error *err)
{
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    struct stat st;
    if (fd < 0)
        return errno == ENOENT ? -2 : dashi_fail(err, DASHI_E_IO, "bundle", "%s: %s", path, strerror(errno));
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return dashi_fail(err, DASHI_E_CORRUPT, "bundle", "%s is not a plain file", path);
    }
    *size = (uint64_t)st.st_size;
    return fd;
}

/* The index, whole (*data malloc'd). 1 when there is none. */
static int read_index(const char *dir, char **data, size_t *n, struct dashi_error *err)
{
    char path[PATH_MAX];
    uint64_t size;
    if (snprintf(path, sizeof path, "%s/bundle.msgpack", dir) >= (int)sizeof path)
        return dashi_fail(err, DASHI_E_BAD_VALUE, "bundle", "the bundle's path is too long");
    int fd = open_plain(path, &size, err);
    if (fd == -2)
        return 1;
    if (fd < 0)
        return -1;
    *data = size > 0 && size <= BUNDLE_INDEX_MAX ? malloc(size) : NULL;
    ssize_t got = *data ? read(fd, *data, size) : -1;
    close(fd);
    *n = (size_t)size;
    if (got != (ssize_t)size) {
        free(*data);
        *data = NULL;
        return dashi_fail(err, DASHI_E_CORRUPT, "bundle", "%s: not an index of 1 byte to 64 MiB, read whole", path);
    }
    return 0;
}

/* Copies one listed blob file into the store (verified: its address must be its name). */
static int upload_one(struct daemon *d, const char *dir, const char *hash, uint64_t listed, uid_t uid,
                      struct dashi_error *err)
{
    char path[PATH_MAX];
    uint64_t size;
    snprintf(path, sizeof path, "%s/blobs/%s.npy", dir, hash);
    int fd = open_plain(path, &size, err);
    if (fd < 0)
        return fd == -2 ? dashi_fail(err, DASHI_E_NOT_FOUND, "bundle", "%s is listed but missing", path) : -1;
    struct blob_upload *up;
    int rc = size == listed ? blob_upload_begin(&d->blobs, size, d->cfg.max_upload_bytes, &up, err)
                            : dashi_fail(err, DASHI_E_CORRUPT, "bundle", "%s is not of its listed size", path);
    char buf[1 << 16];
    for (uint64_t at = 0; rc == 0 && at < size;) {
        ssize_t k = read(fd, buf, sizeof buf);
        if (k <= 0) {
            blob_upload_abort(up);
            rc = dashi_fail(err, DASHI_E_IO, "bundle", "%s: %s", path, k < 0 ? strerror(errno) : "shorter than listed");
        } else if ((rc = blob_upload_write(up, at, buf, (size_t)k, err)) != 0) {
            blob_upload_abort(up);
        }
        at += k > 0 ? (uint64_t)k : 0;
    }
    close(fd);
    struct blob_meta meta;
    if (rc != 0 || blob_upload_end(up, &meta, err) != 0)
        return -1;
    if (strcmp(meta.hash, hash) != 0)
        return dashi_fail(err, DASHI_E_CORRUPT, "bundle", "%s holds blob %s, not the one its name says", path, meta.hash);
    return store_blob_record(&d->store, &meta, uid, now_seconds(), err);
}

/* Every blob the index lists {HASH: SIZE}, those the store lacks uploaded. */
static int upload_blobs(struct daemon *d, const char *dir, const msgpack_object *idx, uid_t uid,
                        struct dashi_error *err)
{
    const msgpack_object *blobs = args_find(idx, "blobs");
    if (!blobs || blobs->type != MSGPACK_OBJECT_MAP || blobs->via.map.size > IMPORT_BLOBS_MAX)
        return dashi_fail(err, DASHI_E_BAD_VALUE, "blobs", "blobs must map at most %d hashes to sizes",
                          IMPORT_BLOBS_MAX);
    for (uint32_t i = 0; i < blobs->via.map.size; i++) {
        const msgpack_object_kv *kv = &blobs->via.map.ptr[i];
        char hash[DASHI_HASH_HEX + 1];
        struct blob_meta meta;
        if (kv->key.type != MSGPACK_OBJECT_STR || kv->key.via.str.size != DASHI_HASH_HEX ||
            kv->val.type != MSGPACK_OBJECT_POSITIVE_INTEGER)
            return dashi_fail(err, DASHI_E_BAD_VALUE, "blobs", "blobs must map hashes to sizes");
        snprintf(hash, sizeof hash, "%.*s", DASHI_HASH_HEX, kv->key.via.str.ptr);
        if (!blobstore_is_hash(hash))
            return dashi_fail(err, DASHI_E_BAD_VALUE, "blobs", "%s is no blob hash", hash);
        if (store_blob_get(&d->store, hash, &meta, err) == 0 && blobstore_exists(&d->blobs, hash))
            continue; /* stored once, by hash */
        if (upload_one(d, dir, hash, kv->val.via.u64, uid, err) != 0)
            return -1;
    }
    return 0;
}

/* Where it ran and, when Slurm cancelled a job that stopped with its checkpoint, that end. */
static void set_outcome(struct job_import *imp, const msgpack_object *idx, const msgpack_object *rec,
                        const char *dir, const struct slurm_outcome *o)
{
    struct job_origin *or = &imp->origin;
    const msgpack_object *slurm = args_find(idx, "slurm"), *node = slurm ? args_find(slurm, "node") : NULL;
    const msgpack_object *id = args_find(rec, "id");
    snprintf(or->executor, sizeof or->executor, "slurm");
    snprintf(or->imported_from, sizeof or->imported_from, "%s", dir);
    snprintf(or->slurm_job_id, sizeof or->slurm_job_id, "%s", o->slurm_id);
    if (node && node->type == MSGPACK_OBJECT_STR)
        snprintf(or->node, sizeof or->node, "%.*s", (int)node->via.str.size, node->via.str.ptr);
    else
        snprintf(or->node, sizeof or->node, "%s", o->node);
    or->source_id = id && id->type == MSGPACK_OBJECT_POSITIVE_INTEGER && id->via.u64 <= INT64_MAX ? (int64_t)id->via.u64 : 0;
    struct job_row *row = &imp->row;
    if (strcmp(o->slurm_state, "CANCELLED") == 0 && row->state == JOB_INTERRUPTED) {
        row->state = JOB_CANCELLED;
        snprintf(row->error_code, sizeof row->error_code, "E_CANCELLED");
        row->error_field[0] = 0;
        snprintf(row->error_message, sizeof row->error_message, "cancelled %s%s (Slurm job %s); stopped at its checkpoint",
                 o->cancelled_by ? "by " : "in Slurm", o->cancelled_by ? o->cancelled_by : "", o->slurm_id);
    }
}

static int import_index(struct daemon *d, int64_t job, const char *dir, const msgpack_object *idx,
                        const struct slurm_outcome *o, struct dashi_error *err)
{
    const msgpack_object *format = args_find(idx, "format");
    if (idx->type != MSGPACK_OBJECT_MAP || !format || format->type != MSGPACK_OBJECT_STR ||
        format->via.str.size != strlen(BUNDLE_FORMAT) || memcmp(format->via.str.ptr, BUNDLE_FORMAT, format->via.str.size))
        return dashi_fail(err, DASHI_E_BAD_VALUE, "format", "the index is not a " BUNDLE_FORMAT " map");
    struct job_row owner;
    if (store_job_get(&d->store, job, &owner, err) != 0)
        return -1;
    struct import_who who = {&d->store, owner.uid, owner.user};
    struct import_parts *p = calloc(1, sizeof *p);
    const msgpack_object *rec;
    int rc = p ? upload_blobs(d, dir, idx, owner.uid, err) : dashi_fail(err, DASHI_E_INTERNAL, "", "out of memory");
    if (rc == 0)
        rc = import_parts_parse(&who, idx, p, &rec, err);
    if (rc == 0 && strcmp(p->imp.row.kind, owner.kind) != 0)
        rc = dashi_fail(err, DASHI_E_BAD_VALUE, "kind", "the bundle holds a %s job, not this %s job", p->imp.row.kind,
                        owner.kind);
    if (rc == 0) {
        set_outcome(&p->imp, idx, rec, dir, o);
        rc = store_job_import_into(&d->store, job, &p->imp, err);
    }
    if (p)
        import_parts_free(p);
    free(p);
    job_row_free(&owner);
    return rc;
}

int slurm_bundle_import(struct daemon *d, int64_t job, const char *dir, const struct slurm_outcome *o,
                        struct dashi_error *err)
{
    char *data = NULL;
    size_t n = 0;
    int rc = read_index(dir, &data, &n, err);
    if (rc != 0)
        return rc;
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    if (msg_check((const uint8_t *)data, n, err) != 0 ||
        msgpack_unpack_next(&u, data, n, NULL) != MSGPACK_UNPACK_SUCCESS)
        rc = dashi_fail(err, DASHI_E_CORRUPT, "bundle", "%s/bundle.msgpack is not one msgpack map", dir);
    else
        rc = import_index(d, job, dir, &u.data, o, err);
    msgpack_unpacked_destroy(&u);
    free(data);
    return rc;
}
