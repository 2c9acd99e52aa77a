/* SPDX-License-Identifier: MIT */
/* msg_check: a non-allocating walk over raw msgpack bytes that enforces the limits
 * of wire.h before msgpack-c sees them. msgpack-c sizes its allocations from the
 * counts a container declares, so a few bytes claiming 4 billion entries must never
 * reach it. The walk keeps one counter per open container (at most DASHI_MAX_DEPTH)
 * and the total number of objects still owed by all of them: every object takes at
 * least one byte, so more owed objects than remaining bytes is a lie caught early. */
#include "wire.h"

#include <string.h>

struct open_container {
    uint64_t left;  /* objects still to read; a map of n entries owes 2n */
    bool is_map;
};

struct walker {
    const uint8_t *p;
    size_t n, pos;
};

static int truncated(struct dashi_error *err, size_t at)
{
    return dashi_fail(err, DASHI_E_BAD_FRAME, "", "msgpack payload is truncated at byte %zu", at);
}

/* Reads a big-endian unsigned of `width` bytes (1, 2, 4 or 8) at the cursor. */
static int read_uint(struct walker *w, unsigned width, uint64_t *out, struct dashi_error *err)
{
    if (w->n - w->pos < width)
        return truncated(err, w->n);
    uint64_t v = 0;
    for (unsigned i = 0; i < width; i++)
        v = v << 8 | w->p[w->pos + i];
    w->pos += width;
    *out = v;
    return 0;
}

static int skip(struct walker *w, uint64_t bytes, struct dashi_error *err)
{
    if (w->n - w->pos < bytes)
        return truncated(err, w->n);
    w->pos += (size_t)bytes;
    return 0;
}

/* What one header byte announces. */
enum kind { K_SCALAR, K_STR, K_BIN, K_ARRAY, K_MAP, K_EXT, K_INVALID };

struct header {
    enum kind kind;
    unsigned len_width;   /* bytes of the following length/count field, 0 if none */
    uint64_t len;         /* str/bin bytes or container entries when inline (fix*) */
    uint64_t scalar_size; /* payload bytes of a scalar */
};

static struct header classify(uint8_t b)
{
    struct header h = {K_SCALAR, 0, 0, 0};
    if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3)
        return h; /* fixint, nil, bool */
    if (b <= 0x8f) return (struct header){K_MAP, 0, b & 0x0fu, 0};
    if (b <= 0x9f) return (struct header){K_ARRAY, 0, b & 0x0fu, 0};
    if (b <= 0xbf) return (struct header){K_STR, 0, b & 0x1fu, 0};
    switch (b) {
    case 0xc4: return (struct header){K_BIN, 1, 0, 0};
    case 0xc5: return (struct header){K_BIN, 2, 0, 0};
    case 0xc6: return (struct header){K_BIN, 4, 0, 0};
    case 0xc7: case 0xc8: case 0xc9:
    case 0xd4: case 0xd5: case 0xd6: case 0xd7: case 0xd8:
        return (struct header){K_EXT, 0, 0, 0};
    case 0xca: return (struct header){K_SCALAR, 0, 0, 4};
    case 0xcb: return (struct header){K_SCALAR, 0, 0, 8};
    case 0xcc: case 0xd0: return (struct header){K_SCALAR, 0, 0, 1};
    case 0xcd: case 0xd1: return (struct header){K_SCALAR, 0, 0, 2};
    case 0xce: case 0xd2: return (struct header){K_SCALAR, 0, 0, 4};
    case 0xcf: case 0xd3: return (struct header){K_SCALAR, 0, 0, 8};
    case 0xd9: return (struct header){K_STR, 1, 0, 0};
    case 0xda: return (struct header){K_STR, 2, 0, 0};
    case 0xdb: return (struct header){K_STR, 4, 0, 0};
    case 0xdc: return (struct header){K_ARRAY, 2, 0, 0};
    case 0xdd: return (struct header){K_ARRAY, 4, 0, 0};
    case 0xde: return (struct header){K_MAP, 2, 0, 0};
    case 0xdf: return (struct header){K_MAP, 4, 0, 0};
    default: return (struct header){K_INVALID, 0, 0, 0}; /* 0xc1: never used */
    }
}

int msg_check(const uint8_t *p, size_t n, struct dashi_error *err)
{
    struct walker w = {p, n, 0};
    struct open_container open[DASHI_MAX_DEPTH];
    int depth = 0;
    uint64_t owed = 1; /* the one top-level object */

    if (n == 0)
        return dashi_fail(err, DASHI_E_BAD_FRAME, "", "empty msgpack payload");
    while (owed > 0) {
        if (w.pos >= n)
            return truncated(err, n);
        bool want_key = depth > 0 && open[depth - 1].is_map && open[depth - 1].left % 2 == 0;
        owed--;
        if (depth > 0)
            open[depth - 1].left--;

        size_t at = w.pos;
        uint8_t b = p[w.pos++];
        struct header h = classify(b);
        if (want_key && h.kind != K_STR)
            return dashi_fail(err, DASHI_E_BAD_FRAME, "", "map key at byte %zu is not a string", at);
        if (h.kind == K_INVALID)
            return dashi_fail(err, DASHI_E_BAD_FRAME, "", "byte 0x%02x at offset %zu is not valid msgpack", b,
                              at);
        if (h.kind == K_EXT)
            return dashi_fail(err, DASHI_E_BAD_FRAME, "", "msgpack ext types are not accepted (byte %zu)", at);
        if (h.len_width && read_uint(&w, h.len_width, &h.len, err) < 0)
            return -1;

        switch (h.kind) {
        case K_SCALAR:
            if (skip(&w, h.scalar_size, err) < 0)
                return -1;
            break;
        case K_STR:
            if (h.len > DASHI_MAX_STR)
                return dashi_fail(err, DASHI_E_BAD_FRAME, "", "string of %llu bytes exceeds the limit of %d",
                                  (unsigned long long)h.len, DASHI_MAX_STR);
            if (skip(&w, h.len, err) < 0)
                return -1;
            break;
        case K_BIN:
            if (h.len > DASHI_MAX_BIN)
                return dashi_fail(err, DASHI_E_BAD_FRAME, "", "binary of %llu bytes exceeds the limit of %u",
                                  (unsigned long long)h.len, (unsigned)DASHI_MAX_BIN);
            if (skip(&w, h.len, err) < 0)
                return -1;
            break;
        case K_ARRAY:
        case K_MAP: {
            const char *what = h.kind == K_MAP ? "map" : "array";
            if (h.len > DASHI_MAX_ITEMS)
                return dashi_fail(err, DASHI_E_BAD_FRAME, "", "%s of %llu entries exceeds the limit of %d", what,
                                  (unsigned long long)h.len, DASHI_MAX_ITEMS);
            if (depth >= DASHI_MAX_DEPTH)
                return dashi_fail(err, DASHI_E_BAD_FRAME, "", "nesting deeper than %d levels", DASHI_MAX_DEPTH);
            uint64_t objects = h.kind == K_MAP ? 2 * h.len : h.len;
            owed += objects;
            if (owed > n - w.pos)
                return dashi_fail(err, DASHI_E_BAD_FRAME, "",
                                  "%s at byte %zu declares %llu entries but only %zu bytes follow", what, at,
                                  (unsigned long long)h.len, n - w.pos);
            if (objects > 0)
                open[depth++] = (struct open_container){objects, h.kind == K_MAP};
            break;
        }
        default:
            return dashi_fail(err, DASHI_E_INTERNAL, "", "msg_check: unhandled kind");
        }
        while (depth > 0 && open[depth - 1].left == 0)
            depth--;
    }
    if (w.pos != n)
        return dashi_fail(err, DASHI_E_BAD_FRAME, "", "%zu trailing bytes after the msgpack object", n - w.pos);
    return 0;
}
