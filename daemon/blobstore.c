/* SPDX-License-Identifier: MIT */
/* Content-addressed .npy blobs. Every blob is written to <blobs>/tmp/, hashed (the
 * chunk-tree address, num/blob_tree.h) and checked while it streams in, fsync'd, its
 * leaves written beside it as <hash>.chunks, then renamed to <blobs>/<h[0:2]>/<hash>.npy:
 * a file under its final name is always complete and has its sidecar, and identical
 * content lands on the same name once. */
#include "blobstore.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "num/blob_tree.h"
#include "paths.h"

/* .npy data is little-endian and checked for NaN by reinterpreting the bytes in place. */
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "dashid assumes a little-endian host");

#define HASH_BYTES BLOB_TREE_HASH
#define CHUNK BLOB_TREE_CHUNK
#define PATH_CAP (sizeof(((struct blobstore *)0)->dir) + 96)

/* ---- finiteness of float data, fed in arbitrary chunks ---- */

struct finite_scan {
    enum npy_dtype dtype;
    size_t item;
    uint8_t carry[8]; /* an item split across chunks */
    size_t carry_n;
    bool all_finite;
};

static void scan_init(struct finite_scan *s, enum npy_dtype dtype)
{
    s->dtype = dtype;
    s->item = npy_item_size(dtype);
    s->carry_n = 0;
    s->all_finite = true;
}

static bool item_finite(enum npy_dtype dtype, const uint8_t *p)
{
    if (dtype == NPY_F8) {
        double d;
        memcpy(&d, p, sizeof d);
        return isfinite(d);
    }
    float f;
    memcpy(&f, p, sizeof f);
    return isfinite(f);
}

static void scan_feed(struct finite_scan *s, const uint8_t *p, size_t n)
{
    if ((s->dtype != NPY_F8 && s->dtype != NPY_F4) || !s->all_finite)
        return;
    if (s->carry_n > 0) {
        size_t take = s->item - s->carry_n < n ? s->item - s->carry_n : n;
        memcpy(s->carry + s->carry_n, p, take);
        s->carry_n += take;
        p += take;
        n -= take;
        if (s->carry_n < s->item)
            return;
        s->carry_n = 0;
        if (!item_finite(s->dtype, s->carry)) {
            s->all_finite = false;
            return;
        }
    }
    for (; n >= s->item; p += s->item, n -= s->item)
        if (!item_finite(s->dtype, p)) {
            s->all_finite = false;
            return;
        }
    memcpy(s->carry, p, n);
    s->carry_n = n;
}

/* ---- a blob's bytes checked as they stream: hash, .npy header, size, finiteness ---- */

/* The daemon's hashing threads (config hash_threads), shared by every writer and
 * verifier: whoever finds the pool free hashes a large piece on it, the others hash
 * serially rather than wait. */
struct blob_hashing {
    pthread_mutex_t lock;
    struct blob_tree_pool *pool;
};

/* One pass over the bytes of a blob, wherever they come from (an upload, a job's output,
 * a stored file being read back): the chunk-tree address that names it (and its leaves),
 * its .npy header, the total the header implies and whether float data is all finite. */
struct blob_check {
    struct blob_tree_stream tree; /* first: libsodium wants it 64-byte aligned */
    struct blob_hashing *hashing;  /* NULL: serial */
    uint64_t size;                 /* the total the bytes must come to */
    uint64_t seen;
    uint8_t *head; /* the first bytes, until the header is complete */
    size_t head_n;
    bool parsed;
    struct npy_info info;
    struct finite_scan scan;
};

static int check_begin(struct blob_check *c, const struct blobstore *bs, uint64_t size, struct dashi_error *err)
{
    c->head = NULL;
    if (blob_tree_stream_init(&c->tree, CHUNK) < 0)
        return dashi_fail(err, DASHI_E_INTERNAL, "", "out of memory");
    c->hashing = bs->hashing;
    c->size = size;
    c->seen = 0;
    c->head_n = 0;
    c->parsed = false;
    scan_init(&c->scan, NPY_U1); /* no checking until the dtype is known */
    c->head = malloc(NPY_HEADER_MAX);
    if (c->head)
        return 0;
    blob_tree_stream_free(&c->tree);
    return dashi_fail(err, DASHI_E_INTERNAL, "", "out of memory");
}

static void check_free(struct blob_check *c)
{
    free(c->head);
    c->head = NULL;
    blob_tree_stream_free(&c->tree);
}

/* Pieces larger than a chunk go to the pool when it is free. */
static int tree_feed(struct blob_check *c, const void *p, size_t n, struct dashi_error *err)
{
    bool pooled = c->hashing && n > CHUNK && pthread_mutex_trylock(&c->hashing->lock) == 0;
    int rc = blob_tree_stream_update_pool(&c->tree, pooled ? c->hashing->pool : NULL, p, n);
    if (pooled)
        pthread_mutex_unlock(&c->hashing->lock);
    return rc == 0 ? 0 : dashi_fail(err, DASHI_E_INTERNAL, "", "out of memory");
}

/* Buffers header bytes; parses once they are all there. *used: how many bytes of p went
 * into the header buffer. */
static int check_header(struct blob_check *c, const uint8_t *p, size_t n, size_t *used, struct dashi_error *err)
{
    size_t take = NPY_HEADER_MAX - c->head_n < n ? NPY_HEADER_MAX - c->head_n : n;
    memcpy(c->head + c->head_n, p, take);
    c->head_n += take;
    *used = take;
    size_t total;
    if (npy_header_length(c->head, c->head_n, &total, err) < 0)
        return -1;
    if (total == 0 || c->head_n < total)
        return 0;
    if (npy_parse_header(c->head, total, &c->info, err) < 0)
        return -1;
    if (c->size != c->info.header_len + c->info.nbytes)
        return dashi_fail(err, DASHI_E_BAD_VALUE, "npy",
                          "%llu bytes do not match the .npy header (%llu header + %llu data bytes)",
                          (unsigned long long)c->size, (unsigned long long)c->info.header_len,
                          (unsigned long long)c->info.nbytes);
    c->parsed = true;
    scan_init(&c->scan, c->info.dtype);
    scan_feed(&c->scan, c->head + total, c->head_n - total);
    return 0;
}

static int check_feed(struct blob_check *c, const void *data, size_t n, struct dashi_error *err)
{
    const uint8_t *p = data;
    if (n > c->size - c->seen)
        return dashi_fail(err, DASHI_E_BAD_VALUE, "data", "bytes run past the declared size of %llu",
                          (unsigned long long)c->size);
    if (tree_feed(c, p, n, err) < 0)
        return -1;
    c->seen += n;
    size_t used = 0;
    if (!c->parsed && check_header(c, p, n, &used, err) < 0)
        return -1;
    if (c->parsed)
        scan_feed(&c->scan, p + used, n - used);
    return 0;
}

/* All bytes seen: fills meta (hash, header, size, finiteness); the leaves stay in
 * c->tree until check_free. */
static int check_end(struct blob_check *c, struct blob_meta *meta, struct dashi_error *err)
{
    if (c->seen != c->size)
        return dashi_fail(err, DASHI_E_BAD_VALUE, "size", "incomplete: %llu of %llu bytes",
                          (unsigned long long)c->seen, (unsigned long long)c->size);
    if (!c->parsed) {
        struct npy_info scratch;
        if (npy_parse_header(c->head, c->head_n, &scratch, err) == 0) /* cannot succeed: say why */
            dashi_fail(err, DASHI_E_BAD_VALUE, "npy", "invalid .npy header");
        return -1;
    }
    uint8_t digest[HASH_BYTES];
    if (blob_tree_stream_final(&c->tree, digest) < 0)
        return dashi_fail(err, DASHI_E_INTERNAL, "", "out of memory");
    sodium_bin2hex(meta->hash, sizeof meta->hash, digest, sizeof digest);
    meta->info = c->info;
    meta->size = c->seen;
    meta->all_finite = c->scan.all_finite;
    return 0;
}

/* ---- a temporary file being hashed, then published under its hash ---- */

struct blob_sink {
    struct blob_check check; /* first: carries the alignment */
    struct blobstore *bs;
    int fd;
    char tmp[PATH_CAP];
    /* Write-behind (sink_writeback): bytes before wb_started were handed to the disk's
     * writeback, those before wb_waited are on the disk. wb_wait: a blob writer's sink
     * (the I/O thread's, which may wait for the disk); an upload's runs on the loop thread
     * and only starts writeback, never waits for it. */
    uint64_t wb_started, wb_waited;
    bool wb_wait;
};

static bool is_hash(const char *h)
{
    if (!h)
        return false;
    for (int i = 0; i < DASHI_HASH_HEX; i++)
        if (!((h[i] >= '0' && h[i] <= '9') || (h[i] >= 'a' && h[i] <= 'f')))
            return false;
    return h[DASHI_HASH_HEX] == '\0';
}

bool blobstore_is_hash(const char *name)
{
    return is_hash(name);
}

/* ---- old names (blob_aliases): set once at start, read by every thread ---- */

static int alias_cmp(const void *a, const void *b)
{
    return strcmp(((const struct blob_alias *)a)->old, ((const struct blob_alias *)b)->old);
}

int blobstore_set_aliases(struct blobstore *bs, struct blob_alias *aliases, size_t n)
{
    free(bs->aliases);
    if (n)
        qsort(aliases, n, sizeof *aliases, alias_cmp);
    bs->aliases = aliases;
    bs->naliases = n;
    return 0;
}

const char *blobstore_resolve(const struct blobstore *bs, const char *hash)
{
    if (!bs->naliases || !hash)
        return hash;
    struct blob_alias key;
    snprintf(key.old, sizeof key.old, "%s", hash);
    const struct blob_alias *a = bsearch(&key, bs->aliases, bs->naliases, sizeof key, alias_cmp);
    return a ? a->new : hash;
}

static int path_with(const struct blobstore *bs, const char *hash, const char *ext, char *out, size_t cap)
{
    if (!is_hash(hash))
        return -1;
    int len = snprintf(out, cap, "%s/%.2s/%s%s", bs->dir, hash, hash, ext);
    return len < 0 || (size_t)len >= cap ? -1 : 0;
}

int blobstore_path(const struct blobstore *bs, const char *hash, char *out, size_t cap)
{
    return path_with(bs, blobstore_resolve(bs, hash), ".npy", out, cap);
}

bool blobstore_exists(const struct blobstore *bs, const char *hash)
{
    char path[PATH_CAP];
    struct stat sb;
    return blobstore_path(bs, hash, path, sizeof path) == 0 && lstat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

static int make_dir(const char *path, struct dashi_error *err)
{
    if (mkdir(path, 0700) < 0 && errno != EEXIST)
        return dashi_fail(err, DASHI_E_IO, "state_dir", "cannot create %s: %s", path, strerror(errno));
    return 0;
}

/* Temporaries left by a daemon that stopped mid-upload are garbage: open runs once at
 * daemon start, before any upload of this process begins. */
static int remove_temporaries(const char *tmpdir, struct dashi_error *err)
{
    DIR *d = opendir(tmpdir);
    if (!d)
        return dashi_fail(err, DASHI_E_IO, "state_dir", "cannot open %s: %s", tmpdir, strerror(errno));
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strncmp(e->d_name, "up-", 3) == 0 || strncmp(e->d_name, "wr-", 3) == 0 ||
            strncmp(e->d_name, "ck-", 3) == 0)
            unlinkat(dirfd(d), e->d_name, 0); /* best effort: a leftover costs only space */
    closedir(d);
    return 0;
}

int blobstore_open(struct blobstore *bs, const char *state_dir, struct dashi_error *err)
{
    if (sodium_init() < 0)
        return dashi_fail(err, DASHI_E_INTERNAL, "", "libsodium failed to initialise");
    bs->reserve_bytes = 0; /* none until the daemon sets it from its configuration */
    bs->hashing = NULL;     /* serial until blobstore_start_hashing */
    bs->aliases = NULL;
    bs->naliases = 0;
    int len = snprintf(bs->dir, sizeof bs->dir, "%s/blobs", state_dir);
    if (len < 0 || (size_t)len >= sizeof bs->dir - 80)
        return dashi_fail(err, DASHI_E_BAD_VALUE, "state_dir", "state directory path is too long");
    char tmpdir[PATH_CAP];
    snprintf(tmpdir, sizeof tmpdir, "%s/tmp", bs->dir);
    if (make_dir(bs->dir, err) < 0 || make_dir(tmpdir, err) < 0)
        return -1;
    return remove_temporaries(tmpdir, err);
}

int blobstore_start_hashing(struct blobstore *bs, int threads, struct dashi_error *err)
{
    struct blob_hashing *h = calloc(1, sizeof *h);
    if (!h || pthread_mutex_init(&h->lock, NULL) != 0) {
        free(h);
        return dashi_fail(err, DASHI_E_INTERNAL, "hash_threads", "cannot create the hashing pool");
    }
    if (threads > 1 && !(h->pool = blob_tree_pool_new(threads))) {
        pthread_mutex_destroy(&h->lock);
        free(h);
        return dashi_fail(err, DASHI_E_INTERNAL, "hash_threads", "cannot start %d hashing threads", threads);
    }
    bs->hashing = h;
    return 0;
}

void blobstore_close(struct blobstore *bs)
{
    if (bs->hashing) {
        blob_tree_pool_free(bs->hashing->pool);
        pthread_mutex_destroy(&bs->hashing->lock);
        free(bs->hashing);
        bs->hashing = NULL;
    }
    free(bs->aliases);
    bs->aliases = NULL;
    bs->naliases = 0;
}

static int sink_open(struct blob_sink *s, struct blobstore *bs, const char *prefix, uint64_t size,
                     struct dashi_error *err)
{
    s->bs = bs;
    s->wb_started = s->wb_waited = 0;
    s->wb_wait = false;
    if (check_begin(&s->check, bs, size, err) < 0)
        return -1;
    snprintf(s->tmp, sizeof s->tmp, "%s/tmp/%s-XXXXXX", bs->dir, prefix);
    s->fd = mkostemp(s->tmp, O_CLOEXEC);
    if (s->fd < 0) {
        check_free(&s->check);
        return dashi_fail(err, DASHI_E_IO, "", "cannot create a temporary blob in %s/tmp: %s", bs->dir,
                          strerror(errno));
    }
    return 0;
}

static void sink_discard(struct blob_sink *s)
{
    check_free(&s->check);
    if (s->fd >= 0) {
        close(s->fd);
        unlink(s->tmp);
        s->fd = -1;
    }
}

/* Blobs never take the last reserve_bytes of the file system: that room is the
 * database's, to record what happened to the jobs (docs/storage.md "Disk space"). */
static int sink_room(const struct blob_sink *s, size_t n, struct dashi_error *err)
{
    struct statvfs sv;
    if (!s->bs->reserve_bytes || fstatvfs(s->fd, &sv) != 0) /* unmeasurable: write() will tell */
        return 0;
    uint64_t free_bytes = (uint64_t)sv.f_bavail * sv.f_frsize;
    if (free_bytes >= n && free_bytes - n >= s->bs->reserve_bytes)
        return 0;
    return dashi_fail(err, DASHI_E_IO, "disk_reserve_bytes",
                      "the disk is full: %.1f MiB free under %s, and blobs must leave %.1f MiB (disk_reserve_bytes)",
                      (double)free_bytes / 1048576.0, s->bs->dir, (double)s->bs->reserve_bytes / 1048576.0);
}

/* Without this, a blob's bytes sit in the page cache until the fdatasync that makes it
 * durable (the kernel's background writeback starts only at a fraction of the host's
 * memory, gigabytes on a GPU host): the whole blob then goes to the disk after the job
 * computed it, and every other job's fsync waits behind it. So each WRITEBACK_WINDOW
 * written is handed to the disk at once, and the window before it is waited for: the
 * disk writes while the job computes, and a writer holds at most two windows of dirty
 * pages. Advisory only: durability is still the fdatasync before a checkpoint or publish,
 * so a file system without sync_file_range (an error here) loses speed, not data. An
 * upload (the loop thread) only starts each window's writeback: its sink never waits. */
#define WRITEBACK_WINDOW (64u << 20)
static void sink_writeback(struct blob_sink *s)
{
    off_t pos = lseek(s->fd, 0, SEEK_CUR);
    if (pos < 0 || (uint64_t)pos < s->wb_started + WRITEBACK_WINDOW)
        return;
    (void)sync_file_range(s->fd, (off_t)s->wb_started, pos - (off_t)s->wb_started, SYNC_FILE_RANGE_WRITE);
    if (s->wb_wait && s->wb_started > s->wb_waited)
        (void)sync_file_range(s->fd, (off_t)s->wb_waited, (off_t)(s->wb_started - s->wb_waited),
                              SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER);
    s->wb_waited = s->wb_started;
    s->wb_started = (uint64_t)pos;
}

static int sink_write(struct blob_sink *s, const void *data, size_t n, struct dashi_error *err)
{
    if (sink_room(s, n, err) < 0 || check_feed(&s->check, data, n, err) < 0)
        return -1;
    if (fd_write_full(s->fd, data, n) < 0)
        return dashi_fail(err, DASHI_E_IO, "", "cannot write blob: %s", strerror(errno));
    sink_writeback(s);
    return 0;
}


static int sidecar_path(const struct blobstore *bs, const char *hash, char *out, size_t cap)
{
    return path_with(bs, hash, ".chunks", out, cap);
}

static int load_sidecar_at(int fd, const char *hash, uint64_t size, uint8_t **leaves, uint64_t *nleaves,
                           struct dashi_error *err);

/* The shard directory of hash (STATE/blobs/XX), made when missing; a symlink planted in its
 * place is refused. Into sub, for the caller's fsync. */
static int make_shard(const struct blobstore *bs, const char *hash, char *sub, size_t cap, struct dashi_error *err)
{
    snprintf(sub, cap, "%s/%.2s", bs->dir, hash);
    if (make_dir(sub, err) < 0)
        return -1;
    struct stat sb;
    if (lstat(sub, &sb) < 0 || !S_ISDIR(sb.st_mode))
        return dashi_fail(err, DASHI_E_CORRUPT, "", "%s is not a directory: refused", sub);
    return 0;
}

int blobstore_write_sidecar(const struct blobstore *bs, const char *hash, uint64_t size, const uint8_t *leaves,
                            uint64_t nleaves, struct dashi_error *err)
{
    char tmp[PATH_CAP], path[PATH_CAP], sub[PATH_CAP];
    snprintf(tmp, sizeof tmp, "%s/tmp/ck-XXXXXX", bs->dir);
    if (sidecar_path(bs, hash, path, sizeof path) != 0)
        return dashi_fail(err, DASHI_E_INTERNAL, "", "not a blob name: %s", hash);
    /* A re-addressed blob (migration 006) may be the first of its new shard. */
    if (make_shard(bs, hash, sub, sizeof sub, err) != 0)
        return -1;
    int fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0)
        return dashi_fail(err, DASHI_E_IO, "", "cannot create a chunk sidecar in %s/tmp: %s", bs->dir, strerror(errno));
    int rc = fd_write_full(fd, leaves, (size_t)(nleaves * HASH_BYTES)) == 0 && fsync(fd) == 0 && fchmod(fd, 0640) == 0
                 ? 0
                 : dashi_fail(err, DASHI_E_IO, "", "cannot write the chunk sidecar of %s: %s", hash, strerror(errno));
    /* Read back and checked against the address before the blob is published under it. */
    uint8_t *back = NULL;
    uint64_t nback;
    if (rc == 0 && lseek(fd, 0, SEEK_SET) == 0)
        rc = load_sidecar_at(fd, hash, size, &back, &nback, err);
    free(back);
    close(fd);
    if (rc == 0 && rename(tmp, path) != 0)
        rc = dashi_fail(err, DASHI_E_IO, "", "cannot publish %s: %s", path, strerror(errno));
    if (rc != 0)
        unlink(tmp);
    return rc;
}

/* Finishes the hash, makes the data durable and gives it its final name, its sidecar
 * first; the sink is closed whatever happens. The renames replace whatever lies under
 * those names: a file that was damaged, or a symlink planted there, is repaired by
 * storing the content again. */
static int sink_publish(struct blob_sink *s, struct blob_meta *meta, struct dashi_error *err)
{
    if (check_end(&s->check, meta, err) < 0) {
        sink_discard(s);
        return -1;
    }
    if (fsync(s->fd) < 0 || fchmod(s->fd, 0640) < 0) {
        dashi_fail(err, DASHI_E_IO, "", "cannot flush blob %s: %s", s->tmp, strerror(errno));
        sink_discard(s);
        return -1;
    }
    if (close(s->fd) < 0) {
        s->fd = -1;
        unlink(s->tmp);
        check_free(&s->check);
        return dashi_fail(err, DASHI_E_IO, "", "cannot write blob: %s", strerror(errno));
    }
    s->fd = -1;

    char sub[PATH_CAP], path[PATH_CAP];
    path_with(s->bs, meta->hash, ".npy", path, sizeof path);
    if (make_shard(s->bs, meta->hash, sub, sizeof sub, err) != 0) {
        unlink(s->tmp);
        check_free(&s->check);
        return -1;
    }
    int rc = blobstore_write_sidecar(s->bs, meta->hash, meta->size, s->check.tree.leaves, s->check.tree.nleaves, err);
    check_free(&s->check);
    if (rc != 0) {
        unlink(s->tmp);
        return -1;
    }
    if (rename(s->tmp, path) < 0) {
        int e = errno;
        unlink(s->tmp);
        return dashi_fail(err, DASHI_E_IO, "", "cannot publish blob %s: %s", path, strerror(e));
    }
    if (fsync_dir(sub) < 0)
        return dashi_fail(err, DASHI_E_IO, "", "cannot flush directory %s: %s", sub, strerror(errno));
    return 0;
}

/* ---- uploads: bytes from a client, header checked as soon as it is complete ---- */

struct blob_upload {
    struct blob_sink sink; /* first: carries the alignment */
    bool failed;
    struct dashi_error failure; /* why, repeated by end */
};

static void *alloc_aligned(size_t size)
{
    size_t rounded = (size + 63) / 64 * 64;
    void *p = aligned_alloc(64, rounded);
    if (p)
        memset(p, 0, rounded);
    return p;
}

int blob_upload_begin(struct blobstore *bs, uint64_t size, uint64_t max_size, struct blob_upload **up,
                      struct dashi_error *err)
{
    *up = NULL;
    if (size > max_size)
        return dashi_fail(err, DASHI_E_TOO_LARGE, "size", "blob of %llu bytes exceeds the limit of %llu",
                          (unsigned long long)size, (unsigned long long)max_size);
    struct blob_upload *u = alloc_aligned(sizeof *u);
    if (!u)
        return dashi_fail(err, DASHI_E_INTERNAL, "", "out of memory");
    if (sink_open(&u->sink, bs, "up", size, err) < 0) {
        free(u);
        return -1;
    }
    *up = u;
    return 0;
}

int blob_upload_write(struct blob_upload *up, uint64_t offset, const void *data, size_t n,
                      struct dashi_error *err)
{
    if (up->failed)
        return dashi_fail(err, up->failure.code, up->failure.field, "%s", up->failure.message);
    if (offset != up->sink.check.seen)
        return dashi_fail(err, DASHI_E_BAD_VALUE, "offset", "chunk at offset %llu, expected %llu",
                          (unsigned long long)offset, (unsigned long long)up->sink.check.seen);
    if (n > up->sink.check.size - up->sink.check.seen)
        return dashi_fail(err, DASHI_E_BAD_VALUE, "data", "chunk runs past the declared size of %llu bytes",
                          (unsigned long long)up->sink.check.size);
    if (sink_write(&up->sink, data, n, &up->failure) < 0) {
        up->failed = true;
        return dashi_fail(err, up->failure.code, up->failure.field, "%s", up->failure.message);
    }
    return 0;
}

static void upload_free(struct blob_upload *up)
{
    sink_discard(&up->sink);
    free(up);
}

int blob_upload_end(struct blob_upload *up, struct blob_meta *meta, struct dashi_error *err)
{
    int rc = -1;
    if (up->failed)
        dashi_fail(err, up->failure.code, up->failure.field, "%s", up->failure.message);
    else if (up->sink.check.seen != up->sink.check.size)
        dashi_fail(err, DASHI_E_BAD_VALUE, "size", "upload incomplete: %llu of %llu bytes",
                   (unsigned long long)up->sink.check.seen, (unsigned long long)up->sink.check.size);
    else
        rc = sink_publish(&up->sink, meta, err);
    upload_free(up);
    return rc;
}

void blob_upload_abort(struct blob_upload *up)
{
    if (up)
        upload_free(up);
}

/* ---- outputs written by the daemon ---- */

struct blob_writer {
    struct blob_sink sink; /* first: carries the alignment */
    struct npy_info info;
    bool resumable; /* a named file that outlives the writer unless aborted */
};

/* The writer for an array and its .npy header (head, *hn bytes), not yet backed by a file. */
static int writer_new(enum npy_dtype dtype, int ndim, const uint64_t *shape, char head[256], size_t *hn,
                      struct blob_writer **w, struct dashi_error *err)
{
    *w = NULL;
    struct npy_info info = {.dtype = dtype, .ndim = ndim};
    if ((unsigned)dtype >= NPY_DTYPE_COUNT || ndim < 0 || ndim > NPY_MAX_DIMS)
        return dashi_fail(err, DASHI_E_INTERNAL, "", "bad dtype or ndim for a blob");
    for (int i = 0; i < ndim; i++)
        info.shape[i] = shape[i];
    *hn = npy_make_header(head, 256, &info);
    if (*hn == 0)
        return dashi_fail(err, DASHI_E_TOO_LARGE, "shape", "array shape overflows");
    struct blob_writer *bw = alloc_aligned(sizeof *bw);
    if (!bw)
        return dashi_fail(err, DASHI_E_INTERNAL, "", "out of memory");
    bw->info = info;
    *w = bw;
    return 0;
}

int blob_writer_begin(struct blobstore *bs, enum npy_dtype dtype, int ndim, const uint64_t *shape,
                      struct blob_writer **w, struct dashi_error *err)
{
    char head[256];
    size_t hn;
    struct blob_writer *bw;
    if (writer_new(dtype, ndim, shape, head, &hn, &bw, err) < 0)
        return -1;
    if (sink_open(&bw->sink, bs, "wr", hn + bw->info.nbytes, err) < 0) {
        free(bw);
        return -1;
    }
    bw->sink.wb_wait = true; /* its appends run on the I/O thread */
    if (sink_write(&bw->sink, head, hn, err) < 0) {
        blob_writer_abort(bw);
        return -1;
    }
    *w = bw;
    return 0;
}

static bool partial_name_ok(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= 'A' && name[i] <= 'Z') ||
              (name[i] >= '0' && name[i] <= '9') || name[i] == '-' || name[i] == '_'))
            return false;
    return true;
}

static int sink_open_named(struct blob_sink *s, struct blobstore *bs, const char *name, uint64_t size,
                           struct dashi_error *err)
{
    s->bs = bs;
    s->fd = -1;
    s->wb_started = s->wb_waited = 0;
    s->wb_wait = true; /* only blob writers are named */
    if (!partial_name_ok(name))
        return dashi_fail(err, DASHI_E_INTERNAL, "", "bad name for a resumable blob: %s", name);
    if (check_begin(&s->check, bs, size, err) < 0)
        return -1;
    snprintf(s->tmp, sizeof s->tmp, "%s/tmp/part-%s", bs->dir, name);
    s->fd = open(s->tmp, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (s->fd < 0) {
        check_free(&s->check);
        return dashi_fail(err, DASHI_E_IO, "", "cannot open %s: %s", s->tmp, strerror(errno));
    }
    return 0;
}

/* Keeps the header and the first keep data bytes of the file, hashing and scanning them
 * as if they had just been written. */
static int sink_keep_prefix(struct blob_sink *s, const char *head, size_t hn, uint64_t keep, struct dashi_error *err)
{
    struct stat sb;
    if (fstat(s->fd, &sb) < 0)
        return dashi_fail(err, DASHI_E_IO, "", "cannot stat %s: %s", s->tmp, strerror(errno));
    if (!S_ISREG(sb.st_mode) || (uint64_t)sb.st_size < hn + keep)
        return dashi_fail(err, DASHI_E_NOT_FOUND, "", "%s holds %lld bytes, fewer than the %llu to resume from",
                          s->tmp, (long long)sb.st_size, (unsigned long long)(hn + keep));
    if (ftruncate(s->fd, (off_t)(hn + keep)) < 0)
        return dashi_fail(err, DASHI_E_IO, "", "cannot truncate %s: %s", s->tmp, strerror(errno));
    enum { PIECE = 1 << 20 };
    uint8_t *buf = malloc(PIECE);
    if (!buf)
        return dashi_fail(err, DASHI_E_INTERNAL, "", "out of memory");
    uint64_t end = hn + keep;
    int rc = 0;
    while (rc == 0 && s->check.seen < end) {
        uint64_t at = s->check.seen;
        size_t want = end - at < PIECE ? (size_t)(end - at) : PIECE;
        ssize_t r = pread(s->fd, buf, want, (off_t)at);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            rc = dashi_fail(err, DASHI_E_IO, "", "cannot read %s: %s", s->tmp, r < 0 ? strerror(errno) : "short");
            break;
        }
        size_t n = (size_t)r;
        if (at < hn) { /* the header must be the one this writer would write */
            size_t h = hn - at < n ? hn - (size_t)at : n;
            if (memcmp(buf, head + at, h) != 0)
                rc = dashi_fail(err, DASHI_E_NOT_FOUND, "", "%s was written for another shape", s->tmp);
        }
        if (rc == 0)
            rc = check_feed(&s->check, buf, n, err);
    }
    free(buf);
    if (rc == 0 && lseek(s->fd, 0, SEEK_END) < 0)
        rc = dashi_fail(err, DASHI_E_IO, "", "cannot seek %s: %s", s->tmp, strerror(errno));
    return rc;
}

int blob_writer_resume(struct blobstore *bs, const char *name, enum npy_dtype dtype, int ndim,
                       const uint64_t *shape, uint64_t keep, struct blob_writer **w, struct dashi_error *err)
{
    char head[256];
    size_t hn;
    struct blob_writer *bw;
    if (writer_new(dtype, ndim, shape, head, &hn, &bw, err) < 0)
        return -1;
    if (keep > bw->info.nbytes) {
        free(bw);
        return dashi_fail(err, DASHI_E_INTERNAL, "", "blob writer: resuming past the declared shape");
    }
    bw->resumable = true;
    if (sink_open_named(&bw->sink, bs, name, hn + bw->info.nbytes, err) < 0) {
        free(bw);
        return -1;
    }
    int rc = keep ? sink_keep_prefix(&bw->sink, head, hn, keep, err) : 0;
    if (!keep && ftruncate(bw->sink.fd, 0) < 0)
        rc = dashi_fail(err, DASHI_E_IO, "", "cannot truncate %s: %s", bw->sink.tmp, strerror(errno));
    if (!keep && rc == 0)
        rc = sink_write(&bw->sink, head, hn, err);
    if (rc < 0) {
        blob_writer_abort(bw);
        return -1;
    }
    *w = bw;
    return 0;
}

int blob_writer_sync(struct blob_writer *w, struct dashi_error *err)
{
    if (fdatasync(w->sink.fd) < 0)
        return dashi_fail(err, DASHI_E_IO, "", "cannot flush %s: %s", w->sink.tmp, strerror(errno));
    return 0;
}

void blob_writer_close(struct blob_writer *w)
{
    if (!w)
        return;
    if (w->resumable && w->sink.fd >= 0) {
        close(w->sink.fd);
        w->sink.fd = -1;
    }
    blob_writer_abort(w);
}

int blobstore_remove(const struct blobstore *bs, const char *hash, struct dashi_error *err)
{
    char path[PATH_CAP], side[PATH_CAP];
    if (blobstore_path(bs, hash, path, sizeof path) != 0 ||
        sidecar_path(bs, blobstore_resolve(bs, hash), side, sizeof side) != 0)
        return dashi_fail(err, DASHI_E_BAD_VALUE, "hash", "not a blob hash");
    if (unlink(path) != 0 && errno != ENOENT)
        return dashi_fail(err, DASHI_E_IO, "", "cannot remove blob %s: %s", path, strerror(errno));
    if (unlink(side) != 0 && errno != ENOENT) /* after the blob: a blob never lacks its sidecar */
        return dashi_fail(err, DASHI_E_IO, "", "cannot remove %s: %s", side, strerror(errno));
    return 0;
}

void blobstore_remove_partials(const struct blobstore *bs, const char *prefix)
{
    char tmpdir[PATH_CAP], want[96];
    snprintf(tmpdir, sizeof tmpdir, "%s/tmp", bs->dir);
    snprintf(want, sizeof want, "part-%s", prefix);
    DIR *d = opendir(tmpdir);
    if (!d)
        return; /* a leftover costs only space; the next start looks again */
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strncmp(e->d_name, want, strlen(want)) == 0)
            unlinkat(dirfd(d), e->d_name, 0);
    closedir(d);
}

int blob_writer_append(struct blob_writer *w, const void *data, size_t n, struct dashi_error *err)
{
    const struct blob_check *c = &w->sink.check;
    if (n > c->size - c->seen)
        return dashi_fail(err, DASHI_E_INTERNAL, "", "blob writer: %zu bytes past the declared shape", n);
    return sink_write(&w->sink, data, n, err);
}

int blob_writer_end(struct blob_writer *w, struct blob_meta *meta, struct dashi_error *err)
{
    int rc;
    const struct blob_check *c = &w->sink.check;
    if (c->seen != c->size)
        rc = dashi_fail(err, DASHI_E_INTERNAL, "", "blob writer: %llu of %llu bytes written",
                        (unsigned long long)c->seen, (unsigned long long)c->size);
    else
        rc = sink_publish(&w->sink, meta, err);
    blob_writer_abort(w);
    return rc;
}

void blob_writer_abort(struct blob_writer *w)
{
    if (!w)
        return;
    sink_discard(&w->sink);
    free(w);
}

int blobstore_put_array(struct blobstore *bs, enum npy_dtype dtype, int ndim, const uint64_t *shape,
                        const void *data, struct blob_meta *meta, struct dashi_error *err)
{
    struct blob_writer *w;
    if (blob_writer_begin(bs, dtype, ndim, shape, &w, err) < 0)
        return -1;
    if (blob_writer_append(w, data, (size_t)(w->sink.check.size - w->sink.check.seen), err) < 0) {
        blob_writer_abort(w);
        return -1;
    }
    return blob_writer_end(w, meta, err);
}

/* ---- reading: what leaves the store is checked against the blob's name ---- */

static int open_failure(const char *hash, const char *what, int e, struct dashi_error *err)
{
    if (e == ENOENT)
        return dashi_fail(err, DASHI_E_NOT_FOUND, "hash", "blob %s: no such blob", hash);
    if (e == ELOOP || e == ENOTDIR)
        return dashi_fail(err, DASHI_E_CORRUPT, "hash", "blob %s: its %s is a symbolic link: refused", hash, what);
    return dashi_fail(err, DASHI_E_IO, "hash", "blob %s: %s", hash, strerror(e));
}

/* Opens a blob's file without following a symlink at the shard directory or the file,
 * and without blocking on a FIFO planted there; anything but a regular file is refused
 * with E_CORRUPT. E_NOT_FOUND when absent. */
static int blob_open(const struct blobstore *bs, const char *hash, int *fd, struct stat *sb, struct dashi_error *err)
{
    *fd = -1;
    if (!is_hash(hash))
        return dashi_fail(err, DASHI_E_BAD_VALUE, "hash", "not a blob name (64 lowercase hex digits)");
    char shard[PATH_CAP], name[DASHI_HASH_HEX + 8];
    snprintf(shard, sizeof shard, "%s/%.2s", bs->dir, hash);
    snprintf(name, sizeof name, "%s.npy", hash);
    int dfd = open(shard, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dfd < 0)
        return open_failure(hash, "shard directory", errno, err);
    *fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    int e = errno;
    close(dfd);
    if (*fd < 0)
        return open_failure(hash, "file", e, err);
    if (fstat(*fd, sb) < 0) {
        e = errno;
        close(*fd);
        *fd = -1;
        return dashi_fail(err, DASHI_E_IO, "hash", "blob %s: %s", hash, strerror(e));
    }
    if (!S_ISREG(sb->st_mode)) {
        close(*fd);
        *fd = -1;
        return dashi_fail(err, DASHI_E_CORRUPT, "hash", "blob %s is not a regular file: refused", hash);
    }
    return 0;
}

static int pread_full(int fd, const char *hash, uint64_t offset, void *buf, size_t want, size_t *n,
                      struct dashi_error *err)
{
    uint8_t *p = buf;
    *n = 0;
    while (*n < want) {
        ssize_t r = pread(fd, p + *n, want - *n, (off_t)(offset + *n));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return dashi_fail(err, DASHI_E_IO, "hash", "blob %s: %s", hash, strerror(errno));
        if (r == 0)
            break;
        *n += (size_t)r;
    }
    return 0;
}

/* A check that failed on a stored file means the file is damaged: E_CORRUPT, naming it. */
static int corrupt(struct dashi_error *err, const char *hash)
{
    char why[sizeof err->message];
    snprintf(why, sizeof why, "%s", err->message);
    return dashi_fail(err, DASHI_E_CORRUPT, "hash", "blob %s: %s", hash, why);
}

/* Copies the data bytes of file range [off, off + n) into out (data starts at hl). */
static void copy_data(uint8_t *out, size_t hl, uint64_t off, const uint8_t *p, size_t n)
{
    uint64_t from = off > hl ? off : hl;
    if (from < off + n)
        memcpy(out + (from - hl), p + (from - off), (size_t)(off + n - from));
}

/* Streams size bytes of fd through a blob_check and compares the hash with the name;
 * with data, the array data is also copied into a buffer allocated here. */
static int verify_stream(const struct blobstore *bs, int fd, const char *hash, uint64_t size, struct blob_meta *meta,
                         void **data, struct dashi_error *err)
{
    enum { PIECE = 4 * BLOB_TREE_CHUNK }; /* several chunks a read, so the pool can share them out */
    struct blob_check c;
    uint8_t *buf = malloc(PIECE), *out = NULL;
    if (!buf || check_begin(&c, bs, size, err) < 0) {
        free(buf);
        return dashi_fail(err, DASHI_E_INTERNAL, "", "out of memory");
    }
    int rc = -1;
    for (uint64_t off = 0; off < size;) {
        size_t n;
        if (pread_full(fd, hash, off, buf, size - off < PIECE ? (size_t)(size - off) : PIECE, &n, err) < 0)
            goto done;
        if (n == 0) {
            dashi_fail(err, DASHI_E_CORRUPT, "hash", "blob %s: the file ended early", hash);
            goto done;
        }
        if (check_feed(&c, buf, n, err) < 0) {
            corrupt(err, hash);
            goto done;
        }
        if (data && c.parsed && !out) {
            if (c.info.nbytes > SIZE_MAX - 1 || !(out = malloc(c.info.nbytes ? (size_t)c.info.nbytes : 1))) {
                dashi_fail(err, DASHI_E_TOO_LARGE, "hash", "blob %s: cannot allocate %llu bytes", hash,
                           (unsigned long long)c.info.nbytes);
                goto done;
            }
        }
        if (out) /* data starts after the header, in the chunk that completed it or later */
            copy_data(out, c.info.header_len, off, buf, n);
        off += n;
    }
    if (check_end(&c, meta, err) < 0) {
        corrupt(err, hash);
        goto done;
    }
    if (strcmp(meta->hash, hash) != 0) {
        dashi_fail(err, DASHI_E_CORRUPT, "hash", "blob %s: its bytes do not match its name (altered or damaged)",
                   hash);
        goto done;
    }
    if (data) {
        *data = out;
        out = NULL;
    }
    rc = 0;
done:
    check_free(&c);
    free(out);
    free(buf);
    return rc;
}

int blobstore_meta(const struct blobstore *bs, const char *hash, struct blob_meta *meta, struct dashi_error *err)
{
    int fd;
    struct stat sb;
    hash = blobstore_resolve(bs, hash);
    if (blob_open(bs, hash, &fd, &sb, err) < 0)
        return -1;
    int rc = verify_stream(bs, fd, hash, (uint64_t)sb.st_size, meta, NULL, err);
    close(fd);
    return rc;
}

/* The error names the job input that refers to the blob. */
static int name_input(struct dashi_error *err, const char *input)
{
    char why[sizeof err->message];
    snprintf(why, sizeof why, "%s", err->message);
    return dashi_fail(err, err->code, input, "%s: %s", input, why);
}

int blobstore_load(const struct blobstore *bs, const char *input, const char *hash, struct npy_info *info,
                   void **data, struct dashi_error *err)
{
    *data = NULL;
    int fd;
    struct stat sb;
    struct blob_meta meta;
    hash = blobstore_resolve(bs, hash);
    if (blob_open(bs, hash, &fd, &sb, err) < 0)
        return name_input(err, input);
    int rc = verify_stream(bs, fd, hash, (uint64_t)sb.st_size, &meta, data, err);
    close(fd);
    if (rc < 0)
        return name_input(err, input);
    *info = meta.info;
    return 0;
}

/* ---- the chunk sidecar: the leaves of a blob, checked against its address ---- */

static int load_sidecar_at(int fd, const char *hash, uint64_t size, uint8_t **leaves, uint64_t *nleaves,
                           struct dashi_error *err)
{
    *leaves = NULL;
    uint64_t count = blob_tree_leaf_count(size, CHUNK);
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || (uint64_t)sb.st_size != count * HASH_BYTES)
        return dashi_fail(err, DASHI_E_CORRUPT, "hash", "blob %s: its chunk sidecar is not %llu leaves (repair: dashi fsck)",
                          hash, (unsigned long long)count);
    uint8_t *l = malloc((size_t)(count * HASH_BYTES));
    size_t n;
    if (!l)
        return dashi_fail(err, DASHI_E_INTERNAL, "", "out of memory");
    if (pread_full(fd, hash, 0, l, (size_t)(count * HASH_BYTES), &n, err) < 0) {
        free(l);
        return -1;
    }
    uint8_t root[HASH_BYTES], want[HASH_BYTES];
    blob_tree_root(size, CHUNK, l, count, root);
    if (n != count * HASH_BYTES || sodium_hex2bin(want, sizeof want, hash, DASHI_HASH_HEX, NULL, NULL, NULL) != 0 ||
        sodium_memcmp(root, want, HASH_BYTES) != 0) {
        free(l);
        return dashi_fail(err, DASHI_E_CORRUPT, "hash",
                          "blob %s: its chunk sidecar does not match its address (repair: dashi fsck)", hash);
    }
    *leaves = l;
    *nleaves = count;
    return 0;
}

/* The leaves of a blob of size bytes, from <hash>.chunks (not followed if a symlink). */
static int load_sidecar(const struct blobstore *bs, const char *hash, uint64_t size, uint8_t **leaves,
                        uint64_t *nleaves, struct dashi_error *err)
{
    char path[PATH_CAP];
    *leaves = NULL;
    if (sidecar_path(bs, hash, path, sizeof path) != 0)
        return dashi_fail(err, DASHI_E_BAD_VALUE, "hash", "not a blob name (64 lowercase hex digits)");
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return dashi_fail(err, DASHI_E_CORRUPT, "hash", "blob %s: its chunk sidecar %s: %s (repair: dashi fsck)",
                          hash, errno == ENOENT ? "is missing" : "cannot be read", strerror(errno));
    int rc = load_sidecar_at(fd, hash, size, leaves, nleaves, err);
    close(fd);
    return rc;
}

int blobstore_check_sidecar(const struct blobstore *bs, const char *hash, uint64_t size, struct dashi_error *err)
{
    uint8_t *leaves;
    uint64_t n;
    int rc = load_sidecar(bs, blobstore_resolve(bs, hash), size, &leaves, &n, err);
    free(leaves);
    return rc;
}

/* Reads chunk index of fd (file of size bytes) into buf and checks it against its leaf;
 * *n: its length. E_CORRUPT naming the chunk when it does not match. */
static int read_chunk(int fd, const char *hash, uint64_t size, const uint8_t *leaves, uint64_t index, uint8_t *buf,
                      size_t *n, struct dashi_error *err)
{
    uint64_t off = index * CHUNK;
    size_t want = size - off < CHUNK ? (size_t)(size - off) : (size_t)CHUNK;
    if (pread_full(fd, hash, off, buf, want, n, err) < 0)
        return -1;
    uint8_t leaf[HASH_BYTES];
    blob_tree_leaf(index, buf, *n, leaf);
    if (*n != want || sodium_memcmp(leaf, leaves + index * HASH_BYTES, HASH_BYTES) != 0)
        return dashi_fail(err, DASHI_E_CORRUPT, "hash",
                          "blob %s: chunk %llu (bytes %llu to %llu) does not match its leaf: damaged, not served", hash,
                          (unsigned long long)index, (unsigned long long)off, (unsigned long long)(off + want));
    return 0;
}

int blobstore_read(const struct blobstore *bs, const char *hash, uint64_t offset, void *buf, size_t len,
                   size_t *n, uint64_t *total, struct dashi_error *err)
{
    *n = 0;
    int fd;
    struct stat sb;
    hash = blobstore_resolve(bs, hash);
    if (blob_open(bs, hash, &fd, &sb, err) < 0)
        return -1;
    *total = (uint64_t)sb.st_size;
    uint64_t end = *total - offset < len ? *total : offset + len;
    uint8_t *leaves = NULL, *chunk = NULL;
    uint64_t nleaves;
    int rc = 0;
    if (offset > *total)
        rc = dashi_fail(err, DASHI_E_BAD_VALUE, "offset", "offset %llu is past the end (%llu bytes)",
                        (unsigned long long)offset, (unsigned long long)*total);
    else if (load_sidecar(bs, hash, *total, &leaves, &nleaves, err) < 0)
        rc = -1;
    else if (end > offset && !(chunk = malloc((size_t)CHUNK)))
        rc = dashi_fail(err, DASHI_E_INTERNAL, "", "out of memory");
    /* Whole chunks are read and checked before any byte of them is copied out. */
    for (uint64_t i = offset / CHUNK; rc == 0 && end > offset && i <= (end - 1) / CHUNK; i++) {
        size_t got;
        if (read_chunk(fd, hash, *total, leaves, i, chunk, &got, err) < 0) {
            rc = -1;
            break;
        }
        uint64_t from = i * CHUNK > offset ? i * CHUNK : offset, to = i * CHUNK + got < end ? i * CHUNK + got : end;
        memcpy((uint8_t *)buf + (from - offset), chunk + (from - i * CHUNK), (size_t)(to - from));
    }
    if (rc == 0)
        *n = (size_t)(end - offset);
    free(chunk);
    free(leaves);
    close(fd);
    return rc;
}

/* ---- a blob kept open for reads at offsets (frames of a job's input) ---- */

int blob_reader_open(const struct blobstore *bs, const char *input, const char *hash, struct blob_reader *r,
                     struct dashi_error *err)
{
    *r = (struct blob_reader){.fd = -1};
    hash = blobstore_resolve(bs, hash);
    snprintf(r->hash, sizeof r->hash, "%s", hash);
    snprintf(r->input, sizeof r->input, "%s", input);
    if (blob_open(bs, hash, &r->fd, &r->verified, err) < 0)
        return name_input(err, input);
    uint64_t size = (uint64_t)r->verified.st_size;
    size_t n, hl;
    if (load_sidecar(bs, hash, size, &r->leaves, &r->nleaves, err) < 0) {
        blob_reader_close(r);
        return name_input(err, input);
    }
    if (!(r->checked = calloc((size_t)(r->nleaves + 7) / 8, 1)) || !(r->chunk = malloc((size_t)CHUNK))) {
        blob_reader_close(r);
        return dashi_fail(err, DASHI_E_INTERNAL, input, "%s: out of memory", input);
    }
    /* The header lies in chunk 0: checked now, the other chunks on their first read. */
    struct dashi_error why;
    if (read_chunk(r->fd, hash, size, r->leaves, 0, r->chunk, &n, err) < 0) {
        blob_reader_close(r);
        return name_input(err, input);
    }
    if (npy_header_length(r->chunk, n, &hl, &why) < 0 || hl == 0 || hl > n ||
        npy_parse_header(r->chunk, hl, &r->meta.info, &why) < 0 || r->meta.info.header_len + r->meta.info.nbytes != size) {
        blob_reader_close(r);
        dashi_fail(err, DASHI_E_CORRUPT, "hash", "blob %s: its .npy header is invalid or does not match its size", hash);
        return name_input(err, input);
    }
    r->checked[0] |= 1;
    snprintf(r->meta.hash, sizeof r->meta.hash, "%s", hash);
    r->meta.size = size;
    r->meta.all_finite = false; /* not scanned here: the store's row records it */
    return 0;
}

int blob_reader_read(const struct blob_reader *r, uint64_t offset, void *buf, size_t len, struct dashi_error *err)
{
    struct stat now;
    if (fstat(r->fd, &now) < 0)
        return dashi_fail(err, DASHI_E_IO, r->input, "%s: blob %s: %s", r->input, r->hash, strerror(errno));
    if (now.st_size != r->verified.st_size || now.st_mtim.tv_sec != r->verified.st_mtim.tv_sec ||
        now.st_mtim.tv_nsec != r->verified.st_mtim.tv_nsec)
        return dashi_fail(err, DASHI_E_CORRUPT, r->input, "%s: blob %s was modified after it was verified",
                          r->input, r->hash);
    uint64_t size = r->meta.size;
    if (offset > size || len > size - offset)
        return dashi_fail(err, DASHI_E_CORRUPT, r->input, "%s: blob %s: short read at offset %llu", r->input,
                          r->hash, (unsigned long long)offset);
    uint8_t *out = buf;
    for (uint64_t at = offset; at < offset + len;) {
        uint64_t i = at / CHUNK, take = (i + 1) * CHUNK < offset + len ? (i + 1) * CHUNK - at : offset + len - at;
        size_t n;
        if (r->checked[i / 8] & (1u << (i % 8))) {
            if (pread_full(r->fd, r->hash, at, out, (size_t)take, &n, err) < 0)
                return name_input(err, r->input);
            if (n != take)
                return dashi_fail(err, DASHI_E_CORRUPT, r->input, "%s: blob %s: short read at offset %llu", r->input,
                                  r->hash, (unsigned long long)at);
        } else { /* first read of this chunk: checked whole, served from what was checked */
            if (read_chunk(r->fd, r->hash, size, r->leaves, i, r->chunk, &n, err) < 0)
                return name_input(err, r->input);
            r->checked[i / 8] |= (uint8_t)(1u << (i % 8));
            memcpy(out, r->chunk + (at - i * CHUNK), (size_t)take);
        }
        out += take;
        at += take;
    }
    return 0;
}

void blob_reader_close(struct blob_reader *r)
{
    if (r->fd >= 0)
        close(r->fd);
    r->fd = -1;
    free(r->leaves);
    free(r->checked);
    free(r->chunk);
    r->leaves = r->checked = r->chunk = NULL;
}

/* ---- re-addressing a blob stored under its old name (migration 006) ---- */

bool blobstore_has_sidecar(const struct blobstore *bs, const char *hash)
{
    char path[PATH_CAP];
    struct stat sb;
    return sidecar_path(bs, hash, path, sizeof path) == 0 && lstat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

/* Streams the file once through both hashes: the old name must still be its BLAKE2b-256
 * (else it is damaged and stays as it is, for fsck to report), the tree gives the new. */
static int hash_old_file(const struct blobstore *bs, int fd, const char *old, uint64_t size, struct blob_check *c,
                         struct blob_meta *meta, struct dashi_error *err)
{
    crypto_generichash_state whole;
    crypto_generichash_init(&whole, NULL, 0, HASH_BYTES);
    enum { PIECE = 4 * BLOB_TREE_CHUNK };
    uint8_t *buf = malloc(PIECE);
    if (!buf || check_begin(c, bs, size, err) < 0) {
        free(buf);
        return dashi_fail(err, DASHI_E_INTERNAL, "", "out of memory");
    }
    int rc = 0;
    for (uint64_t off = 0; rc == 0 && off < size;) {
        size_t n;
        rc = pread_full(fd, old, off, buf, size - off < PIECE ? (size_t)(size - off) : PIECE, &n, err);
        if (rc == 0 && n == 0)
            rc = dashi_fail(err, DASHI_E_CORRUPT, "hash", "blob %s: the file ended early", old);
        if (rc == 0 && check_feed(c, buf, n, err) < 0)
            rc = corrupt(err, old);
        crypto_generichash_update(&whole, buf, n);
        off += n;
    }
    free(buf);
    uint8_t digest[HASH_BYTES];
    char hex[DASHI_HASH_HEX + 1];
    crypto_generichash_final(&whole, digest, sizeof digest);
    sodium_bin2hex(hex, sizeof hex, digest, sizeof digest);
    if (rc == 0 && check_end(c, meta, err) < 0)
        rc = corrupt(err, old);
    if (rc == 0 && strcmp(hex, old) != 0 && strcmp(meta->hash, old) != 0)
        rc = dashi_fail(err, DASHI_E_CORRUPT, "hash", "blob %s: its bytes match neither its old nor its new name", old);
    return rc;
}

int blobstore_readdress(const struct blobstore *bs, const char *old, struct blob_meta *meta, struct dashi_error *err)
{
    int fd;
    struct stat sb;
    struct blob_check c = {0};
    if (blob_open(bs, old, &fd, &sb, err) < 0)
        return -1;
    int rc = hash_old_file(bs, fd, old, (uint64_t)sb.st_size, &c, meta, err);
    close(fd);
    if (rc == 0)
        rc = blobstore_write_sidecar(bs, meta->hash, meta->size, c.tree.leaves, c.tree.nleaves, err);
    check_free(&c);
    if (rc != 0 || strcmp(meta->hash, old) == 0) /* already its address: only the sidecar was missing */
        return rc;
    char from[PATH_CAP], to[PATH_CAP], sub[PATH_CAP];
    path_with(bs, old, ".npy", from, sizeof from);
    path_with(bs, meta->hash, ".npy", to, sizeof to);
    snprintf(sub, sizeof sub, "%s/%.2s", bs->dir, meta->hash);
    /* The sidecar's rename made the shard; a link already there holds the same bytes. */
    if (link(from, to) != 0 && errno != EEXIST)
        return dashi_fail(err, DASHI_E_IO, "", "cannot link %s to %s: %s", from, to, strerror(errno));
    if (fsync_dir(sub) < 0)
        return dashi_fail(err, DASHI_E_IO, "", "cannot flush directory %s: %s", sub, strerror(errno));
    return 0;
}

int blobstore_unlink_old(const struct blobstore *bs, const char *old, struct dashi_error *err)
{
    char path[PATH_CAP], sub[PATH_CAP];
    if (path_with(bs, old, ".npy", path, sizeof path) != 0)
        return dashi_fail(err, DASHI_E_BAD_VALUE, "hash", "not a blob hash");
    if (unlink(path) != 0 && errno != ENOENT)
        return dashi_fail(err, DASHI_E_IO, "", "cannot remove %s: %s", path, strerror(errno));
    snprintf(sub, sizeof sub, "%s/%.2s", bs->dir, old);
    if (fsync_dir(sub) < 0 && errno != ENOENT)
        return dashi_fail(err, DASHI_E_IO, "", "cannot flush directory %s: %s", sub, strerror(errno));
    return 0;
}
