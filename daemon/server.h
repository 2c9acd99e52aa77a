/* The Unix-socket server on the loop thread: binds the socket with deliberate
 * permissions, accepts connections, identifies each peer with SO_PEERCRED, splits the
 * byte stream into frames, hands requests to ops.c and writes responses. */
#ifndef DASHI_SERVER_H
#define DASHI_SERVER_H

#include <msgpack.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <uv.h>

#include "daemon.h"
#include "wire.h"

struct upload_slot;
struct download_slot;
struct waiter;

struct conn {
    struct daemon *d;
    uv_pipe_t pipe;
    struct frame_reader fr;
    uid_t uid;
    gid_t gid;
    pid_t pid;
    char user[64];
    bool closing;       /* no more reads or requests */
    bool handle_closed; /* uv_close called */
    struct upload_slot *uploads; /* in-progress uploads of this connection */
    struct download_slot *downloads; /* `get`s being verified as they are served */
    struct waiter *waiters;      /* `wait` requests streaming events */
    struct conn *next;
};

/* Binds and listens (an existing socket file is replaced only if no daemon answers on it). */
int server_start(struct daemon *d, struct dashi_error *err);
/* Stops accepting (the listening socket is closed and its file removed). */
void server_stop_listening(struct daemon *d);
/* Closes every connection. */
void server_close_all(struct daemon *d);

/* Queues the frame in sb (built with frame_begin/frame_finish) for writing; takes the
 * sbuffer's memory (sb is left empty). */
void conn_send(struct conn *c, msgpack_sbuffer *sb);
void conn_send_error(struct conn *c, uint64_t id, const struct dashi_error *err);
/* Closes after the queued writes are flushed. */
void conn_close(struct conn *c);

#endif
