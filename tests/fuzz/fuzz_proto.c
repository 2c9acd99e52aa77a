/* SPDX-License-Identifier: MIT */
/* libFuzzer target for the protocol decoder: the input is a byte stream from a
 * hostile peer. It goes through frame_reader in uneven chunks (as reads arrive), each
 * complete frame through msg_check and request_decode, and every decoded request's
 * arguments through every typed getter and json_string. The whole input is also tried
 * as one payload. Invariants checked: an error is always packable and our own
 * error response always decodes; nothing leaks (ASan). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_error_response(const struct dashi_error *e, uint64_t id)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    frame_begin(&sb);
    pack_error(&pk, id, e);
    frame_finish(&sb);
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    uint64_t got_id;
    bool ok;
    const msgpack_object *result, *event;
    struct dashi_error remote, err;
    if (response_decode((const uint8_t *)sb.data + 4, sb.size - 4, &u, &got_id, &ok, &result, &event, &remote,
                        &err) != 0 || ok || got_id != id || remote.code != e->code)
        abort(); /* our own error response must always decode to the same error */
    msgpack_unpacked_destroy(&u);
    msgpack_sbuffer_destroy(&sb);
}

static void exercise_args(const msgpack_object *args)
{
    static const char *const choices[] = {"f32", "f64", "les", "", NULL};
    static const char *const allowed[] = {"steps", "dt", "name", NULL};
    struct dashi_error err;
    for (uint32_t i = 0; i < args->via.map.size; i++) {
        const msgpack_object *key = &args->via.map.ptr[i].key;
        char name[64];
        /* an empty key has a NULL pointer (msgpack-c), which the mem* functions may not get */
        if (key->type != MSGPACK_OBJECT_STR || key->via.str.size >= sizeof name ||
            (key->via.str.size > 0 && memchr(key->via.str.ptr, 0, key->via.str.size)))
            continue;
        if (key->via.str.size > 0)
            memcpy(name, key->via.str.ptr, key->via.str.size);
        name[key->via.str.size] = 0;

        uint64_t u;
        int64_t s;
        double d;
        bool b;
        char text[32], hash[DASHI_HASH_HEX + 1];
        int e;
        const uint8_t *bin;
        size_t len;
        arg_u64(args, name, true, 0, 1, 1000000, &u, &err);
        arg_u64(args, name, false, 0, 0, UINT64_MAX, &u, &err);
        arg_i64(args, name, true, 0, -5, 5, &s, &err);
        arg_i64(args, name, true, 0, INT64_MIN, INT64_MAX, &s, &err);
        arg_f64(args, name, true, 0, -1.0, 1.0, &d, &err);
        arg_bool(args, name, true, false, &b, &err);
        arg_str(args, name, true, NULL, text, sizeof text, &err);
        arg_enum(args, name, true, 0, choices, &e, &err);
        arg_hash(args, name, true, hash, &err);
        if (arg_bin(args, name, true, &bin, &len, &err) == 0 && len > 0)
            (void)bin[len - 1]; /* the pointer must cover len bytes */
    }
    if (args_only(args, allowed, &err) < 0)
        check_error_response(&err, 1);
    char *json = json_string(args, -1);
    free(json);
    json = json_string(args, 2);
    free(json);
}

static void process_payload(const uint8_t *p, size_t n)
{
    struct dashi_error err;
    msg_check(p, n, &err);

    struct request req;
    if (request_decode(p, n, &req, &err) == 0) {
        if (!req.args || req.args->type != MSGPACK_OBJECT_MAP || strlen(req.op) == 0)
            abort();
        exercise_args(req.args);
    } else {
        check_error_response(&err, req.id);
    }
    request_free(&req);

    /* The same bytes as a response, as a client would read them. */
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    uint64_t id;
    bool ok;
    const msgpack_object *result, *event;
    struct dashi_error remote;
    if (response_decode(p, n, &u, &id, &ok, &result, &event, &remote, &err) == 0) {
        char *json = json_string(result ? result : event ? event : &u.data, -1);
        free(json);
    }
    msgpack_unpacked_destroy(&u);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* As a stream: chunk sizes cycle through a pattern seeded by the first byte. */
    struct frame_reader fr;
    frame_reader_init(&fr);
    struct dashi_error err;
    size_t step = size ? 1 + data[0] % 7 : 1;
    bool closed = false;
    for (size_t pos = 0; pos < size && !closed;) {
        size_t chunk = step * (1 + pos % 5);
        if (chunk > size - pos)
            chunk = size - pos;
        if (frame_reader_feed(&fr, data + pos, chunk, &err) < 0)
            abort();
        pos += chunk;
        const uint8_t *payload;
        size_t len;
        int rc;
        while ((rc = frame_reader_next(&fr, &payload, &len, &err)) == 1)
            process_payload(payload, len);
        if (rc < 0) {
            check_error_response(&err, 0);
            closed = true; /* the daemon closes the connection */
        }
    }
    frame_reader_free(&fr);

    /* As one payload. */
    process_payload(data, size);
    return 0;
}
