/* SPDX-License-Identifier: MIT */
/* Result bundles (docs/storage.md "Bundles"): `dashi export --bundle DIR ID` writes a job
 * as a directory another catalogue imports with `dashi import DIR`. The client writes the
 * files (never the daemon, which must not write a path a client names as another user)
 * and reads them on import; the daemon verifies every blob by its address on upload and
 * records the job in one transaction. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd_bundle.h"
#include "paths.h"
#include "json.h"
#include "wire.h"

#define BUNDLE_FORMAT "dashi-bundle/1"
#define BUNDLE_INDEX "bundle.msgpack"
#define BUNDLE_INDEX_MAX (64u << 20) /* a record, its metrics and hashes: far below this */
#define BUNDLE_BLOBS_MAX 64

/* dir/name into out; a path too long for PATH_MAX is cut (and then not found). */
static void join_path(char out[PATH_MAX], const char *dir, const char *name)
{
    if (snprintf(out, PATH_MAX, "%s/%s", dir, name) >= PATH_MAX)
        out[0] = '\0';
}

static void blob_path(char out[PATH_MAX], const char *dir, const char *hash)
{
    char name[DASHI_HASH_HEX + 16];
    snprintf(name, sizeof name, "blobs/%.*s.npy", DASHI_HASH_HEX, hash);
    join_path(out, dir, name);
}

static bool is_hash(const msgpack_object *o)
{
    return o->type == MSGPACK_OBJECT_STR && o->via.str.size == DASHI_HASH_HEX &&
           strspn(o->via.str.ptr, "0123456789abcdef") >= DASHI_HASH_HEX;
}

/* The blobs a record needs: its outputs and its checkpoint (the inputs are lineage only). */
static size_t record_blobs(const msgpack_object *rec, char hashes[][DASHI_HASH_HEX + 1], size_t cap)
{
    size_t n = 0;
    const msgpack_object *out = map_get(rec, "outputs"), *ck = map_get(rec, "checkpoint");
    for (uint32_t i = 0; out && out->type == MSGPACK_OBJECT_MAP && i < out->via.map.size && n < cap; i++)
        if (is_hash(&out->via.map.ptr[i].val))
            snprintf(hashes[n++], DASHI_HASH_HEX + 1, "%.*s", DASHI_HASH_HEX, out->via.map.ptr[i].val.via.str.ptr);
    const msgpack_object *h = ck && ck->type == MSGPACK_OBJECT_MAP ? map_get(ck, "hash") : NULL;
    if (h && is_hash(h) && n < cap)
        snprintf(hashes[n++], DASHI_HASH_HEX + 1, "%.*s", DASHI_HASH_HEX, h->via.str.ptr);
    return n;
}

static int write_file(const char *path, const void *data, size_t n, struct dashi_error *err)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0)
        return dashi_fail(err, DASHI_E_IO, "bundle", "cannot create %s: %s", path, strerror(errno));
    const char *p = data;
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            int e = errno;
            close(fd);
            return dashi_fail(err, DASHI_E_IO, "bundle", "writing %s: %s", path, strerror(e));
        }
        p += w;
        n -= (size_t)w;
    }
    if (fsync(fd) != 0 || close(fd) != 0)
        return dashi_fail(err, DASHI_E_IO, "bundle", "writing %s: %s", path, strerror(errno));
    return 0;
}

static int write_record_json(const char *dir, const msgpack_object *rec, struct dashi_error *err)
{
    char path[PATH_MAX];
    join_path(path, dir, "record.json");
    char *text = json_string(rec, 2);
    if (!text)
        return dashi_fail(err, DASHI_E_INTERNAL, "bundle", "cannot write the record as JSON");
    int rc = write_file(path, text, strlen(text), err);
    free(text);
    return rc;
}

/* Where the bundle is written: inside a Slurm job (dashid --run on a node), that job and
 * node, which the importing catalogue records as the job's origin; nil elsewhere. */
static void pack_written_in(msgpack_packer *pk)
{
    const char *job = getenv("SLURM_ARRAY_JOB_ID"), *task = getenv("SLURM_ARRAY_TASK_ID");
    const char *node = getenv("SLURMD_NODENAME");
    char id[64];
    if (job && task)
        snprintf(id, sizeof id, "%s_%s", job, task);
    else
        snprintf(id, sizeof id, "%s", getenv("SLURM_JOB_ID") ? getenv("SLURM_JOB_ID") : "");
    pk_key(pk, "slurm");
    if (!id[0]) {
        msgpack_pack_nil(pk);
        return;
    }
    msgpack_pack_map(pk, 2);
    pk_kv_str(pk, "slurm_job_id", id);
    pk_kv_str(pk, "node", node);
}

/* The index, written last: what import reads. Its blobs map names each file's size. */
static int write_index(const char *dir, const msgpack_object *rec, const msgpack_object *metrics,
                       const msgpack_object *hashes, char blobs[][DASHI_HASH_HEX + 1], size_t nblobs,
                       struct dashi_error *err)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 6);
    pk_kv_str(&pk, "format", BUNDLE_FORMAT);
    pack_written_in(&pk);
    pk_key(&pk, "record");
    msgpack_pack_object(&pk, *rec);
    pk_key(&pk, "metrics");
    msgpack_pack_object(&pk, *metrics);
    pk_key(&pk, "hashes");
    msgpack_pack_object(&pk, *hashes);
    pk_key(&pk, "blobs");
    msgpack_pack_map(&pk, nblobs);
    int rc = 0;
    for (size_t i = 0; i < nblobs && rc == 0; i++) {
        char path[PATH_MAX];
        struct stat sbuf;
        blob_path(path, dir, blobs[i]);
        if (stat(path, &sbuf) != 0)
            rc = dashi_fail(err, DASHI_E_IO, "bundle", "%s: %s", path, strerror(errno));
        pk_kv_u64(&pk, blobs[i], rc == 0 ? (uint64_t)sbuf.st_size : 0);
    }
    char path[PATH_MAX];
    join_path(path, dir, BUNDLE_INDEX);
    if (rc == 0)
        rc = write_file(path, sb.data, sb.size, err);
    msgpack_sbuffer_destroy(&sb);
    return rc;
}

static int fetch(struct dashi_client *c, const char *op, int64_t id, struct cmd_result *r, const char *key,
                 const msgpack_object **out, struct dashi_error *err)
{
    if (cmd_call_id(c, op, id, NULL, r, err) != 0)
        return -1;
    *out = key ? map_get(r->obj, key) : r->obj;
    if (!*out)
        return dashi_fail(err, DASHI_E_INTERNAL, op, "the %s answer has no %s", op, key ? key : "result");
    return 0;
}

/* Removes what a failed export left in its temporary directory (files it named itself). */
static void remove_partial(const char *tmp, char blobs[][DASHI_HASH_HEX + 1], size_t nblobs)
{
    char path[PATH_MAX];
    for (size_t i = 0; i < nblobs; i++) {
        blob_path(path, tmp, blobs[i]);
        unlink(path);
    }
    static const char *const names[] = {"record.json", BUNDLE_INDEX, NULL};
    for (int i = 0; names[i]; i++) {
        join_path(path, tmp, names[i]);
        unlink(path);
    }
    join_path(path, tmp, "blobs");
    rmdir(path);
    rmdir(tmp);
}

static int export_into(struct dashi_client *c, int64_t id, const char *tmp, char blobs[][DASHI_HASH_HEX + 1],
                       size_t *nblobs, struct dashi_error *err)
{
    struct cmd_result rec_r, met_r, hash_r;
    const msgpack_object *rec, *metrics, *hashes;
    cmd_result_init(&met_r);
    cmd_result_init(&hash_r);
    int rc = fetch(c, "show", id, &rec_r, NULL, &rec, err);
    if (rc == 0)
        rc = fetch(c, "metrics", id, &met_r, "metrics", &metrics, err);
    if (rc == 0)
        rc = fetch(c, "hashes", id, &hash_r, "hashes", &hashes, err);
    if (rc == 0)
        *nblobs = record_blobs(rec, blobs, BUNDLE_BLOBS_MAX);
    char path[PATH_MAX];
    for (size_t i = 0; rc == 0 && i < *nblobs; i++) {
        blob_path(path, tmp, blobs[i]);
        if (access(path, F_OK) != 0) /* a checkpoint may be an output too */
            rc = client_get_file(c, blobs[i], path, err);
    }
    if (rc == 0)
        rc = write_record_json(tmp, rec, err);
    if (rc == 0)
        rc = write_index(tmp, rec, metrics, hashes, blobs, *nblobs, err);
    cmd_result_free(&rec_r);
    cmd_result_free(&met_r);
    cmd_result_free(&hash_r);
    return rc;
}

int bundle_export(struct dashi_client *c, int64_t id, const char *dir, struct dashi_error *err)
{
    char tmp[PATH_MAX], sub[PATH_MAX];
    if (access(dir, F_OK) == 0)
        return dashi_fail(err, DASHI_E_IO, "bundle", "%s exists: a bundle is written into a new directory", dir);
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp-%ld", dir, (long)getpid()) >= sizeof tmp - 64)
        return dashi_fail(err, DASHI_E_BAD_VALUE, "bundle", "the path %s is too long", dir);
    join_path(sub, tmp, "blobs");
    if (mkdir(tmp, 0755) != 0 || mkdir(sub, 0755) != 0)
        return dashi_fail(err, DASHI_E_IO, "bundle", "cannot create %s: %s", sub, strerror(errno));
    char (*blobs)[DASHI_HASH_HEX + 1] = calloc(BUNDLE_BLOBS_MAX, sizeof *blobs);
    size_t nblobs = 0;
    int rc = blobs ? export_into(c, id, tmp, blobs, &nblobs, err)
                   : dashi_fail(err, DASHI_E_INTERNAL, "bundle", "out of memory");
    /* All or nothing: the directory appears under its name only once it is whole. */
    if (rc == 0 && (fsync_dir(sub) != 0 || fsync_dir(tmp) != 0 || rename(tmp, dir) != 0))
        rc = dashi_fail(err, DASHI_E_IO, "bundle", "cannot move %s to %s: %s", tmp, dir, strerror(errno));
    if (rc != 0)
        remove_partial(tmp, blobs, nblobs);
    free(blobs);
    return rc;
}

/* ---- import ---- */

struct bundle {
    msgpack_sbuffer bytes;
    msgpack_unpacked unpacked;
    const msgpack_object *record, *metrics, *hashes, *blobs;
    const msgpack_object *slurm; /* {slurm_job_id, node} when written in a Slurm job; NULL else */
};

static int bad_bundle(struct dashi_error *err, const char *dir, const char *what)
{
    return dashi_fail(err, DASHI_E_CORRUPT, "bundle", "%s is not a valid bundle: %s", dir, what);
}

static int read_index(const char *dir, struct bundle *b, struct dashi_error *err)
{
    char path[PATH_MAX];
    join_path(path, dir, BUNDLE_INDEX);
    FILE *f = fopen(path, "rb");
    struct stat st;
    if (!f)
        return dashi_fail(err, DASHI_E_NOT_FOUND, "bundle", "%s: %s (no bundle there, or one not finished)", path,
                          strerror(errno));
    if (fstat(fileno(f), &st) != 0 || st.st_size <= 0 || (uint64_t)st.st_size > BUNDLE_INDEX_MAX) {
        fclose(f);
        return dashi_fail(err, DASHI_E_TOO_LARGE, "bundle", "%s has %lld bytes (at most %u)", path,
                          (long long)st.st_size, BUNDLE_INDEX_MAX);
    }
    char *data = malloc((size_t)st.st_size);
    size_t got = data ? fread(data, 1, (size_t)st.st_size, f) : 0;
    fclose(f);
    if (!data || got != (size_t)st.st_size) {
        free(data);
        return dashi_fail(err, DASHI_E_IO, "bundle", "cannot read %s", path);
    }
    msgpack_sbuffer_write(&b->bytes, data, got);
    free(data);
    struct dashi_error why;
    size_t off = 0;
    if (msg_check((const uint8_t *)b->bytes.data, b->bytes.size, &why) != 0 ||
        msgpack_unpack_next(&b->unpacked, b->bytes.data, b->bytes.size, &off) != MSGPACK_UNPACK_SUCCESS ||
        off != b->bytes.size || b->unpacked.data.type != MSGPACK_OBJECT_MAP)
        return bad_bundle(err, dir, BUNDLE_INDEX " is not one msgpack map");
    const msgpack_object *idx = &b->unpacked.data, *format = map_get(idx, "format");
    if (!format || format->type != MSGPACK_OBJECT_STR || format->via.str.size != strlen(BUNDLE_FORMAT) ||
        memcmp(format->via.str.ptr, BUNDLE_FORMAT, format->via.str.size) != 0)
        return bad_bundle(err, dir, "its format is not " BUNDLE_FORMAT);
    b->record = map_get(idx, "record");
    b->metrics = map_get(idx, "metrics");
    b->hashes = map_get(idx, "hashes");
    b->blobs = map_get(idx, "blobs");
    b->slurm = map_get(idx, "slurm");
    if (b->slurm && b->slurm->type != MSGPACK_OBJECT_MAP)
        b->slurm = NULL;
    if (!b->record || b->record->type != MSGPACK_OBJECT_MAP || !b->blobs || b->blobs->type != MSGPACK_OBJECT_MAP ||
        b->blobs->via.map.size > BUNDLE_BLOBS_MAX)
        return bad_bundle(err, dir, "it needs a record map and a blobs map (at most 64 blobs)");
    return 0;
}

/* Every blob the record needs is listed, and every listed blob is a file of its size. */
static int check_blobs(const char *dir, const struct bundle *b, struct dashi_error *err)
{
    char need[BUNDLE_BLOBS_MAX][DASHI_HASH_HEX + 1];
    size_t nneed = record_blobs(b->record, need, BUNDLE_BLOBS_MAX);
    for (size_t i = 0; i < nneed; i++)
        if (!map_get(b->blobs, need[i]))
            return dashi_fail(err, DASHI_E_CORRUPT, "bundle", "%s: the record needs blob %s, which it does not list",
                              dir, need[i]);
    for (uint32_t i = 0; i < b->blobs->via.map.size; i++) {
        const msgpack_object_kv *kv = &b->blobs->via.map.ptr[i];
        if (!is_hash(&kv->key) || kv->val.type != MSGPACK_OBJECT_POSITIVE_INTEGER)
            return bad_bundle(err, dir, "blobs must map 64-hex-digit hashes to sizes");
        char path[PATH_MAX];
        struct stat st;
        blob_path(path, dir, kv->key.via.str.ptr);
        if (lstat(path, &st) != 0 || !S_ISREG(st.st_mode))
            return dashi_fail(err, DASHI_E_CORRUPT, "bundle", "%s: %s", path,
                              errno ? strerror(errno) : "not a plain file");
        if ((uint64_t)st.st_size != kv->val.via.u64)
            return dashi_fail(err, DASHI_E_CORRUPT, "bundle", "%s has %lld bytes, the bundle says %llu", path,
                              (long long)st.st_size, (unsigned long long)kv->val.via.u64);
    }
    return 0;
}

static int upload_blobs(struct dashi_client *c, const char *dir, const struct bundle *b, struct dashi_error *err)
{
    for (uint32_t i = 0; i < b->blobs->via.map.size; i++) {
        const msgpack_object *k = &b->blobs->via.map.ptr[i].key;
        char path[PATH_MAX], got[DASHI_HASH_HEX + 1];
        blob_path(path, dir, k->via.str.ptr);
        if (client_put_file(c, path, got, err) != 0)
            return -1;
        if (memcmp(got, k->via.str.ptr, DASHI_HASH_HEX) != 0)
            return dashi_fail(err, DASHI_E_CORRUPT, "bundle", "%s does not match its hash: its address is %s", path,
                              got);
    }
    return 0;
}

struct import_args {
    const struct bundle *b;
    const char *from;
};

/* An origin field: from where the bundle was written (a Slurm job), else as the record has it
 * (a bundle of a job that was itself imported). */
static void pack_origin_str(msgpack_packer *pk, const char *key, const struct bundle *b)
{
    const msgpack_object *v = b->slurm ? map_get(b->slurm, key) : map_get(b->record, key);
    pk_key(pk, key);
    if (v && v->type == MSGPACK_OBJECT_STR)
        msgpack_pack_object(pk, *v);
    else
        msgpack_pack_nil(pk);
}

static void pack_import(msgpack_packer *pk, void *ctx)
{
    const struct import_args *a = ctx;
    msgpack_pack_map(pk, 7);
    pk_key(pk, "record");
    msgpack_pack_object(pk, *a->b->record);
    pk_key(pk, "metrics");
    if (a->b->metrics)
        msgpack_pack_object(pk, *a->b->metrics);
    else
        msgpack_pack_nil(pk);
    pk_key(pk, "hashes");
    if (a->b->hashes)
        msgpack_pack_object(pk, *a->b->hashes);
    else
        msgpack_pack_nil(pk);
    pk_kv_str(pk, "imported_from", a->from);
    if (a->b->slurm)
        pk_kv_str(pk, "executor", "slurm");
    else
        pack_origin_str(pk, "executor", a->b);
    pack_origin_str(pk, "slurm_job_id", a->b);
    pack_origin_str(pk, "node", a->b);
}

int bundle_import(struct dashi_client *c, const char *dir, int64_t *id, struct dashi_error *err)
{
    struct bundle b = {0};
    msgpack_sbuffer_init(&b.bytes);
    msgpack_unpacked_init(&b.unpacked);
    char from[PATH_MAX];
    int rc = realpath(dir, from) ? 0 : dashi_fail(err, DASHI_E_NOT_FOUND, "bundle", "%s: %s", dir, strerror(errno));
    /* Everything is checked before anything is sent, so a bad bundle leaves no trace. */
    if (rc == 0)
        rc = read_index(from, &b, err);
    if (rc == 0)
        rc = check_blobs(from, &b, err);
    if (rc == 0)
        rc = upload_blobs(c, from, &b, err);
    if (rc == 0) {
        struct import_args a = {&b, from};
        msgpack_unpacked resp;
        msgpack_unpacked_init(&resp);
        const msgpack_object *result;
        rc = client_call(c, "import", pack_import, &a, NULL, NULL, &resp, &result, err);
        if (rc == 0)
            *id = obj_i64(map_get(result, "id"));
        msgpack_unpacked_destroy(&resp);
    }
    msgpack_unpacked_destroy(&b.unpacked);
    msgpack_sbuffer_destroy(&b.bytes);
    return rc;
}

/* ---- the commands ---- */

int cmd_export_bundle(struct dashi_client *c, struct cli_opts *o, struct dashi_error *err)
{
    const char *dir = cli_opt(o, "bundle");
    int64_t id;
    if (o->args.npos != 1 || !dir || !*dir)
        return dashi_fail(err, DASHI_E_MISSING_FIELD, o->args.npos != 1 ? "id" : "bundle",
                          "usage: dashi export --bundle DIR ID");
    if (cmd_parse_id(o->args.pos[0], &id, err) != 0 || bundle_export(c, id, dir, err) != 0)
        return -1;
    if (o->args.json) {
        fputs("{\"bundle\": ", stdout);
        json_write_string(stdout, dir, strlen(dir));
        printf(", \"id\": %lld}\n", (long long)id);
    } else {
        printf("%s: bundle of job %lld\n", dir, (long long)id);
    }
    return 0;
}

int cmd_import(struct dashi_client *c, struct cli_opts *o, struct dashi_error *err)
{
    int64_t id;
    if (o->args.npos != 1)
        return dashi_fail(err, DASHI_E_MISSING_FIELD, "bundle", "usage: dashi import DIR");
    if (bundle_import(c, o->args.pos[0], &id, err) != 0)
        return -1;
    if (o->args.json)
        printf("{\"id\": %lld}\n", (long long)id);
    else
        printf("%lld\n", (long long)id);
    return 0;
}
