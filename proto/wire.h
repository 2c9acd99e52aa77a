/* SPDX-License-Identifier: MIT */
/* The dashid wire protocol: framing, request decoding with hard limits, typed access
 * to arguments with errors that name the field, and packing of responses and events.
 * Specified in docs/protocol.md.
 *
 * Frame: 4-byte big-endian payload length, then exactly one msgpack map.
 * Request:  {"v": 1, "id": uint, "op": str, "args": map}
 * Response: {"v": 1, "id": uint, "ok": true,  "result": any}
 *           {"v": 1, "id": uint, "ok": false, "error": {"code": str, "message": str, "field": str|nil}}
 * Event:    {"v": 1, "id": uint, "event": map}   (streamed before the final response of wait/watch) */
#ifndef DASHI_WIRE_H
#define DASHI_WIRE_H

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "errors.h"

#define DASHI_PROTO_VERSION 1
#define DASHI_RELEASE "0.1.0" /* dashid and dashi, built together (dashi --version, dashid --version, ping) */
#define DASHI_FRAME_MAX (8u << 20)      /* payload bytes of one frame */
#define DASHI_MAX_DEPTH 8               /* nesting of maps/arrays, the request map is depth 1 */
#define DASHI_MAX_STR 4096              /* bytes of one str */
#define DASHI_MAX_BIN (4u << 20)        /* bytes of one bin (blob chunks) */
#define DASHI_MAX_ITEMS 4096            /* entries of one map or array */
#define DASHI_HASH_HEX 64               /* blob names: BLAKE2b-256 in lowercase hex */
/* Replies that grow with the data are pages (docs/protocol.md "Paging"): at most
 * DASHI_PAGE_ROWS rows (an array limit; a row of hashes, metrics, atoms, edges or audit
 * packs to at most ~150 bytes, so a page stays under 1 MiB) or DASHI_PAGE_JOBS job
 * records (one packs to at most ~40 KB: 4 MiB). Both are far below DASHI_FRAME_MAX. */
#define DASHI_PAGE_ROWS DASHI_MAX_ITEMS
#define DASHI_PAGE_JOBS 100

/* ---- framing ----------------------------------------------------------------- */

/* Accumulates stream bytes and yields complete frames. */
struct frame_reader {
    uint8_t *buf;
    size_t len, cap;
    size_t consumed; /* bytes of the frame last handed out by next, dropped on the following call */
};

void frame_reader_init(struct frame_reader *fr);
void frame_reader_free(struct frame_reader *fr);
/* Appends bytes. Fails (E_TOO_LARGE) only if memory for them cannot be had. */
int frame_reader_feed(struct frame_reader *fr, const void *data, size_t n, struct dashi_error *err);
/* 1: a complete frame is available at *payload and *len (valid until the next call);
 * 0: more bytes are needed; -1: the announced length exceeds DASHI_FRAME_MAX or is 0
 * (E_BAD_FRAME / E_TOO_LARGE): the connection must be closed. */
int frame_reader_next(struct frame_reader *fr, const uint8_t **payload, size_t *len, struct dashi_error *err);
/* Writes the 4-byte header for a payload of n bytes. */
void frame_header(uint8_t hdr[4], size_t n);

/* ---- decoding ---------------------------------------------------------------- */

/* Walks raw msgpack bytes without allocating and checks: exactly one object filling
 * the buffer, depth <= DASHI_MAX_DEPTH, str <= DASHI_MAX_STR, bin <= DASHI_MAX_BIN,
 * map/array entries <= DASHI_MAX_ITEMS and never more than the remaining bytes could
 * hold, no ext types, map keys are str. Done before msgpack-c sees the bytes, because
 * msgpack-c sizes allocations from declared counts. */
int msg_check(const uint8_t *p, size_t n, struct dashi_error *err);

struct request {
    msgpack_unpacked unpacked; /* owns the objects below */
    uint64_t id;
    char op[32];
    const msgpack_object *args; /* a map (possibly empty) */
};

/* msg_check + unpack + validates the envelope (v, id, op, args; no other keys).
 * On failure req->id is set when it could be read (else 0) so the error can echo it;
 * codes: E_BAD_FRAME, E_BAD_REQUEST, E_VERSION. The op name is not checked here.
 * request_free must be called whether it succeeded or not. */
int request_decode(const uint8_t *p, size_t n, struct request *req, struct dashi_error *err);
void request_free(struct request *req);

/* ---- typed arguments ----------------------------------------------------------
 * All take the args map; `name` is the key and is used as the error's field.
 * Missing keys: if `required`, E_MISSING_FIELD; otherwise *out = def and 0 returned.
 * A key present with nil counts as missing. */

/* E_UNKNOWN_FIELD naming the first key of args not in the NULL-terminated list. */
int args_only(const msgpack_object *args, const char *const *allowed, struct dashi_error *err);
const msgpack_object *args_find(const msgpack_object *args, const char *name);

int arg_u64(const msgpack_object *args, const char *name, bool required, uint64_t def,
            uint64_t min, uint64_t max, uint64_t *out, struct dashi_error *err);
int arg_i64(const msgpack_object *args, const char *name, bool required, int64_t def,
            int64_t min, int64_t max, int64_t *out, struct dashi_error *err);
/* Accepts float and integer encodings; rejects NaN/Inf (E_BAD_VALUE) and values outside [min,max]. */
int arg_f64(const msgpack_object *args, const char *name, bool required, double def,
            double min, double max, double *out, struct dashi_error *err);
int arg_bool(const msgpack_object *args, const char *name, bool required, bool def, bool *out,
             struct dashi_error *err);
/* Copies into out (NUL-terminated); E_BAD_VALUE if it does not fit cap or contains NUL. */
int arg_str(const msgpack_object *args, const char *name, bool required, const char *def,
            char *out, size_t cap, struct dashi_error *err);
/* One of the NULL-terminated choices; *out is its index. */
int arg_enum(const msgpack_object *args, const char *name, bool required, int def,
             const char *const *choices, int *out, struct dashi_error *err);
/* A blob name: exactly DASHI_HASH_HEX lowercase hex digits. out has room for 65 bytes. */
int arg_hash(const msgpack_object *args, const char *name, bool required, char out[DASHI_HASH_HEX + 1],
             struct dashi_error *err);
/* bin bytes (pointer into the request; valid while the request lives). */
int arg_bin(const msgpack_object *args, const char *name, bool required, const uint8_t **data,
            size_t *len, struct dashi_error *err);

/* ---- encoding -----------------------------------------------------------------
 * The caller owns a msgpack_sbuffer + msgpack_packer. A frame is produced by
 * frame_finish, which prepends the 4-byte header: reserve it with frame_begin first. */

void frame_begin(msgpack_sbuffer *sb);  /* clears sb and reserves the header */
void frame_finish(msgpack_sbuffer *sb); /* fills the header with the payload length */

/* Writes {"v","id","ok":true,"result": <the caller packs one object next>}. */
void pack_ok_begin(msgpack_packer *pk, uint64_t id);
/* Writes a complete error response. */
void pack_error(msgpack_packer *pk, uint64_t id, const struct dashi_error *err);
/* Writes {"v","id","event": <the caller packs one map next>}. */
void pack_event_begin(msgpack_packer *pk, uint64_t id);
/* Writes {"v":1,"id":id,"op":op,"args": <the caller packs one map next>} (client side). */
void pack_request_begin(msgpack_packer *pk, uint64_t id, const char *op);

void pk_str(msgpack_packer *pk, const char *s);
void pk_kv_str(msgpack_packer *pk, const char *k, const char *v); /* v NULL -> nil */
void pk_kv_u64(msgpack_packer *pk, const char *k, uint64_t v);
void pk_kv_i64(msgpack_packer *pk, const char *k, int64_t v);
void pk_kv_f64(msgpack_packer *pk, const char *k, double v);
void pk_kv_bool(msgpack_packer *pk, const char *k, bool v);
void pk_kv_nil(msgpack_packer *pk, const char *k);
void pk_kv_bin(msgpack_packer *pk, const char *k, const void *data, size_t n);
void pk_key(msgpack_packer *pk, const char *k); /* the caller packs the value next */

/* Decodes a response (client side): *ok, and either *result or *err filled from the
 * error map; *event is set instead when the frame is an event. Pointers borrow from u. */
int response_decode(const uint8_t *p, size_t n, msgpack_unpacked *u, uint64_t *id, bool *ok,
                    const msgpack_object **result, const msgpack_object **event,
                    struct dashi_error *remote_err, struct dashi_error *err);

#endif
