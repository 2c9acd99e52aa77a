/* SPDX-License-Identifier: MIT */
/* Length-prefixed framing: a 4-byte big-endian payload length, then the payload.
 * The reader accumulates stream bytes and hands out complete frames in place. */
#include "wire.h"

#include <stdlib.h>
#include <string.h>

/* Once a large frame has gone, do not keep its buffer alive for an idle connection. */
#define KEEP_CAP (64u << 10)
/* One maximal frame and one 64 KiB read: the most a reader that hands out each frame as
 * soon as it is complete ever holds, so growth by doubling stops there. */
#define FULL_CAP ((size_t)DASHI_FRAME_MAX + 4 + (64u << 10))

static uint32_t read_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

void frame_header(uint8_t hdr[4], size_t n)
{
    hdr[0] = (uint8_t)(n >> 24);
    hdr[1] = (uint8_t)(n >> 16);
    hdr[2] = (uint8_t)(n >> 8);
    hdr[3] = (uint8_t)n;
}

void frame_reader_init(struct frame_reader *fr)
{
    fr->buf = NULL;
    fr->len = 0;
    fr->cap = 0;
    fr->consumed = 0;
}

void frame_reader_free(struct frame_reader *fr)
{
    free(fr->buf);
    frame_reader_init(fr);
}

/* A frame handed out by frame_reader_next must stay readable until the following
 * call, so its bytes are dropped only then. */
static void drop_consumed(struct frame_reader *fr)
{
    if (fr->consumed == 0)
        return;
    memmove(fr->buf, fr->buf + fr->consumed, fr->len - fr->consumed);
    fr->len -= fr->consumed;
    fr->consumed = 0;
    if (fr->len == 0 && fr->cap > KEEP_CAP) {
        free(fr->buf);
        fr->buf = NULL;
        fr->cap = 0;
    }
}

int frame_reader_feed(struct frame_reader *fr, const void *data, size_t n, struct dashi_error *err)
{
    drop_consumed(fr);
    if (n == 0)
        return 0;
    if (n > SIZE_MAX - fr->len)
        return dashi_fail(err, DASHI_E_TOO_LARGE, "", "stream buffer would overflow");
    size_t need = fr->len + n;
    if (need > fr->cap) {
        size_t cap = fr->cap ? fr->cap : 4096;
        while (cap < need)
            cap = cap > SIZE_MAX / 2 ? need : cap * 2;
        if (cap > FULL_CAP && need <= FULL_CAP)
            cap = FULL_CAP;
        uint8_t *grown = realloc(fr->buf, cap);
        if (!grown)
            return dashi_fail(err, DASHI_E_TOO_LARGE, "", "out of memory buffering %zu bytes", need);
        fr->buf = grown;
        fr->cap = cap;
    }
    memcpy(fr->buf + fr->len, data, n);
    fr->len = need;
    return 0;
}

int frame_reader_next(struct frame_reader *fr, const uint8_t **payload, size_t *len, struct dashi_error *err)
{
    drop_consumed(fr);
    if (fr->len < 4)
        return 0;
    uint32_t announced = read_be32(fr->buf);
    if (announced == 0)
        return dashi_fail(err, DASHI_E_BAD_FRAME, "", "frame announces an empty payload (length 0)");
    if (announced > DASHI_FRAME_MAX)
        return dashi_fail(err, DASHI_E_TOO_LARGE, "",
                          "frame announces %u payload bytes, more than the limit of %u", announced,
                          (unsigned)DASHI_FRAME_MAX);
    if (fr->len - 4 < announced)
        return 0;
    fr->consumed = 4 + (size_t)announced;
    *payload = fr->buf + 4;
    *len = announced;
    return 1;
}

void frame_begin(msgpack_sbuffer *sb)
{
    static const char reserved[4] = {0, 0, 0, 0};
    msgpack_sbuffer_clear(sb);
    msgpack_sbuffer_write(sb, reserved, sizeof reserved);
}

void frame_finish(msgpack_sbuffer *sb)
{
    if (sb->size < 4)
        return; /* frame_begin could not reserve the header (out of memory) */
    frame_header((uint8_t *)sb->data, sb->size - 4);
}
