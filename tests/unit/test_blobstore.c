/* SPDX-License-Identifier: MIT */
/* Blob store on a real directory: hashes (published BLAKE2b vectors and an independent
 * hash of the file on disk), chunked uploads, streaming writers, checks, reads, and reads
 * of files damaged or replaced behind the store's back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blobstore.h"
#include "scratch_dir.h"

struct fixture {
    char dir[64];
    struct blobstore bs;
};

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof *fx);
    if (!fx)
        return -1;
    struct dashi_error err = {0};
    if (scratch_dir_make(fx->dir, sizeof fx->dir, "blob") != 0 || blobstore_open(&fx->bs, fx->dir, &err) < 0) {
        free(fx);
        return -1;
    }
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    scratch_dir_remove(fx->dir);
    free(fx);
    return 0;
}

static void hex_of(const uint8_t *b, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", b[i]);
}

static void blake2b_hex(const void *data, size_t n, size_t outlen, char *out)
{
    uint8_t d[64];
    assert_int_equal(crypto_generichash(d, outlen, data, n, NULL, 0), 0);
    hex_of(d, outlen, out);
}

/* The chunk-tree address written out from docs/storage.md with plain BLAKE2b calls, not
 * through num/blob_tree.c: leaves over 4 MiB chunks, then the root. */
static void address_hex(const uint8_t *data, size_t n, char *out)
{
    const size_t C = 4u << 20;
    size_t count = n == 0 ? 1 : (n + C - 1) / C;
    uint8_t *msg = malloc(18 + 32 * count);
    assert_non_null(msg);
    msg[0] = 1;
    msg[1] = 1;
    for (int b = 0; b < 8; b++) {
        msg[2 + b] = (uint8_t)((uint64_t)n >> (8 * b));
        msg[10 + b] = (uint8_t)((uint64_t)C >> (8 * b));
    }
    for (size_t i = 0; i < count; i++) {
        size_t len = n - i * C < C ? n - i * C : C;
        uint8_t *chunk = malloc(9 + len);
        assert_non_null(chunk);
        chunk[0] = 0;
        for (int b = 0; b < 8; b++)
            chunk[1 + b] = (uint8_t)((uint64_t)i >> (8 * b));
        memcpy(chunk + 9, data + i * C, len);
        assert_int_equal(crypto_generichash(msg + 18 + 32 * i, 32, chunk, 9 + len, NULL, 0), 0);
        free(chunk);
    }
    uint8_t d[32];
    assert_int_equal(crypto_generichash(d, 32, msg, 18 + 32 * count, NULL, 0), 0);
    free(msg);
    hex_of(d, 32, out);
}

static uint8_t *read_file(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc(*n ? *n : 1);
    assert_non_null(b);
    assert_int_equal(fread(b, 1, *n, f), *n);
    fclose(f);
    return b;
}

static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

static int tmp_entries(struct fixture *fx)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s/tmp", fx->bs.dir);
    return count_entries(tmp);
}

/* Published vectors: RFC 7693 appendix A (BLAKE2b-512 of "abc") and docs/numerics.md
 * "Rollout" (BLAKE2b-128), through the same libsodium call the store uses. */
static void test_published_vectors(void **state)
{
    (void)state;
    assert_true(sodium_init() >= 0);
    char hex[129];
    blake2b_hex("abc", 3, 64, hex);
    assert_string_equal(hex, "ba80a53f981c4d0d6a2797b69f12f6e94c212f14685ac4b74b12bb6fdbffa2d1"
                             "7d87c5392aab792dc252d5de4533cc9518d38aa8dbf1925ab92386edd4009923");
    blake2b_hex("", 0, 16, hex);
    assert_string_equal(hex, "cae66941d9efbd404e4d88758ea67670");
    double ar[4] = {0, 1, 2, 3};
    blake2b_hex(ar, sizeof ar, 16, hex);
    assert_string_equal(hex, "4a327343ec85d1cc40eb22ae0db7bd9b");
    double *zeros = calloc(654, sizeof *zeros);
    blake2b_hex(zeros, 654 * sizeof *zeros, 16, hex);
    assert_string_equal(hex, "33cea45f83903ec80cef4e51690d69da");
    free(zeros);
}

/* The blob name is the chunk-tree address of the file bytes as they lie on disk. */
static void test_put_array_hash_is_file_hash(void **state)
{
    struct fixture *fx = *state;
    double v[100];
    for (int i = 0; i < 100; i++)
        v[i] = i * 0.25 - 3;
    uint64_t shape[2] = {10, 10};
    struct blob_meta meta;
    struct dashi_error err = {0};
    assert_int_equal(blobstore_put_array(&fx->bs, NPY_F8, 2, shape, v, &meta, &err), 0);
    assert_true(blobstore_exists(&fx->bs, meta.hash));
    assert_int_equal(meta.info.ndim, 2);
    assert_int_equal(meta.info.nbytes, 800);
    assert_int_equal(meta.size, meta.info.header_len + 800);
    assert_true(meta.all_finite);

    char path[4200];
    assert_int_equal(blobstore_path(&fx->bs, meta.hash, path, sizeof path), 0);
    size_t n;
    uint8_t *bytes = read_file(path, &n);
    assert_int_equal(n, meta.size);
    char hex[65];
    address_hex(bytes, n, hex);
    assert_string_equal(hex, meta.hash);
    assert_memory_equal(bytes + meta.info.header_len, v, 800);
    free(bytes);

    /* sharded by the first two hex digits, file 0640, directories 0700 */
    char expect[4200];
    snprintf(expect, sizeof expect, "%s/%.2s/%s.npy", fx->bs.dir, meta.hash, meta.hash);
    assert_string_equal(path, expect);
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0640);
    assert_int_equal(stat(fx->bs.dir, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0700);
    assert_int_equal(tmp_entries(fx), 0);

    /* the same content again: same name, one file (and its chunk sidecar) */
    struct blob_meta again;
    assert_int_equal(blobstore_put_array(&fx->bs, NPY_F8, 2, shape, v, &again, &err), 0);
    assert_string_equal(again.hash, meta.hash);
    char sub[4200];
    snprintf(sub, sizeof sub, "%s/%.2s", fx->bs.dir, meta.hash);
    assert_int_equal(count_entries(sub), 2);
    assert_int_equal(tmp_entries(fx), 0);
}

static int upload_in_chunks(struct fixture *fx, const uint8_t *bytes, size_t n, size_t chunk,
                            struct blob_meta *meta, struct dashi_error *err)
{
    struct blob_upload *up;
    if (blob_upload_begin(&fx->bs, n, 1u << 30, &up, err) < 0)
        return -1;
    for (size_t off = 0; off < n; off += chunk) {
        size_t len = n - off < chunk ? n - off : chunk;
        if (blob_upload_write(up, off, bytes + off, len, err) < 0) {
            blob_upload_abort(up);
            return -1;
        }
    }
    return blob_upload_end(up, meta, err);
}

static void test_upload_equals_put_array(void **state)
{
    struct fixture *fx = *state;
    float v[37];
    for (int i = 0; i < 37; i++)
        v[i] = (float)i / 7.0f;
    uint64_t shape[1] = {37};
    struct blob_meta put;
    struct dashi_error err = {0};
    assert_int_equal(blobstore_put_array(&fx->bs, NPY_F4, 1, shape, v, &put, &err), 0);

    char path[4200];
    blobstore_path(&fx->bs, put.hash, path, sizeof path);
    size_t n;
    uint8_t *bytes = read_file(path, &n);
    static const size_t chunks[] = {1, 3, 7, 64, 100, 1000};
    for (size_t c = 0; c < sizeof chunks / sizeof *chunks; c++) {
        struct blob_meta meta;
        assert_int_equal(upload_in_chunks(fx, bytes, n, chunks[c], &meta, &err), 0);
        assert_string_equal(meta.hash, put.hash);
        assert_int_equal(meta.info.dtype, NPY_F4);
        assert_int_equal(meta.info.shape[0], 37);
        assert_int_equal(meta.size, n);
        assert_true(meta.all_finite);
    }
    free(bytes);
    assert_int_equal(tmp_entries(fx), 0);
}

static void test_upload_reference_file(void **state)
{
    struct fixture *fx = *state;
    size_t n;
    uint8_t *bytes = read_file("tests/data/A.npy", &n);
    struct blob_meta meta;
    struct dashi_error err = {0};
    assert_int_equal(upload_in_chunks(fx, bytes, n, 65536, &meta, &err), 0);
    char hex[65];
    address_hex(bytes, n, hex);
    assert_string_equal(meta.hash, hex);
    assert_int_equal(meta.info.shape[0], 654);
    assert_int_equal(meta.info.shape[1], 654);
    assert_true(meta.all_finite);

    struct npy_info info;
    void *data;
    assert_int_equal(blobstore_load(&fx->bs, "x", meta.hash, &info, &data, &err), 0);
    assert_int_equal(info.nbytes, 654 * 654 * 8);
    assert_memory_equal(data, bytes + info.header_len, info.nbytes);
    free(data);
    free(bytes);
}

static uint8_t *make_npy(enum npy_dtype dtype, uint64_t count, const void *data, size_t *n)
{
    struct npy_info info = {.dtype = dtype, .ndim = 1, .shape = {count}};
    char head[256];
    size_t hn = npy_make_header(head, sizeof head, &info);
    assert_true(hn > 0);
    *n = hn + info.nbytes;
    uint8_t *b = malloc(*n);
    memcpy(b, head, hn);
    memcpy(b + hn, data, info.nbytes);
    return b;
}

static void test_upload_rejections(void **state)
{
    struct fixture *fx = *state;
    int32_t v[16] = {0};
    size_t n;
    uint8_t *bytes = make_npy(NPY_I4, 16, v, &n);
    struct blob_upload *up;
    struct blob_meta meta;
    struct dashi_error err = {0};

    /* over the limit */
    assert_int_equal(blob_upload_begin(&fx->bs, n, n - 1, &up, &err), -1);
    assert_int_equal(err.code, DASHI_E_TOO_LARGE);

    /* out of order, then continuing correctly */
    assert_int_equal(blob_upload_begin(&fx->bs, n, n, &up, &err), 0);
    assert_int_equal(blob_upload_write(up, 10, bytes + 10, 5, &err), -1);
    assert_int_equal(err.code, DASHI_E_BAD_VALUE);
    assert_string_equal(err.field, "offset");
    assert_int_equal(blob_upload_write(up, 0, bytes, 10, &err), 0);
    assert_int_equal(blob_upload_write(up, 0, bytes, 10, &err), -1); /* replay */
    assert_string_equal(err.field, "offset");
    assert_int_equal(blob_upload_write(up, 10, bytes + 10, n, &err), -1); /* past the end */
    assert_int_equal(err.code, DASHI_E_BAD_VALUE);
    /* ending early: incomplete */
    assert_int_equal(blob_upload_end(up, &meta, &err), -1);
    assert_int_equal(err.code, DASHI_E_BAD_VALUE);
    assert_int_equal(tmp_entries(fx), 0);

    /* declared size one byte more than the header describes */
    uint8_t *longer = calloc(1, n + 1);
    memcpy(longer, bytes, n);
    assert_int_equal(upload_in_chunks(fx, longer, n + 1, 5, &meta, &err), -1);
    assert_int_equal(err.code, DASHI_E_BAD_VALUE);
    assert_string_equal(err.field, "npy");
    free(longer);
    /* data one byte short of what the header describes */
    assert_int_equal(upload_in_chunks(fx, bytes, n - 1, 4096, &meta, &err), -1);
    assert_string_equal(err.field, "npy");

    /* a bad header: end repeats the reason */
    uint8_t *bad = malloc(n);
    memcpy(bad, bytes, n);
    memcpy(bad + 10, "{'descr': '>i4'", 15);
    assert_int_equal(blob_upload_begin(&fx->bs, n, n, &up, &err), 0);
    assert_int_equal(blob_upload_write(up, 0, bad, n, &err), -1);
    assert_string_equal(err.field, "npy");
    memset(&err, 0, sizeof err);
    assert_int_equal(blob_upload_end(up, &meta, &err), -1);
    assert_int_equal(err.code, DASHI_E_BAD_VALUE);
    assert_string_equal(err.field, "npy");
    free(bad);

    /* shorter than any header */
    assert_int_equal(upload_in_chunks(fx, bytes, 9, 4, &meta, &err), -1);
    assert_int_equal(err.code, DASHI_E_BAD_VALUE);
    assert_string_equal(err.field, "npy");
    /* not npy at all */
    assert_int_equal(upload_in_chunks(fx, (const uint8_t *)"hello world, plain text", 23, 23, &meta, &err), -1);
    assert_string_equal(err.field, "npy");

    /* abort cleans up */
    assert_int_equal(blob_upload_begin(&fx->bs, n, n, &up, &err), 0);
    assert_int_equal(blob_upload_write(up, 0, bytes, 20, &err), 0);
    blob_upload_abort(up);
    assert_int_equal(tmp_entries(fx), 0);
    free(bytes);
}

static void test_non_finite_detection(void **state)
{
    struct fixture *fx = *state;
    struct dashi_error err = {0};
    struct blob_meta meta;
    double d[50];
    for (int i = 0; i < 50; i++)
        d[i] = i;
    size_t n;
    uint8_t *bytes = make_npy(NPY_F8, 50, d, &n);
    /* chunk sizes that split items across writes */
    assert_int_equal(upload_in_chunks(fx, bytes, n, 3, &meta, &err), 0);
    assert_true(meta.all_finite);
    free(bytes);

    d[33] = NAN;
    bytes = make_npy(NPY_F8, 50, d, &n);
    for (size_t chunk = 1; chunk <= 13; chunk += 4) {
        assert_int_equal(upload_in_chunks(fx, bytes, n, chunk, &meta, &err), 0);
        assert_false(meta.all_finite);
    }
    free(bytes);

    float f[9] = {1, 2, 3, 4, 5, 6, 7, 8, INFINITY};
    bytes = make_npy(NPY_F4, 9, f, &n);
    assert_int_equal(upload_in_chunks(fx, bytes, n, 5, &meta, &err), 0);
    assert_false(meta.all_finite);
    free(bytes);

    uint64_t shape[1] = {9};
    f[8] = -INFINITY;
    assert_int_equal(blobstore_put_array(&fx->bs, NPY_F4, 1, shape, f, &meta, &err), 0);
    assert_false(meta.all_finite);
    f[8] = 9;
    assert_int_equal(blobstore_put_array(&fx->bs, NPY_F4, 1, shape, f, &meta, &err), 0);
    assert_true(meta.all_finite);

    /* integers are always finite, whatever their bit pattern */
    int64_t bits[2];
    double nan = NAN;
    memcpy(&bits[0], &nan, 8);
    bits[1] = -1;
    uint64_t two[1] = {2};
    assert_int_equal(blobstore_put_array(&fx->bs, NPY_I8, 1, two, bits, &meta, &err), 0);
    assert_true(meta.all_finite);
}

static void test_writer_streams(void **state)
{
    struct fixture *fx = *state;
    double v[3][40];
    for (int i = 0; i < 120; i++)
        v[i / 40][i % 40] = sin(i);
    uint64_t shape[2] = {3, 40};
    struct dashi_error err = {0};
    struct blob_meta whole, streamed;
    assert_int_equal(blobstore_put_array(&fx->bs, NPY_F8, 2, shape, v, &whole, &err), 0);

    struct blob_writer *w;
    assert_int_equal(blob_writer_begin(&fx->bs, NPY_F8, 2, shape, &w, &err), 0);
    for (int r = 0; r < 3; r++)
        assert_int_equal(blob_writer_append(w, v[r], sizeof v[r], &err), 0);
    assert_int_equal(blob_writer_append(w, v[0], 1, &err), -1); /* past the shape */
    assert_int_equal(blob_writer_end(w, &streamed, &err), 0);
    assert_string_equal(streamed.hash, whole.hash);
    assert_int_equal(streamed.size, whole.size);

    /* ending short fails and leaves nothing behind */
    assert_int_equal(blob_writer_begin(&fx->bs, NPY_F8, 2, shape, &w, &err), 0);
    assert_int_equal(blob_writer_append(w, v[0], sizeof v[0], &err), 0);
    assert_int_equal(blob_writer_end(w, &streamed, &err), -1);
    assert_int_equal(tmp_entries(fx), 0);

    /* 0-d arrays */
    double scalar = 2.5;
    assert_int_equal(blobstore_put_array(&fx->bs, NPY_F8, 0, NULL, &scalar, &whole, &err), 0);
    struct npy_info info;
    void *data;
    assert_int_equal(blobstore_load(&fx->bs, "x", whole.hash, &info, &data, &err), 0);
    assert_int_equal(info.ndim, 0);
    assert_int_equal(info.count, 1);
    assert_true(*(double *)data == 2.5);
    free(data);
}

static void test_read_at_offsets(void **state)
{
    struct fixture *fx = *state;
    uint8_t v[3000];
    for (size_t i = 0; i < sizeof v; i++)
        v[i] = (uint8_t)(i * 7);
    uint64_t shape[1] = {sizeof v};
    struct blob_meta meta;
    struct dashi_error err = {0};
    assert_int_equal(blobstore_put_array(&fx->bs, NPY_U1, 1, shape, v, &meta, &err), 0);

    char path[4200];
    blobstore_path(&fx->bs, meta.hash, path, sizeof path);
    size_t fn;
    uint8_t *file = read_file(path, &fn);
    uint8_t buf[512];
    size_t n;
    uint64_t total;
    assert_int_equal(blobstore_read(&fx->bs, meta.hash, 1000, buf, sizeof buf, &n, &total, &err), 0);
    assert_int_equal(n, sizeof buf);
    assert_int_equal(total, fn);
    assert_memory_equal(buf, file + 1000, n);
    /* the tail is shorter than the buffer */
    assert_int_equal(blobstore_read(&fx->bs, meta.hash, fn - 100, buf, sizeof buf, &n, &total, &err), 0);
    assert_int_equal(n, 100);
    assert_memory_equal(buf, file + fn - 100, n);
    assert_int_equal(blobstore_read(&fx->bs, meta.hash, fn, buf, sizeof buf, &n, &total, &err), 0);
    assert_int_equal(n, 0);
    assert_int_equal(blobstore_read(&fx->bs, meta.hash, fn + 1, buf, sizeof buf, &n, &total, &err), -1);
    assert_int_equal(err.code, DASHI_E_BAD_VALUE);
    free(file);
}

static void test_missing_and_bad_names(void **state)
{
    struct fixture *fx = *state;
    const char *absent = "0000000000000000000000000000000000000000000000000000000000000000";
    uint8_t buf[16];
    size_t n;
    uint64_t total;
    struct npy_info info;
    void *data;
    struct dashi_error err = {0};
    assert_false(blobstore_exists(&fx->bs, absent));
    assert_int_equal(blobstore_read(&fx->bs, absent, 0, buf, sizeof buf, &n, &total, &err), -1);
    assert_int_equal(err.code, DASHI_E_NOT_FOUND);
    assert_int_equal(blobstore_load(&fx->bs, "x", absent, &info, &data, &err), -1);
    assert_int_equal(err.code, DASHI_E_NOT_FOUND);

    /* names that are not hashes never become paths */
    static const char *const bad[] = {"../../../etc/passwd", "ABCDEF0000000000000000000000000000000000000000000000000000000000",
                                      "00", "", "000000000000000000000000000000000000000000000000000000000000000000"};
    char path[4200];
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        assert_false(blobstore_exists(&fx->bs, bad[i]));
        assert_int_equal(blobstore_path(&fx->bs, bad[i], path, sizeof path), -1);
        assert_int_equal(blobstore_read(&fx->bs, bad[i], 0, buf, sizeof buf, &n, &total, &err), -1);
        assert_int_equal(err.code, DASHI_E_BAD_VALUE);
        assert_int_equal(blobstore_load(&fx->bs, "x", bad[i], &info, &data, &err), -1);
    }
}

static void test_open_removes_stale_temporaries(void **state)
{
    struct fixture *fx = *state;
    int32_t v[4] = {1, 2, 3, 4};
    size_t n;
    uint8_t *bytes = make_npy(NPY_I4, 4, v, &n);
    struct blob_upload *up;
    struct dashi_error err = {0};
    assert_int_equal(blob_upload_begin(&fx->bs, n, n, &up, &err), 0);
    assert_int_equal(blob_upload_write(up, 0, bytes, 30, &err), 0);
    assert_int_equal(tmp_entries(fx), 1);
    /* a restarted daemon finds the leftover and removes it */
    struct blobstore again;
    assert_int_equal(blobstore_open(&again, fx->dir, &err), 0);
    assert_int_equal(tmp_entries(fx), 0);
    blob_upload_abort(up);
    free(bytes);
}

/* ---- damaged files: every read verifies, nothing is served or loaded as valid ---- */

/* A stored f8 blob of 1000 values; path receives its file. */
static void store_sample(struct fixture *fx, struct blob_meta *meta, char *path, size_t cap)
{
    double v[1000];
    for (int i = 0; i < 1000; i++)
        v[i] = cos(i);
    uint64_t shape[1] = {1000};
    struct dashi_error err = {0};
    assert_int_equal(blobstore_put_array(&fx->bs, NPY_F8, 1, shape, v, meta, &err), 0);
    assert_int_equal(blobstore_path(&fx->bs, meta->hash, path, cap), 0);
}

/* Both readers of whole blobs refuse the file with E_CORRUPT, loading nothing. */
static void assert_refused(struct fixture *fx, const char *hash, const char *why)
{
    struct dashi_error err = {0};
    struct npy_info info;
    void *data = (void *)1;
    struct blob_meta m;
    print_message("refused: %s\n", why);
    assert_int_equal(blobstore_load(&fx->bs, "z0", hash, &info, &data, &err), -1);
    assert_int_equal(err.code, DASHI_E_CORRUPT);
    assert_string_equal(err.field, "z0");
    assert_non_null(strstr(err.message, hash));
    assert_null(data);
    memset(&err, 0, sizeof err);
    assert_int_equal(blobstore_meta(&fx->bs, hash, &m, &err), -1);
    assert_int_equal(err.code, DASHI_E_CORRUPT);
    struct blob_reader r;
    assert_int_equal(blob_reader_open(&fx->bs, "from", hash, &r, &err), -1);
    assert_int_equal(err.code, DASHI_E_CORRUPT);
}

static void rewrite(const char *path, const uint8_t *bytes, size_t n)
{
    chmod(path, 0600);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(bytes, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

static void test_good_blob_verifies(void **state)
{
    struct fixture *fx = *state;
    struct blob_meta meta, again;
    char path[4200];
    store_sample(fx, &meta, path, sizeof path);
    struct dashi_error err = {0};
    struct npy_info info;
    double *data;
    assert_int_equal(blobstore_load(&fx->bs, "z0", meta.hash, &info, (void **)&data, &err), 0);
    assert_int_equal(info.count, 1000);
    assert_true(data[7] == cos(7));
    free(data);
    assert_int_equal(blobstore_meta(&fx->bs, meta.hash, &again, &err), 0);
    assert_string_equal(again.hash, meta.hash);
    assert_int_equal(again.size, meta.size);
    assert_true(again.all_finite);
    struct blob_reader r;
    double x;
    assert_int_equal(blob_reader_open(&fx->bs, "from", meta.hash, &r, &err), 0);
    assert_int_equal(blob_reader_read(&r, r.meta.size - r.meta.info.nbytes + 7 * sizeof x, &x, sizeof x, &err), 0);
    assert_true(x == cos(7));
    blob_reader_close(&r);
}

static void test_altered_byte_is_corrupt(void **state)
{
    struct fixture *fx = *state;
    struct blob_meta meta;
    char path[4200];
    store_sample(fx, &meta, path, sizeof path);
    size_t n;
    uint8_t *bytes = read_file(path, &n);
    bytes[n / 2] ^= 0x01; /* one bit of one value: the header and size still look right */
    rewrite(path, bytes, n);
    assert_refused(fx, meta.hash, "one byte altered");
    free(bytes);
}

static void test_truncated_is_corrupt(void **state)
{
    struct fixture *fx = *state;
    struct blob_meta meta;
    char path[4200];
    store_sample(fx, &meta, path, sizeof path);
    assert_int_equal(truncate(path, (off_t)meta.size - 8), 0);
    assert_refused(fx, meta.hash, "truncated by one value");
    assert_int_equal(truncate(path, 0), 0);
    assert_refused(fx, meta.hash, "zero-length");
}

/* A header that claims more data than the file holds must not make the loader allocate
 * or read past the end, and a consistent but different header fails the hash. */
static void test_lying_header_is_corrupt(void **state)
{
    struct fixture *fx = *state;
    struct blob_meta meta;
    char path[4200];
    store_sample(fx, &meta, path, sizeof path);
    size_t n;
    uint8_t *bytes = read_file(path, &n);
    char *shape = memmem(bytes, n, "(1000,)", 7); /* the preamble holds NUL bytes */
    assert_non_null(shape);
    memcpy(shape, "(9999,)", 7);
    rewrite(path, bytes, n);
    assert_refused(fx, meta.hash, "header claims 9999 values");
    memcpy(shape, "(500, 2", 7); /* 500×2 = 1000 values: the size fits, the hash does not */
    rewrite(path, bytes, n);
    assert_refused(fx, meta.hash, "header claims another shape of the same size");
    free(bytes);
}

static void test_symlinks_are_refused(void **state)
{
    struct fixture *fx = *state;
    struct blob_meta meta;
    char path[4200], elsewhere[4300];
    store_sample(fx, &meta, path, sizeof path);
    /* the same (valid) bytes moved away and linked back: still refused, never followed */
    snprintf(elsewhere, sizeof elsewhere, "%s/elsewhere.npy", fx->dir);
    assert_int_equal(rename(path, elsewhere), 0);
    assert_int_equal(symlink(elsewhere, path), 0);
    assert_refused(fx, meta.hash, "symlink at the file");
    assert_false(blobstore_exists(&fx->bs, meta.hash));
    struct dashi_error err = {0};
    uint8_t buf[16];
    size_t n;
    uint64_t total;
    assert_int_equal(blobstore_read(&fx->bs, meta.hash, 0, buf, sizeof buf, &n, &total, &err), -1);
    assert_int_equal(err.code, DASHI_E_CORRUPT);

    /* storing the content again replaces the link with the file */
    struct blob_meta again;
    char p2[4200];
    store_sample(fx, &again, p2, sizeof p2);
    struct stat sb;
    assert_int_equal(lstat(path, &sb), 0);
    assert_true(S_ISREG(sb.st_mode));
    assert_int_equal(blobstore_meta(&fx->bs, meta.hash, &again, &err), 0);

    /* a symlinked shard directory */
    char shard[4200], moved[4300];
    snprintf(shard, sizeof shard, "%s/%.2s", fx->bs.dir, meta.hash);
    snprintf(moved, sizeof moved, "%s/moved-shard", fx->dir);
    assert_int_equal(rename(shard, moved), 0);
    assert_int_equal(symlink(moved, shard), 0);
    assert_refused(fx, meta.hash, "symlink at the shard directory");
}

static void test_fifo_and_directory_are_refused(void **state)
{
    struct fixture *fx = *state;
    struct blob_meta meta;
    char path[4200];
    store_sample(fx, &meta, path, sizeof path);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(mkfifo(path, 0600), 0); /* opening it for reading must not block */
    assert_refused(fx, meta.hash, "a FIFO");
    assert_int_equal(unlink(path), 0);
    assert_int_equal(mkdir(path, 0700), 0);
    assert_refused(fx, meta.hash, "a directory");
    assert_int_equal(rmdir(path), 0);
}

/* A file verified once and then written over fails the next read. */
static void test_reader_sees_modification(void **state)
{
    struct fixture *fx = *state;
    struct blob_meta meta;
    char path[4200];
    store_sample(fx, &meta, path, sizeof path);
    struct dashi_error err = {0};
    struct blob_reader r;
    assert_int_equal(blob_reader_open(&fx->bs, "from", meta.hash, &r, &err), 0);
    chmod(path, 0600);
    int fd = open(path, O_WRONLY | O_APPEND);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "x", 1), 1);
    close(fd);
    double x;
    assert_int_equal(blob_reader_read(&r, meta.size - 8, &x, sizeof x, &err), -1);
    assert_int_equal(err.code, DASHI_E_CORRUPT);
    assert_string_equal(err.field, "from");
    blob_reader_close(&r);
}

/* A blob of three chunks written through the hashing pool: its name is the address, its
 * sidecar holds the leaves; a damaged chunk is refused by a ranged read and by a reader
 * (naming the chunk) while the other chunks are still served; remove takes the sidecar. */
static void test_chunks_verified_alone(void **state)
{
    struct fixture *fx = *state;
    struct dashi_error err = {0};
    assert_int_equal(blobstore_start_hashing(&fx->bs, 3, &err), 0);
    uint64_t count = (9u << 20) / 8; /* 9 MiB of data: chunks 0, 1 and a short 2 */
    double *v = malloc(count * sizeof *v);
    assert_non_null(v);
    for (uint64_t i = 0; i < count; i++)
        v[i] = (double)i * 0.5;
    struct blob_meta meta;
    assert_int_equal(blobstore_put_array(&fx->bs, NPY_F8, 1, &count, v, &meta, &err), 0);
    char path[4200], side[4300];
    assert_int_equal(blobstore_path(&fx->bs, meta.hash, path, sizeof path), 0);
    size_t n;
    uint8_t *bytes = read_file(path, &n);
    char hex[65];
    address_hex(bytes, n, hex);
    assert_string_equal(hex, meta.hash);
    snprintf(side, sizeof side, "%s/%.2s/%s.chunks", fx->bs.dir, meta.hash, meta.hash);
    struct stat sb;
    assert_int_equal(stat(side, &sb), 0);
    assert_int_equal(sb.st_size, 3 * 32);
    assert_int_equal(blobstore_check_sidecar(&fx->bs, meta.hash, meta.size, &err), 0);

    /* one byte of chunk 1 flipped on disk */
    chmod(path, 0600);
    int fd = open(path, O_WRONLY);
    assert_true(fd >= 0);
    uint8_t flipped = bytes[(5u << 20)] ^ 0x01;
    assert_int_equal(pwrite(fd, &flipped, 1, 5u << 20), 1);
    close(fd);
    uint8_t *buf = malloc(4u << 20);
    uint64_t total;
    assert_int_equal(blobstore_read(&fx->bs, meta.hash, 1000, buf, 4096, &n, &total, &err), 0);
    assert_int_equal(n, 4096);
    assert_memory_equal(buf, bytes + 1000, 4096);
    assert_int_equal(blobstore_read(&fx->bs, meta.hash, (8u << 20) + 5, buf, 4096, &n, &total, &err), 0);
    assert_memory_equal(buf, bytes + (8u << 20) + 5, 4096);
    assert_int_equal(blobstore_read(&fx->bs, meta.hash, (4u << 20) - 10, buf, 100, &n, &total, &err), -1);
    assert_int_equal(err.code, DASHI_E_CORRUPT);
    assert_non_null(strstr(err.message, "chunk 1"));

    struct blob_reader r;
    assert_int_equal(blob_reader_open(&fx->bs, "from", meta.hash, &r, &err), 0);
    assert_int_equal(r.meta.info.count, count);
    double x;
    assert_int_equal(blob_reader_read(&r, r.meta.info.header_len + 8 * 10, &x, sizeof x, &err), 0);
    assert_true(x == 5.0);
    assert_int_equal(blob_reader_read(&r, r.meta.info.header_len + (8u << 20), &x, sizeof x, &err), 0);
    assert_int_equal(blob_reader_read(&r, (5u << 20) - 8, &x, sizeof x, &err), -1);
    assert_int_equal(err.code, DASHI_E_CORRUPT);
    assert_string_equal(err.field, "from");
    assert_non_null(strstr(err.message, "chunk 1"));
    blob_reader_close(&r);

    /* without its sidecar a blob is not served (fsck repairs it) */
    assert_int_equal(blobstore_remove(&fx->bs, meta.hash, &err), 0);
    assert_int_equal(stat(side, &sb), -1);
    assert_int_equal(blobstore_put_array(&fx->bs, NPY_F8, 1, &count, v, &meta, &err), 0);
    assert_int_equal(unlink(side), 0);
    assert_int_equal(blobstore_read(&fx->bs, meta.hash, 0, buf, 16, &n, &total, &err), -1);
    assert_int_equal(err.code, DASHI_E_CORRUPT);
    assert_int_equal(blob_reader_open(&fx->bs, "from", meta.hash, &r, &err), -1);
    assert_int_equal(err.code, DASHI_E_CORRUPT);
    free(buf);
    free(bytes);
    free(v);
    blobstore_close(&fx->bs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_published_vectors),
        cmocka_unit_test_setup_teardown(test_put_array_hash_is_file_hash, setup, teardown),
        cmocka_unit_test_setup_teardown(test_upload_equals_put_array, setup, teardown),
        cmocka_unit_test_setup_teardown(test_upload_reference_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_upload_rejections, setup, teardown),
        cmocka_unit_test_setup_teardown(test_non_finite_detection, setup, teardown),
        cmocka_unit_test_setup_teardown(test_writer_streams, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_at_offsets, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_and_bad_names, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_removes_stale_temporaries, setup, teardown),
        cmocka_unit_test_setup_teardown(test_good_blob_verifies, setup, teardown),
        cmocka_unit_test_setup_teardown(test_altered_byte_is_corrupt, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncated_is_corrupt, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lying_header_is_corrupt, setup, teardown),
        cmocka_unit_test_setup_teardown(test_symlinks_are_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fifo_and_directory_are_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reader_sees_modification, setup, teardown),
        cmocka_unit_test_setup_teardown(test_chunks_verified_alone, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
