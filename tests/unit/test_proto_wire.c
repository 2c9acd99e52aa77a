/* SPDX-License-Identifier: MIT */
/* Wire protocol: framing, the msg_check limit walk, the request envelope, typed
 * argument getters and the response/event encoders, all through the real encoders
 * and decoders (pack -> frame -> stream reader -> decode). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>

/* cmocka's fail_msg() calls a global print_error(), a name the client library also
 * defines; report through stderr so these tests do not depend on which one links. */
#define FAIL_MSG(...)                                                                           \
    do {                                                                                        \
        fprintf(stderr, "ERROR: " __VA_ARGS__);                                                 \
        fputc('\n', stderr);                                                                    \
        fail();                                                                                 \
    } while (0)

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "wire.h"

#define HASH_A "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

/* ---- helpers ----------------------------------------------------------------------- */

/* A request under construction: pack the args map's entries on fx->pk, then decode. */
struct fixture {
    msgpack_sbuffer sb;
    msgpack_packer pk;
    struct request req;
    struct dashi_error err;
};

static msgpack_packer *begin_request(struct fixture *fx, uint64_t id, const char *op, uint32_t nargs)
{
    msgpack_sbuffer_init(&fx->sb);
    msgpack_packer_init(&fx->pk, &fx->sb, msgpack_sbuffer_write);
    pack_request_begin(&fx->pk, id, op);
    msgpack_pack_map(&fx->pk, nargs);
    dashi_error_clear(&fx->err);
    return &fx->pk;
}

static int decode(struct fixture *fx)
{
    return request_decode((const uint8_t *)fx->sb.data, fx->sb.size, &fx->req, &fx->err);
}

static void decode_ok(struct fixture *fx)
{
    int rc = decode(fx);
    if (rc != 0)
        FAIL_MSG("request_decode failed: %s: %s", dashi_code_name(fx->err.code), fx->err.message);
}

static void fixture_free(struct fixture *fx)
{
    request_free(&fx->req);
    msgpack_sbuffer_destroy(&fx->sb);
}

/* Decodes raw payload bytes as a request and expects failure with `code`. */
static void expect_request_error(const uint8_t *p, size_t n, dashi_code code, uint64_t want_id)
{
    struct request req;
    struct dashi_error err;
    dashi_error_clear(&err);
    assert_int_equal(request_decode(p, n, &req, &err), -1);
    if (err.code != code)
        FAIL_MSG("expected %s, got %s: %s", dashi_code_name(code), dashi_code_name(err.code), err.message);
    assert_true(err.message[0] != 0);
    assert_int_equal(req.id, want_id);
    request_free(&req);
}

static void expect_check_error(const uint8_t *p, size_t n)
{
    struct dashi_error err;
    dashi_error_clear(&err);
    assert_int_equal(msg_check(p, n, &err), -1);
    assert_int_equal(err.code, DASHI_E_BAD_FRAME);
    assert_true(err.message[0] != 0);
}

/* ---- framing ----------------------------------------------------------------------- */

static void test_roundtrip_byte_by_byte(void **state)
{
    (void)state;
    /* Two framed requests back to back in one stream. */
    msgpack_sbuffer stream;
    msgpack_sbuffer_init(&stream);
    msgpack_sbuffer frame;
    msgpack_sbuffer_init(&frame);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &frame, msgpack_sbuffer_write);
    static const uint8_t blob[] = {0, 1, 2, 0xff, 0x80};

    frame_begin(&frame);
    pack_request_begin(&pk, 42, "submit");
    msgpack_pack_map(&pk, 9);
    pk_kv_u64(&pk, "steps", 100000);
    pk_kv_f64(&pk, "dt", 0.015625);
    pk_kv_i64(&pk, "offset", -5);
    pk_kv_str(&pk, "name", "run one");
    pk_kv_bool(&pk, "private", true);
    pk_kv_str(&pk, "precision", "f32");
    pk_kv_str(&pk, "input", HASH_A);
    pk_kv_bin(&pk, "chunk", blob, sizeof blob);
    pk_kv_nil(&pk, "seed");
    frame_finish(&frame);
    size_t first_len = frame.size;
    msgpack_sbuffer_write(&stream, frame.data, frame.size);

    frame_begin(&frame);
    pack_request_begin(&pk, UINT64_MAX, "ping");
    msgpack_pack_map(&pk, 0);
    frame_finish(&frame);
    msgpack_sbuffer_write(&stream, frame.data, frame.size);

    struct frame_reader fr;
    frame_reader_init(&fr);
    struct dashi_error err;
    const uint8_t *payload = NULL;
    size_t len = 0;
    size_t fed = 0;
    for (; fed < first_len; fed++) {
        assert_int_equal(frame_reader_next(&fr, &payload, &len, &err), 0);
        assert_int_equal(frame_reader_feed(&fr, stream.data + fed, 1, &err), 0);
    }
    assert_int_equal(frame_reader_next(&fr, &payload, &len, &err), 1);
    assert_int_equal(len, first_len - 4);

    struct request req;
    assert_int_equal(request_decode(payload, len, &req, &err), 0);
    assert_int_equal(req.id, 42);
    assert_string_equal(req.op, "submit");
    uint64_t steps;
    double dt;
    int64_t offset, seed;
    char name[32], hash[DASHI_HASH_HEX + 1];
    bool priv;
    int precision;
    const uint8_t *data;
    size_t data_len;
    static const char *const precisions[] = {"f64", "f32", NULL};
    static const char *const allowed[] = {"steps", "dt", "offset", "name", "private", "precision",
                                          "input", "chunk", "seed", NULL};
    assert_int_equal(args_only(req.args, allowed, &err), 0);
    assert_int_equal(arg_u64(req.args, "steps", true, 0, 1, UINT64_MAX, &steps, &err), 0);
    assert_int_equal(steps, 100000);
    assert_int_equal(arg_f64(req.args, "dt", true, 0, 0, 1, &dt, &err), 0);
    assert_true(dt == 0.015625);
    assert_int_equal(arg_i64(req.args, "offset", true, 0, INT64_MIN, INT64_MAX, &offset, &err), 0);
    assert_int_equal(offset, -5);
    assert_int_equal(arg_str(req.args, "name", true, NULL, name, sizeof name, &err), 0);
    assert_string_equal(name, "run one");
    assert_int_equal(arg_bool(req.args, "private", true, false, &priv, &err), 0);
    assert_true(priv);
    assert_int_equal(arg_enum(req.args, "precision", true, 0, precisions, &precision, &err), 0);
    assert_int_equal(precision, 1);
    assert_int_equal(arg_hash(req.args, "input", true, hash, &err), 0);
    assert_string_equal(hash, HASH_A);
    assert_int_equal(arg_bin(req.args, "chunk", true, &data, &data_len, &err), 0);
    assert_int_equal(data_len, sizeof blob);
    assert_memory_equal(data, blob, sizeof blob);
    /* nil counts as absent: the default applies */
    assert_int_equal(arg_i64(req.args, "seed", false, 1234, INT64_MIN, INT64_MAX, &seed, &err), 0);
    assert_int_equal(seed, 1234);
    request_free(&req);

    /* The second frame: fed in one piece. */
    assert_int_equal(frame_reader_feed(&fr, stream.data + fed, stream.size - fed, &err), 0);
    assert_int_equal(frame_reader_next(&fr, &payload, &len, &err), 1);
    assert_int_equal(request_decode(payload, len, &req, &err), 0);
    assert_true(req.id == UINT64_MAX);
    assert_string_equal(req.op, "ping");
    assert_int_equal(req.args->via.map.size, 0);
    request_free(&req);
    assert_int_equal(frame_reader_next(&fr, &payload, &len, &err), 0);
    assert_int_equal(fr.len, 0);

    frame_reader_free(&fr);
    msgpack_sbuffer_destroy(&frame);
    msgpack_sbuffer_destroy(&stream);
}

static void test_frame_header_limits(void **state)
{
    (void)state;
    struct frame_reader fr;
    struct dashi_error err;
    const uint8_t *payload;
    size_t len;
    uint8_t hdr[4];

    /* zero length */
    frame_reader_init(&fr);
    frame_header(hdr, 0);
    assert_int_equal(frame_reader_feed(&fr, hdr, 4, &err), 0);
    assert_int_equal(frame_reader_next(&fr, &payload, &len, &err), -1);
    assert_int_equal(err.code, DASHI_E_BAD_FRAME);
    frame_reader_free(&fr);

    /* one byte over the limit: rejected from the header alone */
    frame_reader_init(&fr);
    frame_header(hdr, DASHI_FRAME_MAX + 1);
    assert_int_equal(frame_reader_feed(&fr, hdr, 4, &err), 0);
    assert_int_equal(frame_reader_next(&fr, &payload, &len, &err), -1);
    assert_int_equal(err.code, DASHI_E_TOO_LARGE);
    frame_reader_free(&fr);

    /* all-ones header (4 GiB - 1) */
    frame_reader_init(&fr);
    static const uint8_t ones[4] = {0xff, 0xff, 0xff, 0xff};
    assert_int_equal(frame_reader_feed(&fr, ones, 4, &err), 0);
    assert_int_equal(frame_reader_next(&fr, &payload, &len, &err), -1);
    assert_int_equal(err.code, DASHI_E_TOO_LARGE);
    frame_reader_free(&fr);

    /* a header with the top bit set right after a valid frame is judged on its own */
    frame_reader_init(&fr);
    static const uint8_t valid_then_hostile[] = {0, 0, 0, 1, 0xc0, 0x80, 0, 0, 1, 0xc0};
    assert_int_equal(frame_reader_feed(&fr, valid_then_hostile, sizeof valid_then_hostile, &err), 0);
    assert_int_equal(frame_reader_next(&fr, &payload, &len, &err), 1);
    assert_int_equal(len, 1);
    assert_int_equal(payload[0], 0xc0);
    assert_int_equal(frame_reader_next(&fr, &payload, &len, &err), -1);
    assert_int_equal(err.code, DASHI_E_TOO_LARGE);
    frame_reader_free(&fr);

    /* exactly the limit is acceptable: waits for the payload */
    frame_reader_init(&fr);
    frame_header(hdr, DASHI_FRAME_MAX);
    assert_int_equal(frame_reader_feed(&fr, hdr, 4, &err), 0);
    assert_int_equal(frame_reader_next(&fr, &payload, &len, &err), 0);
    frame_reader_free(&fr);

    /* a partial header is not an error */
    frame_reader_init(&fr);
    assert_int_equal(frame_reader_feed(&fr, hdr, 3, &err), 0);
    assert_int_equal(frame_reader_next(&fr, &payload, &len, &err), 0);
    frame_reader_free(&fr);
}

static void test_frame_begin_finish(void **state)
{
    (void)state;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    /* frame_begin clears what was there before */
    msgpack_sbuffer_write(&sb, "junk", 4);
    frame_begin(&sb);
    msgpack_pack_array(&pk, 300);
    for (int i = 0; i < 300; i++)
        msgpack_pack_int(&pk, i);
    frame_finish(&sb);
    size_t n = sb.size - 4;
    const uint8_t *b = (const uint8_t *)sb.data;
    assert_int_equal(((size_t)b[0] << 24) | ((size_t)b[1] << 16) | ((size_t)b[2] << 8) | b[3], n);
    struct dashi_error err;
    assert_int_equal(msg_check(b + 4, n, &err), 0);
    msgpack_sbuffer_destroy(&sb);
}

/* ---- msg_check --------------------------------------------------------------------- */

static void test_truncated_payload(void **state)
{
    (void)state;
    struct fixture fx;
    msgpack_packer *pk = begin_request(&fx, 9, "submit", 1);
    pk_kv_str(pk, "name", "abcdef");
    /* Every strict prefix of a valid request is rejected as a bad frame. */
    for (size_t cut = 1; cut < fx.sb.size; cut++)
        expect_request_error((const uint8_t *)fx.sb.data, cut, DASHI_E_BAD_FRAME, 0);
    decode_ok(&fx);
    fixture_free(&fx);
}

static void test_trailing_bytes(void **state)
{
    (void)state;
    struct fixture fx;
    begin_request(&fx, 9, "ping", 0);
    msgpack_pack_nil(&fx.pk); /* a second object after the request */
    assert_int_equal(decode(&fx), -1);
    assert_int_equal(fx.err.code, DASHI_E_BAD_FRAME);
    fixture_free(&fx);
}

/* n nested arrays: 0x91 (array of 1) n-1 times, then an empty array. */
static size_t nested_arrays(uint8_t *out, int n)
{
    for (int i = 0; i < n - 1; i++)
        out[i] = 0x91;
    out[n - 1] = 0x90;
    return (size_t)n;
}

static void test_depth_limit(void **state)
{
    (void)state;
    uint8_t buf[64];
    struct dashi_error err;
    assert_int_equal(msg_check(buf, nested_arrays(buf, DASHI_MAX_DEPTH), &err), 0);
    expect_check_error(buf, nested_arrays(buf, DASHI_MAX_DEPTH + 1));

    /* In a request: map(1) -> args map(1) -> arrays. The request map is level 1. */
    for (int extra = DASHI_MAX_DEPTH - 2; extra <= DASHI_MAX_DEPTH - 1; extra++) {
        struct fixture fx;
        msgpack_packer *pk = begin_request(&fx, 1, "x", 1);
        pk_key(pk, "deep");
        for (int i = 0; i < extra - 1; i++)
            msgpack_pack_array(pk, 1);
        msgpack_pack_array(pk, 0);
        int rc = decode(&fx);
        if (extra == DASHI_MAX_DEPTH - 2)
            assert_int_equal(rc, 0);
        else {
            assert_int_equal(rc, -1);
            assert_int_equal(fx.err.code, DASHI_E_BAD_FRAME);
        }
        fixture_free(&fx);
    }
}

static void test_huge_declared_counts(void **state)
{
    (void)state;
    /* 4 billion entries/bytes claimed by a handful of bytes */
    static const uint8_t array32[] = {0xdd, 0xff, 0xff, 0xff, 0xff, 0xc0};
    static const uint8_t map32[] = {0xdf, 0xff, 0xff, 0xff, 0xff, 0xc0};
    static const uint8_t str32[] = {0xdb, 0xff, 0xff, 0xff, 0xff, 0x61};
    static const uint8_t bin32[] = {0xc6, 0xff, 0xff, 0xff, 0xff, 0x61};
    /* within the item limit, but far more entries than bytes */
    static const uint8_t array16[] = {0xdc, 0x10, 0x00, 0xc0, 0xc0, 0xc0};
    static const uint8_t map16[] = {0xde, 0x04, 0x00, 0xa1, 0x61, 0xc0};
    /* nested: the outer array's owed entries are counted with the inner one's */
    static const uint8_t nested[] = {0x92, 0x9e, 0xc0, 0xc0, 0xc0, 0xc0, 0xc0, 0xc0, 0xc0, 0xc0,
                                     0xc0, 0xc0, 0xc0, 0xc0, 0xc0, 0xc0};
    expect_check_error(array32, sizeof array32);
    expect_check_error(map32, sizeof map32);
    expect_check_error(str32, sizeof str32);
    expect_check_error(bin32, sizeof bin32);
    expect_check_error(array16, sizeof array16);
    expect_check_error(map16, sizeof map16);
    expect_check_error(nested, sizeof nested);
    /* The same bytes as a request payload never reach the unpacker either. */
    expect_request_error(array32, sizeof array32, DASHI_E_BAD_FRAME, 0);
}

static void test_item_and_size_limits(void **state)
{
    (void)state;
    struct dashi_error err;
    /* array with DASHI_MAX_ITEMS entries passes, one more fails even though all bytes are there */
    size_t n = 3 + DASHI_MAX_ITEMS + 1;
    uint8_t *buf = calloc(1, n + 16);
    assert_non_null(buf);
    buf[0] = 0xdc;
    buf[1] = (uint8_t)(DASHI_MAX_ITEMS >> 8);
    buf[2] = (uint8_t)DASHI_MAX_ITEMS;
    assert_int_equal(msg_check(buf, 3 + DASHI_MAX_ITEMS, &err), 0);
    buf[1] = (uint8_t)((DASHI_MAX_ITEMS + 1) >> 8);
    buf[2] = (uint8_t)(DASHI_MAX_ITEMS + 1);
    expect_check_error(buf, n);
    free(buf);

    /* str at the limit passes, one byte over fails */
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    char *text = malloc(DASHI_MAX_STR + 1);
    assert_non_null(text);
    memset(text, 'x', DASHI_MAX_STR + 1);
    msgpack_pack_str(&pk, DASHI_MAX_STR);
    msgpack_pack_str_body(&pk, text, DASHI_MAX_STR);
    assert_int_equal(msg_check((const uint8_t *)sb.data, sb.size, &err), 0);
    msgpack_sbuffer_clear(&sb);
    msgpack_pack_str(&pk, DASHI_MAX_STR + 1);
    msgpack_pack_str_body(&pk, text, DASHI_MAX_STR + 1);
    expect_check_error((const uint8_t *)sb.data, sb.size);
    free(text);

    /* bin at the limit passes, one byte over fails */
    uint8_t *bytes = calloc(1, DASHI_MAX_BIN + 1);
    assert_non_null(bytes);
    msgpack_sbuffer_clear(&sb);
    msgpack_pack_bin(&pk, DASHI_MAX_BIN);
    msgpack_pack_bin_body(&pk, bytes, DASHI_MAX_BIN);
    assert_int_equal(msg_check((const uint8_t *)sb.data, sb.size, &err), 0);
    msgpack_sbuffer_clear(&sb);
    msgpack_pack_bin(&pk, DASHI_MAX_BIN + 1);
    msgpack_pack_bin_body(&pk, bytes, DASHI_MAX_BIN + 1);
    expect_check_error((const uint8_t *)sb.data, sb.size);
    free(bytes);
    msgpack_sbuffer_destroy(&sb);
}

static void test_rejected_types(void **state)
{
    (void)state;
    /* ext types, each format */
    static const uint8_t fixext1[] = {0xd4, 0x01, 0x00};
    static const uint8_t fixext16[] = {0xd8, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    static const uint8_t ext8[] = {0xc7, 0x01, 0x05, 0x00};
    static const uint8_t ext_in_map[] = {0x81, 0xa1, 0x61, 0xd5, 0x02, 0x00, 0x00};
    /* map keys that are not strings */
    static const uint8_t int_key[] = {0x81, 0x01, 0x02};
    static const uint8_t nil_key[] = {0x81, 0xc0, 0x02};
    static const uint8_t map_key[] = {0x81, 0x80, 0x02};
    static const uint8_t second_key_bin[] = {0x82, 0xa1, 0x61, 0x01, 0xc4, 0x01, 0x62, 0x02};
    /* the never-used byte */
    static const uint8_t c1[] = {0xc1};
    expect_check_error(fixext1, sizeof fixext1);
    expect_check_error(fixext16, sizeof fixext16);
    expect_check_error(ext8, sizeof ext8);
    expect_check_error(ext_in_map, sizeof ext_in_map);
    expect_check_error(int_key, sizeof int_key);
    expect_check_error(nil_key, sizeof nil_key);
    expect_check_error(map_key, sizeof map_key);
    expect_check_error(second_key_bin, sizeof second_key_bin);
    expect_check_error(c1, sizeof c1);
    /* but string values in arrays and non-string values are fine */
    static const uint8_t ok_map[] = {0x82, 0xa1, 0x61, 0x01, 0xa1, 0x62, 0x92, 0x01, 0xa0};
    struct dashi_error err;
    assert_int_equal(msg_check(ok_map, sizeof ok_map, &err), 0);
}

/* ---- envelope ---------------------------------------------------------------------- */

/* Packs a top-level map from up to 5 key/value pairs chosen by flags. */
enum { K_V = 1, K_ID = 2, K_OP = 4, K_ARGS = 8, K_EXTRA = 16 };

static void pack_envelope_with(msgpack_sbuffer *sb, unsigned keys, uint64_t version)
{
    msgpack_packer pk;
    msgpack_sbuffer_clear(sb);
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, (size_t)__builtin_popcount(keys));
    if (keys & K_V) pk_kv_u64(&pk, "v", version);
    if (keys & K_ID) pk_kv_u64(&pk, "id", 77);
    if (keys & K_OP) pk_kv_str(&pk, "op", "status");
    if (keys & K_ARGS) {
        pk_key(&pk, "args");
        msgpack_pack_map(&pk, 0);
    }
    if (keys & K_EXTRA) pk_kv_bool(&pk, "trace", true);
}

static void test_envelope_keys(void **state)
{
    (void)state;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    const unsigned all = K_V | K_ID | K_OP | K_ARGS;
    struct request req;
    struct dashi_error err;

    pack_envelope_with(&sb, all, 1);
    assert_int_equal(request_decode((const uint8_t *)sb.data, sb.size, &req, &err), 0);
    assert_int_equal(req.id, 77);
    request_free(&req);

    /* each required key missing in turn (id is echoed when present) */
    const unsigned required[] = {K_V, K_ID, K_OP, K_ARGS};
    for (int i = 0; i < 4; i++) {
        pack_envelope_with(&sb, all & ~required[i], 1);
        expect_request_error((const uint8_t *)sb.data, sb.size, DASHI_E_BAD_REQUEST,
                             required[i] == K_ID ? 0 : 77);
    }
    /* an extra top-level key */
    pack_envelope_with(&sb, all | K_EXTRA, 1);
    expect_request_error((const uint8_t *)sb.data, sb.size, DASHI_E_BAD_REQUEST, 77);
    /* version mismatch */
    pack_envelope_with(&sb, all, 2);
    expect_request_error((const uint8_t *)sb.data, sb.size, DASHI_E_VERSION, 77);
    pack_envelope_with(&sb, all, 0);
    expect_request_error((const uint8_t *)sb.data, sb.size, DASHI_E_VERSION, 77);
    msgpack_sbuffer_destroy(&sb);
}

static void test_envelope_types(void **state)
{
    (void)state;
    /* top level not a map: an array, a string, an int */
    static const uint8_t array[] = {0x94, 0x01, 0x01, 0xa1, 0x78, 0x80};
    static const uint8_t str[] = {0xa2, 0x68, 0x69};
    static const uint8_t num[] = {0x07};
    expect_request_error(array, sizeof array, DASHI_E_BAD_REQUEST, 0);
    expect_request_error(str, sizeof str, DASHI_E_BAD_REQUEST, 0);
    expect_request_error(num, sizeof num, DASHI_E_BAD_REQUEST, 0);

    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    struct {
        const char *what;
        int variant;
        dashi_code code;
        uint64_t id;
    } cases[] = {
        {"id negative", 0, DASHI_E_BAD_REQUEST, 0},  {"id string", 1, DASHI_E_BAD_REQUEST, 0},
        {"id float", 2, DASHI_E_BAD_REQUEST, 0},     {"op int", 3, DASHI_E_BAD_REQUEST, 5},
        {"op 32 bytes", 4, DASHI_E_BAD_REQUEST, 5},  {"op empty", 5, DASHI_E_BAD_REQUEST, 5},
        {"args array", 6, DASHI_E_BAD_REQUEST, 5},   {"args nil", 7, DASHI_E_BAD_REQUEST, 5},
        {"v string", 8, DASHI_E_VERSION, 5},         {"duplicate id", 9, DASHI_E_BAD_REQUEST, 5},
        {"duplicate arg", 10, DASHI_E_BAD_REQUEST, 5}, {"op with NUL", 11, DASHI_E_BAD_REQUEST, 5},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        int k = cases[c].variant;
        msgpack_sbuffer_clear(&sb);
        msgpack_pack_map(&pk, k == 9 ? 5 : 4);
        pk_kv_u64(&pk, "v", 1);
        pk_key(&pk, "id");
        if (k == 0) msgpack_pack_int64(&pk, -5);
        else if (k == 1) pk_str(&pk, "5");
        else if (k == 2) msgpack_pack_double(&pk, 5.0);
        else msgpack_pack_uint64(&pk, 5);
        if (k == 9)
            pk_kv_u64(&pk, "id", 6);
        pk_key(&pk, "op");
        if (k == 3) msgpack_pack_int(&pk, 3);
        else if (k == 4) pk_str(&pk, "abcdefghijklmnopqrstuvwxyz012345");
        else if (k == 5) pk_str(&pk, "");
        else if (k == 11) {
            msgpack_pack_str(&pk, 3);
            msgpack_pack_str_body(&pk, "a\0b", 3);
        } else pk_str(&pk, "abcdefghijklmnopqrstuvwxyz01234"); /* 31 bytes: allowed */
        pk_key(&pk, "args");
        if (k == 6) msgpack_pack_array(&pk, 0);
        else if (k == 7) msgpack_pack_nil(&pk);
        else if (k == 10) {
            msgpack_pack_map(&pk, 2);
            pk_kv_u64(&pk, "steps", 1);
            pk_kv_u64(&pk, "steps", 2);
        } else msgpack_pack_map(&pk, 0);
        if (k == 8) {
            /* rewrite: v as a string */
            msgpack_sbuffer_clear(&sb);
            msgpack_pack_map(&pk, 4);
            pk_kv_str(&pk, "v", "1");
            pk_kv_u64(&pk, "id", 5);
            pk_kv_str(&pk, "op", "x");
            pk_key(&pk, "args");
            msgpack_pack_map(&pk, 0);
        }
        struct request req;
        struct dashi_error err;
        int rc = request_decode((const uint8_t *)sb.data, sb.size, &req, &err);
        if (rc != -1 || err.code != cases[c].code || req.id != cases[c].id)
            FAIL_MSG("%s: rc %d code %s id %llu (%s)", cases[c].what, rc, dashi_code_name(err.code),
                     (unsigned long long)req.id, err.message);
        request_free(&req);
    }
    /* the 31-byte op name (all variants' default) decodes */
    msgpack_sbuffer_clear(&sb);
    msgpack_pack_map(&pk, 4);
    pk_kv_u64(&pk, "v", 1);
    pk_kv_u64(&pk, "id", 5);
    pk_kv_str(&pk, "op", "abcdefghijklmnopqrstuvwxyz01234");
    pk_key(&pk, "args");
    msgpack_pack_map(&pk, 0);
    struct request req;
    struct dashi_error err;
    assert_int_equal(request_decode((const uint8_t *)sb.data, sb.size, &req, &err), 0);
    assert_string_equal(req.op, "abcdefghijklmnopqrstuvwxyz01234");
    request_free(&req);
    msgpack_sbuffer_destroy(&sb);
}

/* Empty keys before any other string get a NULL pointer from msgpack-c; the decoder
 * must name them as unknown or duplicate without handing NULL to memcmp (UBSan
 * aborts this test if it does). */
static void test_empty_keys(void **state)
{
    (void)state;
    static const uint8_t two_empty_first[] = {0x86, 0xa0, 0x01, 0xa0, 0x02, 0xa1, 'v', 0x01, 0xa2, 'i', 'd', 0x07,
                                              0xa2, 'o', 'p', 0xa4, 'p', 'i', 'n', 'g', 0xa4, 'a', 'r', 'g', 's', 0x80};
    static const uint8_t one_empty_first[] = {0x85, 0xa0, 0x01, 0xa1, 'v', 0x01, 0xa2, 'i', 'd', 0x07,
                                              0xa2, 'o', 'p', 0xa4, 'p', 'i', 'n', 'g', 0xa4, 'a', 'r', 'g', 's', 0x80};
    struct request req;
    struct dashi_error err;
    assert_int_equal(request_decode(two_empty_first, sizeof two_empty_first, &req, &err), -1);
    assert_int_equal(err.code, DASHI_E_BAD_REQUEST);
    assert_non_null(strstr(err.message, "duplicate key \"\""));
    assert_int_equal(req.id, 7);
    request_free(&req);
    assert_int_equal(request_decode(one_empty_first, sizeof one_empty_first, &req, &err), -1);
    assert_int_equal(err.code, DASHI_E_BAD_REQUEST);
    assert_non_null(strstr(err.message, "unknown request key \"\""));
    request_free(&req);
}

/* A key twice in a map nested inside args (a job's args in submit, a map in an array) is
 * refused like one twice in args, naming its path; 4096 distinct keys in each of several
 * maps pass (and quickly: the check sorts, it does not compare every pair). */
static void test_nested_duplicate_keys(void **state)
{
    (void)state;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    struct request req;
    struct dashi_error err;
    for (int variant = 0; variant < 2; variant++) {
        msgpack_sbuffer_clear(&sb);
        pack_request_begin(&pk, 3, "submit");
        msgpack_pack_map(&pk, 2);
        pk_kv_str(&pk, "kind", "les");
        pk_key(&pk, variant == 0 ? "args" : "list");
        if (variant == 1) { /* a list of two maps, the second with the duplicate */
            msgpack_pack_array(&pk, 2);
            msgpack_pack_map(&pk, 0);
        }
        msgpack_pack_map(&pk, 3);
        pk_kv_u64(&pk, "steps", 5);
        pk_kv_u64(&pk, "N", 16);
        pk_kv_u64(&pk, "steps", 10000);
        assert_int_equal(request_decode((const uint8_t *)sb.data, sb.size, &req, &err), -1);
        assert_int_equal(err.code, DASHI_E_BAD_REQUEST);
        assert_string_equal(err.field, variant == 0 ? "args.args.steps" : "args.list[1].steps");
        assert_non_null(strstr(err.message, "duplicate key \"steps\""));
        assert_int_equal(req.id, 3);
        request_free(&req);
    }
    msgpack_sbuffer_clear(&sb);
    pack_request_begin(&pk, 4, "submit");
    msgpack_pack_map(&pk, 8);
    for (int m = 0; m < 8; m++) {
        char key[16];
        snprintf(key, sizeof key, "m%d", m);
        pk_key(&pk, key);
        msgpack_pack_map(&pk, DASHI_MAX_ITEMS);
        for (int i = 0; i < DASHI_MAX_ITEMS; i++) {
            snprintf(key, sizeof key, "k%d", i);
            pk_kv_u64(&pk, key, (uint64_t)i);
        }
    }
    assert_int_equal(request_decode((const uint8_t *)sb.data, sb.size, &req, &err), 0);
    request_free(&req);
    msgpack_sbuffer_destroy(&sb);
}

/* ---- typed arguments --------------------------------------------------------------- */

static void expect_arg_error(const struct dashi_error *err, int rc, dashi_code code, const char *field)
{
    assert_int_equal(rc, -1);
    if (err->code != code)
        FAIL_MSG("expected %s, got %s: %s", dashi_code_name(code), dashi_code_name(err->code), err->message);
    assert_string_equal(err->field, field);
    /* the message names the field for a human */
    if (!strstr(err->message, field))
        FAIL_MSG("message does not name %s: %s", field, err->message);
}

static void test_arg_integers(void **state)
{
    (void)state;
    struct fixture fx;
    msgpack_packer *pk = begin_request(&fx, 1, "x", 7);
    pk_kv_i64(pk, "neg", -3);
    pk_kv_f64(pk, "flt", 2.0);
    pk_kv_str(pk, "txt", "12");
    pk_kv_u64(pk, "big", UINT64_MAX);
    pk_kv_u64(pk, "ten", 10);
    pk_kv_bool(pk, "yes", true);
    pk_kv_i64(pk, "min", INT64_MIN);
    decode_ok(&fx);
    const msgpack_object *a = fx.req.args;
    uint64_t u = 99;
    int64_t i = 99;
    struct dashi_error *err = &fx.err;

    /* u64 */
    expect_arg_error(err, arg_u64(a, "neg", true, 0, 1, UINT64_MAX, &u, err), DASHI_E_BAD_VALUE, "neg");
    assert_non_null(strstr(err->message, "-3"));
    assert_non_null(strstr(err->message, ">= 1"));
    expect_arg_error(err, arg_u64(a, "flt", true, 0, 0, UINT64_MAX, &u, err), DASHI_E_BAD_TYPE, "flt");
    expect_arg_error(err, arg_u64(a, "txt", true, 0, 0, UINT64_MAX, &u, err), DASHI_E_BAD_TYPE, "txt");
    expect_arg_error(err, arg_u64(a, "yes", true, 0, 0, UINT64_MAX, &u, err), DASHI_E_BAD_TYPE, "yes");
    expect_arg_error(err, arg_u64(a, "ten", true, 0, 1, 9, &u, err), DASHI_E_BAD_VALUE, "ten");
    expect_arg_error(err, arg_u64(a, "ten", true, 0, 11, 20, &u, err), DASHI_E_BAD_VALUE, "ten");
    expect_arg_error(err, arg_u64(a, "absent", true, 0, 0, 5, &u, err), DASHI_E_MISSING_FIELD, "absent");
    assert_int_equal(arg_u64(a, "ten", true, 0, 10, 10, &u, err), 0);
    assert_int_equal(u, 10);
    assert_int_equal(arg_u64(a, "big", true, 0, 0, UINT64_MAX, &u, err), 0);
    assert_true(u == UINT64_MAX);
    assert_int_equal(arg_u64(a, "absent", false, 17, 0, 5, &u, err), 0);
    assert_int_equal(u, 17);

    /* i64 */
    assert_int_equal(arg_i64(a, "neg", true, 0, -10, 10, &i, err), 0);
    assert_int_equal(i, -3);
    assert_int_equal(arg_i64(a, "ten", true, 0, -10, 10, &i, err), 0);
    assert_int_equal(i, 10);
    assert_int_equal(arg_i64(a, "min", true, 0, INT64_MIN, 0, &i, err), 0);
    assert_true(i == INT64_MIN);
    expect_arg_error(err, arg_i64(a, "big", true, 0, INT64_MIN, INT64_MAX, &i, err), DASHI_E_BAD_VALUE, "big");
    expect_arg_error(err, arg_i64(a, "neg", true, 0, 0, 10, &i, err), DASHI_E_BAD_VALUE, "neg");
    expect_arg_error(err, arg_i64(a, "flt", true, 0, -10, 10, &i, err), DASHI_E_BAD_TYPE, "flt");
    expect_arg_error(err, arg_i64(a, "txt", true, 0, -10, 10, &i, err), DASHI_E_BAD_TYPE, "txt");
    fixture_free(&fx);
}

static void test_arg_floats(void **state)
{
    (void)state;
    struct fixture fx;
    msgpack_packer *pk = begin_request(&fx, 1, "x", 9);
    pk_kv_f64(pk, "nan", NAN);
    pk_kv_f64(pk, "inf", INFINITY);
    pk_kv_f64(pk, "ninf", -INFINITY);
    pk_key(pk, "nan32");
    msgpack_pack_float(pk, NAN);
    pk_key(pk, "half32");
    msgpack_pack_float(pk, 0.5f);
    pk_kv_i64(pk, "int", -7);
    pk_kv_u64(pk, "uint", 3);
    pk_kv_str(pk, "txt", "1.0");
    pk_kv_f64(pk, "pi", 3.141592653589793);
    decode_ok(&fx);
    const msgpack_object *a = fx.req.args;
    double d = 0;
    struct dashi_error *err = &fx.err;

    expect_arg_error(err, arg_f64(a, "nan", true, 0, -INFINITY, INFINITY, &d, err), DASHI_E_BAD_VALUE, "nan");
    expect_arg_error(err, arg_f64(a, "inf", true, 0, -INFINITY, INFINITY, &d, err), DASHI_E_BAD_VALUE, "inf");
    expect_arg_error(err, arg_f64(a, "ninf", true, 0, -INFINITY, INFINITY, &d, err), DASHI_E_BAD_VALUE, "ninf");
    expect_arg_error(err, arg_f64(a, "nan32", true, 0, -INFINITY, INFINITY, &d, err), DASHI_E_BAD_VALUE, "nan32");
    expect_arg_error(err, arg_f64(a, "txt", true, 0, -INFINITY, INFINITY, &d, err), DASHI_E_BAD_TYPE, "txt");
    expect_arg_error(err, arg_f64(a, "pi", true, 0, 0, 3, &d, err), DASHI_E_BAD_VALUE, "pi");
    expect_arg_error(err, arg_f64(a, "int", true, 0, 0, INFINITY, &d, err), DASHI_E_BAD_VALUE, "int");
    expect_arg_error(err, arg_f64(a, "gone", true, 0, 0, 1, &d, err), DASHI_E_MISSING_FIELD, "gone");
    assert_int_equal(arg_f64(a, "half32", true, 0, 0, 1, &d, err), 0);
    assert_true(d == 0.5);
    assert_int_equal(arg_f64(a, "int", true, 0, -10, 10, &d, err), 0);
    assert_true(d == -7.0);
    assert_int_equal(arg_f64(a, "uint", true, 0, -10, 10, &d, err), 0);
    assert_true(d == 3.0);
    assert_int_equal(arg_f64(a, "pi", true, 0, 3, 4, &d, err), 0);
    assert_true(d == 3.141592653589793);
    assert_int_equal(arg_f64(a, "gone", false, 0.25, 0, 1, &d, err), 0);
    assert_true(d == 0.25);
    fixture_free(&fx);
}

static void test_arg_others(void **state)
{
    (void)state;
    static const uint8_t bytes[] = {1, 2, 3};
    struct fixture fx;
    msgpack_packer *pk = begin_request(&fx, 1, "x", 10);
    pk_kv_u64(pk, "one", 1);
    pk_kv_str(pk, "word", "hello");
    pk_key(pk, "nul");
    msgpack_pack_str(pk, 3);
    msgpack_pack_str_body(pk, "a\0b", 3);
    pk_kv_str(pk, "upper", "0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef");
    pk_kv_str(pk, "short", "0123456789abcdef");
    pk_kv_str(pk, "nonhex", "0123456789abcdeg0123456789abcdef0123456789abcdef0123456789abcdef");
    pk_kv_bin(pk, "bytes", bytes, sizeof bytes);
    pk_kv_nil(pk, "nothing");
    pk_kv_str(pk, "prec", "f16");
    pk_kv_bool(pk, "no", false);
    decode_ok(&fx);
    const msgpack_object *a = fx.req.args;
    struct dashi_error *err = &fx.err;
    bool b = true;
    char s[8];
    char h[DASHI_HASH_HEX + 1];
    int e = -1;
    const uint8_t *data;
    size_t len;
    static const char *const precs[] = {"f64", "f32", NULL};

    /* bool */
    expect_arg_error(err, arg_bool(a, "one", true, false, &b, err), DASHI_E_BAD_TYPE, "one");
    expect_arg_error(err, arg_bool(a, "nothing", true, false, &b, err), DASHI_E_MISSING_FIELD, "nothing");
    assert_int_equal(arg_bool(a, "no", true, true, &b, err), 0);
    assert_false(b);
    assert_int_equal(arg_bool(a, "nothing", false, true, &b, err), 0);
    assert_true(b);
    /* str */
    expect_arg_error(err, arg_str(a, "one", true, NULL, s, sizeof s, err), DASHI_E_BAD_TYPE, "one");
    expect_arg_error(err, arg_str(a, "word", true, NULL, s, 5, err), DASHI_E_BAD_VALUE, "word");
    expect_arg_error(err, arg_str(a, "nul", true, NULL, s, sizeof s, err), DASHI_E_BAD_VALUE, "nul");
    assert_int_equal(arg_str(a, "word", true, NULL, s, 6, err), 0);
    assert_string_equal(s, "hello");
    assert_int_equal(arg_str(a, "nothing", false, "dflt", s, sizeof s, err), 0);
    assert_string_equal(s, "dflt");
    /* enum */
    expect_arg_error(err, arg_enum(a, "prec", true, 0, precs, &e, err), DASHI_E_BAD_VALUE, "prec");
    assert_non_null(strstr(err->message, "\"f32\""));
    expect_arg_error(err, arg_enum(a, "one", true, 0, precs, &e, err), DASHI_E_BAD_TYPE, "one");
    assert_int_equal(arg_enum(a, "nothing", false, 1, precs, &e, err), 0);
    assert_int_equal(e, 1);
    /* hash */
    expect_arg_error(err, arg_hash(a, "upper", true, h, err), DASHI_E_BAD_VALUE, "upper");
    expect_arg_error(err, arg_hash(a, "short", true, h, err), DASHI_E_BAD_VALUE, "short");
    expect_arg_error(err, arg_hash(a, "nonhex", true, h, err), DASHI_E_BAD_VALUE, "nonhex");
    expect_arg_error(err, arg_hash(a, "bytes", true, h, err), DASHI_E_BAD_TYPE, "bytes");
    expect_arg_error(err, arg_hash(a, "nothing", true, h, err), DASHI_E_MISSING_FIELD, "nothing");
    /* bin */
    expect_arg_error(err, arg_bin(a, "word", true, &data, &len, err), DASHI_E_BAD_TYPE, "word");
    assert_int_equal(arg_bin(a, "bytes", true, &data, &len, err), 0);
    assert_int_equal(len, 3);
    assert_memory_equal(data, bytes, 3);
    assert_int_equal(arg_bin(a, "nothing", false, &data, &len, err), 0);
    assert_null(data);
    assert_int_equal(len, 0);
    fixture_free(&fx);
}

static void test_args_only(void **state)
{
    (void)state;
    struct fixture fx;
    msgpack_packer *pk = begin_request(&fx, 1, "x", 3);
    pk_kv_u64(pk, "steps", 1);
    pk_kv_u64(pk, "dt", 1);
    pk_kv_u64(pk, "stpes", 1);
    decode_ok(&fx);
    static const char *const allowed[] = {"steps", "dt", NULL};
    static const char *const more[] = {"steps", "dt", "stpes", NULL};
    static const char *const none[] = {NULL};
    expect_arg_error(&fx.err, args_only(fx.req.args, allowed, &fx.err), DASHI_E_UNKNOWN_FIELD, "stpes");
    assert_int_equal(args_only(fx.req.args, more, &fx.err), 0);
    expect_arg_error(&fx.err, args_only(fx.req.args, none, &fx.err), DASHI_E_UNKNOWN_FIELD, "steps");
    assert_non_null(args_find(fx.req.args, "dt"));
    assert_null(args_find(fx.req.args, "d"));
    fixture_free(&fx);
}

/* ---- responses and events ---------------------------------------------------------- */

static void test_responses(void **state)
{
    (void)state;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    uint64_t id;
    bool ok;
    const msgpack_object *result, *event;
    struct dashi_error remote, err;

    /* ok */
    frame_begin(&sb);
    pack_ok_begin(&pk, 11);
    msgpack_pack_map(&pk, 1);
    pk_kv_u64(&pk, "job", 5);
    frame_finish(&sb);
    assert_int_equal(response_decode((const uint8_t *)sb.data + 4, sb.size - 4, &u, &id, &ok, &result, &event,
                                     &remote, &err), 0);
    assert_int_equal(id, 11);
    assert_true(ok);
    assert_null(event);
    assert_non_null(result);
    assert_int_equal(args_find(result, "job")->via.u64, 5);

    /* error, with and without a field; the decoder is reused */
    struct dashi_error sent;
    dashi_fail(&sent, DASHI_E_BAD_VALUE, "steps", "steps must be an integer >= 1, got %d", -3);
    frame_begin(&sb);
    pack_error(&pk, 12, &sent);
    frame_finish(&sb);
    assert_int_equal(response_decode((const uint8_t *)sb.data + 4, sb.size - 4, &u, &id, &ok, &result, &event,
                                     &remote, &err), 0);
    assert_int_equal(id, 12);
    assert_false(ok);
    assert_null(result);
    assert_int_equal(remote.code, DASHI_E_BAD_VALUE);
    assert_string_equal(remote.field, "steps");
    assert_string_equal(remote.message, sent.message);
    const msgpack_object *field = args_find(args_find(&u.data, "error"), "field");
    assert_int_equal(field->type, MSGPACK_OBJECT_STR);

    dashi_fail(&sent, DASHI_E_SHUTTING_DOWN, NULL, "the daemon is stopping");
    frame_begin(&sb);
    pack_error(&pk, 0, &sent);
    frame_finish(&sb);
    assert_int_equal(response_decode((const uint8_t *)sb.data + 4, sb.size - 4, &u, &id, &ok, &result, &event,
                                     &remote, &err), 0);
    assert_int_equal(remote.code, DASHI_E_SHUTTING_DOWN);
    assert_string_equal(remote.field, "");
    field = args_find(args_find(&u.data, "error"), "field");
    assert_int_equal(field->type, MSGPACK_OBJECT_NIL); /* an empty field travels as nil */

    /* event */
    frame_begin(&sb);
    pack_event_begin(&pk, 13);
    msgpack_pack_map(&pk, 2);
    pk_kv_str(&pk, "state", "running");
    pk_kv_f64(&pk, "progress", 0.5);
    frame_finish(&sb);
    assert_int_equal(response_decode((const uint8_t *)sb.data + 4, sb.size - 4, &u, &id, &ok, &result, &event,
                                     &remote, &err), 0);
    assert_int_equal(id, 13);
    assert_non_null(event);
    assert_null(result);
    assert_int_equal(args_find(event, "progress")->via.f64 == 0.5, 1);

    /* a request is not a response */
    frame_begin(&sb);
    pack_request_begin(&pk, 1, "ping");
    msgpack_pack_map(&pk, 0);
    frame_finish(&sb);
    assert_int_equal(response_decode((const uint8_t *)sb.data + 4, sb.size - 4, &u, &id, &ok, &result, &event,
                                     &remote, &err), -1);
    assert_int_equal(err.code, DASHI_E_BAD_FRAME);

    msgpack_unpacked_destroy(&u);
    msgpack_sbuffer_destroy(&sb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_byte_by_byte),
        cmocka_unit_test(test_frame_header_limits),
        cmocka_unit_test(test_frame_begin_finish),
        cmocka_unit_test(test_truncated_payload),
        cmocka_unit_test(test_trailing_bytes),
        cmocka_unit_test(test_depth_limit),
        cmocka_unit_test(test_huge_declared_counts),
        cmocka_unit_test(test_item_and_size_limits),
        cmocka_unit_test(test_rejected_types),
        cmocka_unit_test(test_envelope_keys),
        cmocka_unit_test(test_envelope_types),
        cmocka_unit_test(test_empty_keys),
        cmocka_unit_test(test_nested_duplicate_keys),
        cmocka_unit_test(test_arg_integers),
        cmocka_unit_test(test_arg_floats),
        cmocka_unit_test(test_arg_others),
        cmocka_unit_test(test_args_only),
        cmocka_unit_test(test_responses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
