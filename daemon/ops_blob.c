/* SPDX-License-Identifier: MIT */
/* Blob upload and download over the socket (the daemon never opens a client's path).
 * Uploads are chunked: put_begin {size} -> upload id; put_chunk {upload, offset, data}
 * in order; put_end {upload} -> the blob's hash and metadata. An upload belongs to its
 * connection and is discarded if the connection closes first.
 * Downloads are ranged reads at any offset: the whole chunks of the address tree that
 * cover a range are checked against their leaves before any byte of them is sent (a
 * damaged chunk: E_CORRUPT naming it), so every byte served is verified and a range costs
 * at most two chunks of hashing on the loop (docs/protocol.md). */
#include <stdlib.h>
#include <string.h>

#include "disk.h"
#include "num/blob_tree.h"
#include "ops.h"

#define GET_MAX_LENGTH (4u << 20)

struct upload_slot {
    uint64_t id;
    struct blob_upload *up;
    uint64_t size, received;
    struct upload_slot *next;
};

static struct upload_slot *slot_find(struct conn *c, uint64_t id, struct upload_slot ***prev)
{
    for (struct upload_slot **p = &c->uploads; *p; p = &(*p)->next)
        if ((*p)->id == id) {
            if (prev)
                *prev = p;
            return *p;
        }
    return NULL;
}

static void pack_blob_meta(msgpack_packer *pk, const struct blob_meta *m)
{
    msgpack_pack_map(pk, 7);
    pk_kv_str(pk, "hash", m->hash);
    pk_kv_u64(pk, "address_version", BLOB_TREE_VERSION);
    pk_kv_u64(pk, "chunk_size", BLOB_TREE_CHUNK);
    pk_kv_str(pk, "dtype", npy_dtype_name(m->info.dtype));
    pk_key(pk, "shape");
    msgpack_pack_array(pk, (size_t)m->info.ndim);
    for (int i = 0; i < m->info.ndim; i++)
        msgpack_pack_uint64(pk, m->info.shape[i]);
    pk_kv_u64(pk, "size", m->size);
    pk_kv_bool(pk, "all_finite", m->all_finite);
}

int op_put_begin(struct conn *c, const struct request *req, msgpack_packer *pk, struct dashi_error *err)
{
    static const char *const allowed[] = {"size", NULL};
    uint64_t size;
    if (args_only(req->args, allowed, err) || arg_u64(req->args, "size", true, 0, 1, UINT64_MAX, &size, err))
        return -1;
    int n = 0;
    for (struct upload_slot *s = c->uploads; s; s = s->next)
        n++;
    if (n >= MAX_UPLOADS_PER_CONN)
        return dashi_fail(err, DASHI_E_TOO_LARGE, "", "at most %d uploads may be open on one connection",
                          MAX_UPLOADS_PER_CONN);
    /* Past the size limit it is E_TOO_LARGE (blob_upload_begin), whatever the disk. */
    if (size <= c->d->cfg.max_upload_bytes && disk_check(c->d, c->uid, size, err) != 0)
        return -1;
    struct upload_slot *s = calloc(1, sizeof *s);
    if (!s)
        return dashi_fail(err, DASHI_E_INTERNAL, "", "out of memory");
    if (blob_upload_begin(&c->d->blobs, size, c->d->cfg.max_upload_bytes, &s->up, err) != 0) {
        free(s);
        return -1;
    }
    s->id = ++c->d->last_upload_id;
    s->size = size;
    s->next = c->uploads;
    c->uploads = s;
    c->upload_bytes += size;
    pack_ok_begin(pk, req->id);
    msgpack_pack_map(pk, 1);
    pk_kv_u64(pk, "upload", s->id);
    return 0;
}

static void slot_drop(struct conn *c, struct upload_slot **prev)
{
    struct upload_slot *s = *prev;
    *prev = s->next;
    c->upload_bytes -= s->size;
    if (s->up)
        blob_upload_abort(s->up);
    free(s);
}

int op_put_chunk(struct conn *c, const struct request *req, msgpack_packer *pk, struct dashi_error *err)
{
    static const char *const allowed[] = {"upload", "offset", "data", NULL};
    uint64_t id, offset;
    const uint8_t *data;
    size_t len;
    if (args_only(req->args, allowed, err) || arg_u64(req->args, "upload", true, 0, 1, UINT64_MAX, &id, err) ||
        arg_u64(req->args, "offset", true, 0, 0, UINT64_MAX, &offset, err) ||
        arg_bin(req->args, "data", true, &data, &len, err))
        return -1;
    struct upload_slot **prev;
    struct upload_slot *s = slot_find(c, id, &prev);
    if (!s)
        return dashi_fail(err, DASHI_E_NOT_FOUND, "upload", "no open upload %llu on this connection",
                          (unsigned long long)id);
    if (blob_upload_write(s->up, offset, data, len, err) != 0) {
        slot_drop(c, prev); /* a broken upload cannot be continued; the client starts over */
        return -1;
    }
    s->received = offset + len;
    pack_ok_begin(pk, req->id);
    msgpack_pack_map(pk, 1);
    pk_kv_u64(pk, "received", s->received);
    return 0;
}

int op_put_end(struct conn *c, const struct request *req, msgpack_packer *pk, struct dashi_error *err)
{
    static const char *const allowed[] = {"upload", NULL};
    uint64_t id;
    if (args_only(req->args, allowed, err) || arg_u64(req->args, "upload", true, 0, 1, UINT64_MAX, &id, err))
        return -1;
    struct upload_slot **prev;
    struct upload_slot *s = slot_find(c, id, &prev);
    if (!s)
        return dashi_fail(err, DASHI_E_NOT_FOUND, "upload", "no open upload %llu on this connection",
                          (unsigned long long)id);
    struct blob_meta meta;
    int rc = blob_upload_end(s->up, &meta, err);
    s->up = NULL; /* ended either way */
    slot_drop(c, prev);
    if (rc != 0)
        return -1;
    if (store_blob_record(&c->d->store, &meta, c->uid, now_seconds(), err) != 0)
        return -1;
    pack_ok_begin(pk, req->id);
    pack_blob_meta(pk, &meta);
    return 0;
}

int op_get(struct conn *c, const struct request *req, msgpack_packer *pk, struct dashi_error *err)
{
    static const char *const allowed[] = {"hash", "offset", "length", NULL};
    char hash[DASHI_HASH_HEX + 1];
    uint64_t offset, length;
    if (args_only(req->args, allowed, err) || arg_hash(req->args, "hash", true, hash, err) ||
        arg_u64(req->args, "offset", false, 0, 0, UINT64_MAX, &offset, err) ||
        arg_u64(req->args, "length", false, GET_MAX_LENGTH, 1, GET_MAX_LENGTH, &length, err))
        return -1;
    void *buf = malloc(length);
    if (!buf)
        return dashi_fail(err, DASHI_E_INTERNAL, "", "out of memory");
    size_t n;
    uint64_t total;
    if (blobstore_read(&c->d->blobs, hash, offset, buf, length, &n, &total, err) != 0) {
        free(buf);
        return -1;
    }
    pack_ok_begin(pk, req->id);
    msgpack_pack_map(pk, 4);
    pk_kv_str(pk, "hash", blobstore_resolve(&c->d->blobs, hash)); /* the address, also for an old name */
    pk_kv_u64(pk, "offset", offset);
    pk_kv_u64(pk, "total", total);
    pk_kv_bin(pk, "data", buf, n);
    free(buf);
    return 0;
}

int op_blob_info(struct conn *c, const struct request *req, msgpack_packer *pk, struct dashi_error *err)
{
    static const char *const allowed[] = {"hash", NULL};
    char hash[DASHI_HASH_HEX + 1];
    struct blob_meta meta;
    if (args_only(req->args, allowed, err) || arg_hash(req->args, "hash", true, hash, err) ||
        store_blob_get(&c->d->store, hash, &meta, err))
        return -1;
    pack_ok_begin(pk, req->id);
    pack_blob_meta(pk, &meta);
    return 0;
}

void uploads_release(struct conn *c)
{
    while (c->uploads)
        slot_drop(c, &c->uploads);
}
