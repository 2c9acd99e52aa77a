/* SPDX-License-Identifier: MIT */
/* The client library used by `dashi`: finding (or starting) the daemon, calling ops,
 * streaming events, and moving .npy files in and out of the blob store. */
#ifndef DASHI_CLIENT_H
#define DASHI_CLIENT_H

#include <msgpack.h>
#include <stdbool.h>
#include <stdint.h>

#include "errors.h"
#include "wire.h"

struct dashi_client {
    int fd;
    uint64_t last_id;
    char socket_path[108];
    struct frame_reader fr;
};

/* Packs the args map of a request. */
typedef void (*pack_args_fn)(msgpack_packer *pk, void *ctx);
/* Packs the map that inner packs (an empty one when inner is NULL) with nextra more
 * entries, which extra packs after them. */
void pack_map_extended(msgpack_packer *pk, pack_args_fn inner, void *inner_ctx, uint32_t nextra,
                       pack_args_fn extra, void *extra_ctx);
/* Receives each event of a streaming op (wait); return non-zero to stop waiting. */
typedef int (*event_fn)(const msgpack_object *event, void *ctx);

/* Connects to path; E_CONNECT if nothing listens there, or if the listening process
 * (SO_PEERCRED) is not this user, root or the daemon user ($DASHI_DAEMON_USER, else
 * "dashid"): another user's socket would receive our uploads and forge our results. */
int client_connect(struct dashi_client *c, const char *path, struct dashi_error *err);
/* Finds the daemon: $DASHI_SOCKET, else the system socket, else the per-user socket;
 * when none answers and autostart is set (a refused one is not "none"), starts a per-user dashid (on $DASHI_SOCKET
 * when it is set, with state in $DASHI_STATE_DIR when set) and connects to it. */
int client_open(struct dashi_client *c, bool autostart, struct dashi_error *err);
void client_close(struct dashi_client *c);

/* Sends a request and reads its response. On success *result points into resp (which
 * the caller destroys). A remote error is returned as -1 with err filled from it.
 * Events before the response go to on_event (may be NULL). */
int client_call(struct dashi_client *c, const char *op, pack_args_fn pack, void *ctx, event_fn on_event,
                void *event_ctx, msgpack_unpacked *resp, const msgpack_object **result, struct dashi_error *err);

/* Calls a paged op (docs/protocol.md "Paging"), following each reply's `next` cursor
 * until it is nil (or, with max_rows > 0, until the arrays under rows_key hold max_rows
 * rows), and merges the pages into one result: arrays concatenated, maps merged key by
 * key, `next` nil. */
int client_call_all(struct dashi_client *c, const char *op, pack_args_fn pack, void *ctx, const char *rows_key,
                    uint64_t max_rows, msgpack_unpacked *resp, const msgpack_object **result,
                    struct dashi_error *err);

/* Uploads a .npy file in chunks; hash receives the blob name. */
int client_put_file(struct dashi_client *c, const char *path, char hash[DASHI_HASH_HEX + 1], struct dashi_error *err);
/* Downloads a blob into path (written to a temporary name, then renamed). */
int client_get_file(struct dashi_client *c, const char *hash, const char *path, struct dashi_error *err);

/* Looks up key in a msgpack map; NULL if absent. */
const msgpack_object *map_get(const msgpack_object *map, const char *key);
/* An integer's value; 0 when o is NULL or not an integer. */
int64_t obj_i64(const msgpack_object *o);
/* Any number's value (integer or float); `otherwise` when o is NULL or not a number. */
double obj_number(const msgpack_object *o, double otherwise);

#endif
