/* SPDX-License-Identifier: MIT */
/* Blob upload and download over the socket (the daemon never opens a client's path).
 * Uploads are chunked: put_begin {size} -> upload id; put_chunk {upload, offset, data}
 * in order; put_end {upload} -> the blob's hash and metadata. An upload belongs to its
 * connection and is discarded if the connection closes first.
 * Downloads are chunked too and read in order from offset 0 on one connection: the bytes
 * served are hashed as they go, and the last chunk is answered only once the hash equals
 * the blob's name (else E_CORRUPT and no data). Hashing a chunk at a time keeps the loop
 * responsive whatever the blob's size; the client keeps what it received apart until
 * then (docs/protocol.md). */
#include <stdlib.h>
#include <string.h>

#include "disk.h"
#include "ops.h"

#define MAX_DOWNLOADS_PER_CONN 4 /* each holds a hash state, no descriptor */
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
    msgpack_pack_map(pk, 5);
    pk_kv_str(pk, "hash", m->hash);
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

/* A download in progress: the bytes served so far, hashed. */
struct download_slot {
    char hash[DASHI_HASH_HEX + 1];
    uint64_t served; /* the offset the next chunk must start at */
    uint64_t total;  /* the file size when the download began */
    struct blob_hasher *h;
    struct download_slot *next;
};

static void download_drop(struct download_slot **prev)
{
    struct download_slot *s = *prev;
    *prev = s->next;
    blob_hasher_free(s->h);
    free(s);
}

static struct download_slot **download_find(struct conn *c, const char *hash)
{
    struct download_slot **p = &c->downloads;
    while (*p && strcmp((*p)->hash, hash) != 0)
        p = &(*p)->next;
    return p;
}

/* Offset 0 (re)starts the download of hash on this connection; the oldest of more than
 * MAX_DOWNLOADS_PER_CONN is forgotten (its next chunk is then refused). The size the
 * database recorded for the blob must be the file's. */
static struct download_slot *download_begin(struct conn *c, const char *hash, uint64_t total, struct dashi_error *err)
{
    struct blob_meta recorded;
    struct dashi_error lookup;
    if (store_blob_get(&c->d->store, hash, &recorded, &lookup) == 0 && recorded.size != total) {
        dashi_fail(err, DASHI_E_CORRUPT, "hash", "blob %s: the file holds %llu bytes, %llu were stored", hash,
                   (unsigned long long)total, (unsigned long long)recorded.size);
        return NULL;
    }
    struct download_slot **p = download_find(c, hash);
    if (*p)
        download_drop(p);
    int n = 0;
    for (p = &c->downloads; *p; p = &(*p)->next)
        if (++n == MAX_DOWNLOADS_PER_CONN) {
            while (*p)
                download_drop(p);
            break;
        }
    struct download_slot *s = calloc(1, sizeof *s);
    if (!s || !(s->h = blob_hasher_new())) {
        free(s);
        dashi_fail(err, DASHI_E_INTERNAL, "", "out of memory");
        return NULL;
    }
    snprintf(s->hash, sizeof s->hash, "%s", hash);
    s->total = total;
    s->next = c->downloads; /* newest first */
    c->downloads = s;
    return s;
}

/* Hashes a chunk read at offset; at the end of the blob, E_CORRUPT unless the bytes
 * served hash to its name (the slot is then done either way). */
static int download_feed(struct conn *c, const char *hash, uint64_t offset, const void *data, size_t n,
                         uint64_t total, struct dashi_error *err)
{
    struct download_slot *s = offset == 0 ? download_begin(c, hash, total, err) : *download_find(c, hash);
    if (offset == 0 && !s)
        return -1;
    if (!s || s->served != offset)
        return dashi_fail(err, DASHI_E_BAD_VALUE, "offset",
                          "a download reads the blob in order from offset 0 on one connection: offset %llu does "
                          "not continue one", (unsigned long long)offset);
    if (total != s->total) {
        download_drop(download_find(c, hash));
        return dashi_fail(err, DASHI_E_CORRUPT, "hash", "blob %s changed size during the download", hash);
    }
    blob_hasher_update(s->h, data, n);
    s->served += n;
    if (s->served < total)
        return 0;
    bool good = blob_hasher_matches(s->h, hash);
    download_drop(download_find(c, hash));
    if (!good)
        return dashi_fail(err, DASHI_E_CORRUPT, "hash",
                          "blob %s: its bytes do not match its name (altered or damaged): the data sent is not valid",
                          hash);
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
    if (blobstore_read(&c->d->blobs, hash, offset, buf, length, &n, &total, err) != 0 ||
        download_feed(c, hash, offset, buf, n, total, err) != 0) {
        free(buf);
        return -1;
    }
    pack_ok_begin(pk, req->id);
    msgpack_pack_map(pk, 3);
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
    while (c->downloads)
        download_drop(&c->downloads);
}
