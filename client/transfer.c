/* SPDX-License-Identifier: MIT */
/* Moving .npy files through the socket: chunked upload (put_begin/put_chunk/put_end)
 * and download (get, in order). A download lands in PATH.part and is renamed to PATH only
 * once every range arrived (the daemon verifies each chunk before it serves it) and the
 * bytes received have the address the daemon named, computed here by the chunk tree
 * (num/blob_tree.h): a damaged blob never becomes a file. The daemon names the address in
 * each answer, so an old name (migration 006) downloads as the blob it became. */
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blob_tree.h"
#include "client.h"

#define CHUNK (2u << 20)

struct u64_arg {
    const char *key;
    uint64_t value;
};

static void pack_u64_arg(msgpack_packer *pk, void *ctx)
{
    const struct u64_arg *a = ctx;
    msgpack_pack_map(pk, 1);
    pk_kv_u64(pk, a->key, a->value);
}

struct chunk_arg {
    uint64_t upload, offset;
    const void *data;
    size_t n;
};

static void pack_chunk(msgpack_packer *pk, void *ctx)
{
    const struct chunk_arg *a = ctx;
    msgpack_pack_map(pk, 3);
    pk_kv_u64(pk, "upload", a->upload);
    pk_kv_u64(pk, "offset", a->offset);
    pk_kv_bin(pk, "data", a->data, a->n);
}

static int get_u64(const msgpack_object *m, const char *key, uint64_t *out, struct dashi_error *err)
{
    const msgpack_object *v = map_get(m, key);
    if (!v || v->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        return dashi_fail(err, DASHI_E_BAD_FRAME, key, "the daemon's answer lacks '%s'", key);
    *out = v->via.u64;
    return 0;
}

int client_put_file(struct dashi_client *c, const char *path, char hash[DASHI_HASH_HEX + 1], struct dashi_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return dashi_fail(err, DASHI_E_IO, "file", "cannot open %s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || st.st_size <= 0) {
        fclose(f);
        return dashi_fail(err, DASHI_E_IO, "file", "%s is empty or unreadable", path);
    }
    msgpack_unpacked resp;
    msgpack_unpacked_init(&resp);
    const msgpack_object *result;
    struct u64_arg size = {"size", (uint64_t)st.st_size};
    uint64_t upload = 0;
    char *buf = malloc(CHUNK);
    int rc = -1;
    if (!buf) {
        dashi_fail(err, DASHI_E_INTERNAL, "", "out of memory");
        goto done;
    }
    if (client_call(c, "put_begin", pack_u64_arg, &size, NULL, NULL, &resp, &result, err) ||
        get_u64(result, "upload", &upload, err))
        goto done;
    uint64_t offset = 0;
    size_t n;
    while ((n = fread(buf, 1, CHUNK, f)) > 0) {
        struct chunk_arg ch = {upload, offset, buf, n};
        if (client_call(c, "put_chunk", pack_chunk, &ch, NULL, NULL, &resp, &result, err) != 0)
            goto done;
        offset += n;
    }
    if (ferror(f)) {
        dashi_fail(err, DASHI_E_IO, "file", "error reading %s", path);
        goto done;
    }
    struct u64_arg end = {"upload", upload};
    if (client_call(c, "put_end", pack_u64_arg, &end, NULL, NULL, &resp, &result, err) != 0)
        goto done;
    const msgpack_object *h = map_get(result, "hash");
    if (!h || h->type != MSGPACK_OBJECT_STR || h->via.str.size != DASHI_HASH_HEX) {
        dashi_fail(err, DASHI_E_BAD_FRAME, "hash", "the daemon's answer lacks the blob hash");
        goto done;
    }
    memcpy(hash, h->via.str.ptr, DASHI_HASH_HEX);
    hash[DASHI_HASH_HEX] = 0;
    rc = 0;
done:
    free(buf);
    fclose(f);
    msgpack_unpacked_destroy(&resp);
    return rc;
}

struct get_arg {
    const char *hash;
    uint64_t offset;
};

static void pack_get(msgpack_packer *pk, void *ctx)
{
    const struct get_arg *a = ctx;
    msgpack_pack_map(pk, 2);
    pk_kv_str(pk, "hash", a->hash);
    pk_kv_u64(pk, "offset", a->offset);
}

/* The received bytes against the address: an independent check of the daemon's. */
static int check_received(struct blob_tree_stream *st, const char *asked, const char *address,
                          struct dashi_error *err)
{
    uint8_t digest[BLOB_TREE_HASH];
    char hex[DASHI_HASH_HEX + 1];
    if (blob_tree_stream_final(st, digest) != 0)
        return dashi_fail(err, DASHI_E_INTERNAL, "", "out of memory");
    sodium_bin2hex(hex, sizeof hex, digest, sizeof digest);
    if (strcmp(hex, address) != 0)
        return dashi_fail(err, DASHI_E_CORRUPT, "hash", "the bytes received for %s hash to %s: not written", asked,
                          hex);
    return 0;
}

/* The address the daemon serves for the name asked: the same, or the one an old name became. */
static int reply_address(const msgpack_object *result, const char *asked, char address[DASHI_HASH_HEX + 1],
                         struct dashi_error *err)
{
    const msgpack_object *h = map_get(result, "hash");
    if (!h) { /* a daemon from before the chunk tree: the name is the address */
        snprintf(address, DASHI_HASH_HEX + 1, "%s", asked);
        return 0;
    }
    if (h->type != MSGPACK_OBJECT_STR || h->via.str.size != DASHI_HASH_HEX)
        return dashi_fail(err, DASHI_E_BAD_FRAME, "hash", "the daemon's answer has no valid hash");
    if (address[0] && memcmp(address, h->via.str.ptr, DASHI_HASH_HEX) != 0)
        return dashi_fail(err, DASHI_E_CORRUPT, "hash", "the daemon changed the address of %s during the download", asked);
    memcpy(address, h->via.str.ptr, DASHI_HASH_HEX);
    address[DASHI_HASH_HEX] = '\0';
    return 0;
}

int client_get_file(struct dashi_client *c, const char *hash, const char *path, struct dashi_error *err)
{
    if (sodium_init() < 0)
        return dashi_fail(err, DASHI_E_INTERNAL, "", "libsodium failed to initialise");
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.part", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
    FILE *f = fd < 0 ? NULL : fdopen(fd, "wb");
    if (!f) {
        if (fd >= 0)
            close(fd);
        return dashi_fail(err, DASHI_E_IO, "output", "cannot create %s: %s", tmp, strerror(errno));
    }
    struct blob_tree_stream received;
    if (blob_tree_stream_init(&received, BLOB_TREE_CHUNK) != 0) {
        fclose(f);
        unlink(tmp);
        return dashi_fail(err, DASHI_E_INTERNAL, "", "out of memory");
    }
    char address[DASHI_HASH_HEX + 1] = "";
    msgpack_unpacked resp;
    msgpack_unpacked_init(&resp);
    const msgpack_object *result;
    struct get_arg a = {hash, 0};
    uint64_t total = 1;
    int rc = -1;
    while (a.offset < total) {
        if (client_call(c, "get", pack_get, &a, NULL, NULL, &resp, &result, err) ||
            get_u64(result, "total", &total, err) || reply_address(result, hash, address, err))
            goto done;
        const msgpack_object *data = map_get(result, "data");
        if (!data || data->type != MSGPACK_OBJECT_BIN) {
            dashi_fail(err, DASHI_E_BAD_FRAME, "data", "the daemon's answer lacks data");
            goto done;
        }
        if (data->via.bin.size == 0 && a.offset < total) {
            dashi_fail(err, DASHI_E_IO, "data", "the blob ended early");
            goto done;
        }
        if (blob_tree_stream_update(&received, data->via.bin.ptr, data->via.bin.size) != 0) {
            dashi_fail(err, DASHI_E_INTERNAL, "", "out of memory");
            goto done;
        }
        if (fwrite(data->via.bin.ptr, 1, data->via.bin.size, f) != data->via.bin.size) {
            dashi_fail(err, DASHI_E_IO, "output", "writing %s: %s", tmp, strerror(errno));
            goto done;
        }
        a.offset += data->via.bin.size;
    }
    rc = check_received(&received, hash, address, err);
done:
    blob_tree_stream_free(&received);
    msgpack_unpacked_destroy(&resp);
    if (fclose(f) != 0 && rc == 0)
        rc = dashi_fail(err, DASHI_E_IO, "output", "closing %s: %s", tmp, strerror(errno));
    if (rc == 0 && rename(tmp, path) != 0)
        rc = dashi_fail(err, DASHI_E_IO, "output", "rename to %s: %s", path, strerror(errno));
    if (rc != 0)
        unlink(tmp);
    return rc;
}
