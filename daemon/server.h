/* SPDX-License-Identifier: MIT */
/* The Unix-socket server on the loop thread: binds the socket with deliberate
 * permissions, accepts connections, identifies each peer with SO_PEERCRED, splits the
 * byte stream into frames, hands requests up (struct conn_handlers: ops.c) and writes
 * responses. */
#ifndef DASHI_SERVER_H
#define DASHI_SERVER_H

#include <msgpack.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <uv.h>

#include "conn_budget.h"
#include "daemon.h"
#include "wire.h"

struct upload_slot;
struct waiter;

/* Backpressure: replies are queued in libuv until the peer reads them. When a
 * connection's queue (or its uid's) reaches its cap the connection is paused: no more
 * reads and no more of its buffered frames are handled, so the queue cannot grow by
 * more than the reply being built. It resumes once the queue is back under half the
 * cap. Times are the loop's clock (uv_now, milliseconds). */
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
    bool paused;        /* the reply queue is over its cap */
    bool read_eof;      /* the peer shut down its side; close once nothing is owed */
    bool dispatching;   /* inside the frame loop (its requests may end jobs and notify) */
    uint64_t queued;    /* reply bytes handed to libuv and not yet written */
    uint64_t held;      /* bytes in fr counted in the uid's in-flight total */
    uint64_t paused_since, closing_since, frame_started, last_active; /* uv_now; frame_started 0: none */
    struct uid_tally *tally;     /* this uid's totals (NULL until admitted) */
    struct upload_slot *uploads; /* in-progress uploads of this connection */
    uint64_t upload_bytes;       /* what they will store, for the disk quota (disk.c) */
    struct waiter *waiters;      /* `wait` requests streaming events */
    uint64_t nwaiters;
    struct conn *next;
};

/* What the server hands up; it knows nothing of what serves the requests (ops.c gives
 * ops_conn_handlers). */
struct conn_handlers {
    void (*request)(struct conn *c, const struct request *req); /* a decoded request */
    void (*deliver)(struct conn *c); /* send what is owed (waiters) while the queue has room */
    void (*released)(struct conn *c); /* free what a closed connection holds */
};

/* Binds and listens (an existing socket file is replaced only if no daemon answers on it);
 * requests go to handlers. */
int server_start(struct daemon *d, const struct conn_handlers *handlers, struct dashi_error *err);
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
/* Sends err (id 0) and closes: a refused or expired connection. */
void conn_refuse(struct conn *c, const struct dashi_error *err);
/* Closes at once, dropping queued replies: a peer that does not read them. */
void conn_abort(struct conn *c);
/* Whether another event or record may be queued (the connection's and its uid's
 * reply queues are under their caps). */
bool conn_has_room(const struct conn *c);
/* Delivers what is owed now that the queue may have room: waiters' pending events
 * and records (handlers->deliver), then the buffered requests of a paused connection;
 * closes a half-closed connection once nothing is owed. */
void conn_pump(struct conn *c);

#endif
