/* SPDX-License-Identifier: MIT */
/* .npy headers: a strict parser for the handful of dtypes dashid exchanges, and a
 * writer producing what numpy itself writes (version 1.0, 64-byte aligned). The parser
 * sees bytes from clients, so it never reads past n and checks every size for overflow. */
#include "npy.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char magic[6] = {'\x93', 'N', 'U', 'M', 'P', 'Y'};

static const struct {
    const char *descr, *name;
    size_t size;
} dtypes[NPY_DTYPE_COUNT] = {
    [NPY_F8] = {"<f8", "f8", 8}, [NPY_F4] = {"<f4", "f4", 4}, [NPY_I8] = {"<i8", "i8", 8},
    [NPY_I4] = {"<i4", "i4", 4}, [NPY_I2] = {"<i2", "i2", 2}, [NPY_I1] = {"|i1", "i1", 1},
    [NPY_U1] = {"|u1", "u1", 1},
};

size_t npy_item_size(enum npy_dtype t)
{
    return (unsigned)t < NPY_DTYPE_COUNT ? dtypes[t].size : 0;
}

const char *npy_dtype_descr(enum npy_dtype t)
{
    return (unsigned)t < NPY_DTYPE_COUNT ? dtypes[t].descr : "?";
}

const char *npy_dtype_name(enum npy_dtype t)
{
    return (unsigned)t < NPY_DTYPE_COUNT ? dtypes[t].name : "?";
}

/* Single-byte types have no byte order: numpy writes '|', but its reader also takes
 * '<' (what np.dtype('<i1') spells before normalisation), so other writers may too. */
static int dtype_from_descr(const char *s, size_t n, enum npy_dtype *out)
{
    for (int t = 0; t < NPY_DTYPE_COUNT; t++) {
        const char *d = dtypes[t].descr;
        if (n != 3)
            continue;
        if (memcmp(s, d, 3) == 0 || (d[0] == '|' && s[0] == '<' && memcmp(s + 1, d + 1, 2) == 0)) {
            *out = (enum npy_dtype)t;
            return 0;
        }
    }
    return -1;
}

static int bad(struct dashi_error *err, const char *what)
{
    return dashi_fail(err, DASHI_E_BAD_VALUE, "npy", "invalid .npy header: %s", what);
}

int npy_header_length(const uint8_t *p, size_t n, size_t *len, struct dashi_error *err)
{
    *len = 0;
    size_t have = n < sizeof magic ? n : sizeof magic;
    if (have > 0 && memcmp(p, magic, have) != 0)
        return bad(err, "bad magic (not an .npy file)");
    if (n < 8)
        return 0;
    if (p[6] < 1 || p[6] > 3 || p[7] != 0)
        return dashi_fail(err, DASHI_E_BAD_VALUE, "npy", "unsupported .npy version %u.%u", p[6], p[7]);
    size_t preamble = p[6] == 1 ? 10 : 12;
    if (n < preamble)
        return 0;
    uint64_t hlen = p[6] == 1 ? (uint64_t)p[8] | (uint64_t)p[9] << 8
                              : (uint64_t)p[8] | (uint64_t)p[9] << 8 | (uint64_t)p[10] << 16 |
                                    (uint64_t)p[11] << 24;
    if (preamble + hlen > NPY_HEADER_MAX)
        return bad(err, "header longer than 65536 bytes");
    if (hlen == 0)
        return bad(err, "empty header");
    *len = preamble + (size_t)hlen;
    return 0;
}

/* A cursor over the dict text. */
struct cursor {
    const char *s, *end;
};

static void skip_ws(struct cursor *c)
{
    while (c->s < c->end && (*c->s == ' ' || *c->s == '\t' || *c->s == '\n' || *c->s == '\r'))
        c->s++;
}

static bool eat(struct cursor *c, char ch)
{
    skip_ws(c);
    if (c->s < c->end && *c->s == ch) {
        c->s++;
        return true;
    }
    return false;
}

/* A Python str literal without escapes (none of the keys or values we accept has one). */
static bool read_string(struct cursor *c, const char **str, size_t *len)
{
    skip_ws(c);
    if (c->s >= c->end || (*c->s != '\'' && *c->s != '"'))
        return false;
    char q = *c->s++;
    const char *start = c->s;
    while (c->s < c->end && *c->s != q) {
        if (*c->s == '\\' || *c->s == '\n')
            return false;
        c->s++;
    }
    if (c->s >= c->end)
        return false;
    *str = start;
    *len = (size_t)(c->s - start);
    c->s++;
    return true;
}

static bool read_word(struct cursor *c, const char *word)
{
    skip_ws(c);
    size_t n = strlen(word);
    if ((size_t)(c->end - c->s) < n || memcmp(c->s, word, n) != 0)
        return false;
    const char *after = c->s + n;
    if (after < c->end && ((*after >= 'a' && *after <= 'z') || (*after >= 'A' && *after <= 'Z') ||
                           (*after >= '0' && *after <= '9') || *after == '_'))
        return false;
    c->s = after;
    return true;
}

static bool read_uint(struct cursor *c, uint64_t *v)
{
    skip_ws(c);
    if (c->s >= c->end || *c->s < '0' || *c->s > '9')
        return false;
    uint64_t x = 0;
    while (c->s < c->end && *c->s >= '0' && *c->s <= '9') {
        uint64_t d = (uint64_t)(*c->s - '0');
        if (x > (UINT64_MAX - d) / 10)
            return false;
        x = x * 10 + d;
        c->s++;
    }
    *v = x;
    return true;
}

/* "()", "(n,)", "(a, b)", "(a, b,)": at most NPY_MAX_DIMS entries. */
static int read_shape(struct cursor *c, struct npy_info *info, struct dashi_error *err)
{
    if (!eat(c, '('))
        return bad(err, "'shape' is not a tuple");
    info->ndim = 0;
    if (eat(c, ')'))
        return 0;
    for (;;) {
        uint64_t v;
        if (!read_uint(c, &v))
            return bad(err, "'shape' entry is not a non-negative integer");
        if (info->ndim == NPY_MAX_DIMS)
            return dashi_fail(err, DASHI_E_BAD_VALUE, "npy", "invalid .npy header: more than %d dimensions",
                              NPY_MAX_DIMS);
        info->shape[info->ndim++] = v;
        bool comma = eat(c, ',');
        if (eat(c, ')')) {
            /* Python needs the comma in a 1-tuple: "(654)" is an int, not a shape. */
            if (info->ndim == 1 && !comma)
                return bad(err, "'shape' is not a tuple");
            return 0;
        }
        if (!comma)
            return bad(err, "'shape' tuple is malformed");
    }
}

int npy_parse_header(const uint8_t *p, size_t n, struct npy_info *info, struct dashi_error *err)
{
    size_t total;
    if (npy_header_length(p, n, &total, err) < 0)
        return -1;
    if (total == 0 || total > n)
        return bad(err, "truncated");
    size_t preamble = p[6] == 1 ? 10 : 12;
    struct cursor c = {(const char *)p + preamble, (const char *)p + total};
    if (c.end[-1] != '\n')
        return bad(err, "header does not end with a newline");
    for (const char *q = c.s; q < c.end; q++)
        if ((unsigned char)*q < 0x20 && *q != '\n' && *q != '\t' && *q != '\r')
            return bad(err, "control character in header");

    memset(info, 0, sizeof *info);
    bool have_descr = false, have_order = false, have_shape = false;
    if (!eat(&c, '{'))
        return bad(err, "header is not a dict");
    for (;;) {
        if (eat(&c, '}'))
            break;
        const char *key;
        size_t klen;
        if (!read_string(&c, &key, &klen))
            return bad(err, "dict key is not a string");
        if (!eat(&c, ':'))
            return bad(err, "missing ':' after key");
        if (klen == 5 && memcmp(key, "descr", 5) == 0) {
            const char *d;
            size_t dlen;
            if (have_descr)
                return bad(err, "duplicate 'descr'");
            if (!read_string(&c, &d, &dlen))
                return bad(err, "'descr' is not a string");
            if (dtype_from_descr(d, dlen, &info->dtype) < 0) {
                if (dlen >= 1 && d[0] == '>')
                    return bad(err, "big-endian data is not supported");
                return dashi_fail(err, DASHI_E_BAD_VALUE, "npy",
                                  "unsupported .npy dtype '%.*s' (use <f8 <f4 <i8 <i4 <i2 |i1 |u1)",
                                  (int)(dlen > 16 ? 16 : dlen), d);
            }
            have_descr = true;
        } else if (klen == 13 && memcmp(key, "fortran_order", 13) == 0) {
            if (have_order)
                return bad(err, "duplicate 'fortran_order'");
            if (read_word(&c, "True"))
                return bad(err, "Fortran-ordered arrays are not supported (save with C order)");
            if (!read_word(&c, "False"))
                return bad(err, "'fortran_order' is not a bool");
            have_order = true;
        } else if (klen == 5 && memcmp(key, "shape", 5) == 0) {
            if (have_shape)
                return bad(err, "duplicate 'shape'");
            if (read_shape(&c, info, err) < 0)
                return -1;
            have_shape = true;
        } else {
            return bad(err, "unknown key in dict");
        }
        if (eat(&c, '}'))
            break;
        if (!eat(&c, ','))
            return bad(err, "missing ',' between entries");
    }
    skip_ws(&c);
    if (c.s != c.end)
        return bad(err, "trailing bytes after the dict");
    if (!have_descr || !have_order || !have_shape)
        return bad(err, "dict lacks 'descr', 'fortran_order' or 'shape'");

    uint64_t count = 1;
    for (int i = 0; i < info->ndim; i++) {
        if (info->shape[i] != 0 && count > UINT64_MAX / info->shape[i])
            return bad(err, "shape overflows");
        count *= info->shape[i];
    }
    size_t item = npy_item_size(info->dtype);
    if (count > (UINT64_MAX - total) / item)
        return bad(err, "shape overflows");
    info->count = count;
    info->nbytes = count * item;
    info->header_len = total;
    return 0;
}

size_t npy_make_header(char *buf, size_t cap, struct npy_info *info)
{
    if ((unsigned)info->dtype >= NPY_DTYPE_COUNT || info->ndim < 0 || info->ndim > NPY_MAX_DIMS)
        return 0;
    uint64_t count = 1;
    for (int i = 0; i < info->ndim; i++) {
        if (info->shape[i] != 0 && count > UINT64_MAX / info->shape[i])
            return 0;
        count *= info->shape[i];
    }
    if (count > (UINT64_MAX - NPY_HEADER_MAX) / npy_item_size(info->dtype))
        return 0;

    char dict[256];
    int len = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (",
                       npy_dtype_descr(info->dtype));
    for (int i = 0; i < info->ndim; i++)
        len += snprintf(dict + len, sizeof dict - (size_t)len, "%s%llu", i ? ", " : "",
                        (unsigned long long)info->shape[i]);
    len += snprintf(dict + len, sizeof dict - (size_t)len, "%s), }", info->ndim == 1 ? "," : "");

    /* Exactly what numpy >= 1.23 writes, so the same array saved by numpy gets the same
     * blob name: room for the first axis to grow to 21 digits, then spaces up to the next
     * 64-byte boundary (a full 64 when already aligned), then the newline. */
    size_t growth = 0;
    if (info->ndim > 0) {
        char digits[24];
        growth = 21 - (size_t)snprintf(digits, sizeof digits, "%llu", (unsigned long long)info->shape[0]);
    }
    size_t unpadded = 10 + (size_t)len + growth + 1;
    size_t total = unpadded + 64 - unpadded % 64;
    if (total > cap)
        return 0;
    size_t hlen = total - 10;
    memcpy(buf, magic, sizeof magic);
    buf[6] = 1;
    buf[7] = 0;
    buf[8] = (char)(hlen & 0xff);
    buf[9] = (char)(hlen >> 8);
    memcpy(buf + 10, dict, (size_t)len);
    memset(buf + 10 + len, ' ', total - 10 - (size_t)len - 1);
    buf[total - 1] = '\n';
    info->header_len = total;
    info->count = count;
    info->nbytes = count * npy_item_size(info->dtype);
    return total;
}

static int read_full(int fd, void *buf, size_t n, uint64_t offset)
{
    uint8_t *p = buf;
    while (n > 0) {
        ssize_t r = pread(fd, p, n, (off_t)offset);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        p += r;
        n -= (size_t)r;
        offset += (uint64_t)r;
    }
    return 0;
}

int npy_load(const char *path, struct npy_info *info, void **data, struct dashi_error *err)
{
    *data = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return dashi_fail(err, errno == ENOENT ? DASHI_E_NOT_FOUND : DASHI_E_IO, "path", "cannot open %s: %s",
                          path, strerror(errno));
    struct stat sb;
    uint8_t *head = NULL;
    if (fstat(fd, &sb) < 0) {
        dashi_fail(err, DASHI_E_IO, "path", "cannot stat %s: %s", path, strerror(errno));
        goto fail;
    }
    uint64_t size = (uint64_t)sb.st_size;
    size_t hn = size < NPY_HEADER_MAX ? (size_t)size : NPY_HEADER_MAX;
    head = malloc(hn ? hn : 1);
    if (!head) {
        dashi_fail(err, DASHI_E_INTERNAL, "", "out of memory");
        goto fail;
    }
    if (read_full(fd, head, hn, 0) < 0) {
        dashi_fail(err, DASHI_E_IO, "path", "cannot read %s", path);
        goto fail;
    }
    if (npy_parse_header(head, hn, info, err) < 0)
        goto fail;
    if (size != info->header_len + info->nbytes) {
        dashi_fail(err, DASHI_E_BAD_VALUE, "npy", "%s holds %llu bytes, its header says %llu", path,
                   (unsigned long long)size, (unsigned long long)(info->header_len + info->nbytes));
        goto fail;
    }
    if (info->nbytes > SIZE_MAX - 1) {
        dashi_fail(err, DASHI_E_TOO_LARGE, "npy", "%s is too large to load", path);
        goto fail;
    }
    *data = malloc(info->nbytes ? (size_t)info->nbytes : 1);
    if (!*data) {
        dashi_fail(err, DASHI_E_TOO_LARGE, "npy", "cannot allocate %llu bytes for %s",
                   (unsigned long long)info->nbytes, path);
        goto fail;
    }
    if (read_full(fd, *data, (size_t)info->nbytes, info->header_len) < 0) {
        dashi_fail(err, DASHI_E_IO, "path", "cannot read %s", path);
        goto fail;
    }
    free(head);
    close(fd);
    return 0;
fail:
    free(*data);
    *data = NULL;
    free(head);
    close(fd);
    return -1;
}

int fd_write_full(int fd, const void *buf, size_t n)
{
    const uint8_t *p = buf;
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int npy_save(const char *path, enum npy_dtype dtype, int ndim, const uint64_t *shape, const void *data,
             struct dashi_error *err)
{
    struct npy_info info = {.dtype = dtype, .ndim = ndim};
    if (ndim < 0 || ndim > NPY_MAX_DIMS)
        return dashi_fail(err, DASHI_E_BAD_VALUE, "shape", "%d dimensions (at most %d)", ndim, NPY_MAX_DIMS);
    for (int i = 0; i < ndim; i++)
        info.shape[i] = shape[i];
    char head[256];
    size_t hn = npy_make_header(head, sizeof head, &info);
    if (hn == 0)
        return dashi_fail(err, DASHI_E_BAD_VALUE, "shape", "array shape or dtype cannot be written as .npy");
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd < 0)
        return dashi_fail(err, DASHI_E_IO, "path", "cannot create %s: %s", path, strerror(errno));
    if (fd_write_full(fd, head, hn) < 0 || fd_write_full(fd, data, (size_t)info.nbytes) < 0) {
        dashi_fail(err, DASHI_E_IO, "path", "cannot write %s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    if (close(fd) < 0)
        return dashi_fail(err, DASHI_E_IO, "path", "cannot write %s: %s", path, strerror(errno));
    return 0;
}
