/* SPDX-License-Identifier: MIT */
#include "server.h"

#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "runtime_dir.h"
#include "socket_activation.h"

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

struct write_req {
    uv_write_t req;
    struct conn *c;
    char *data;
    size_t len;
    size_t charge; /* what it costs while queued: the frame and this request */
};

static void on_conn_closed(uv_handle_t *h)
{
    struct conn *c = h->data;
    struct daemon *d = c->d;
    for (struct conn **p = &d->conns; *p; p = &(*p)->next)
        if (*p == c) {
            *p = c->next;
            break;
        }
    d->handlers->released(c);
    conn_budget_release(&d->conn_budget, &c->tally, c->held, c->queued);
    frame_reader_free(&c->fr);
    free(c);
}

static void close_handle(struct conn *c)
{
    if (c->handle_closed)
        return;
    c->handle_closed = true;
    uv_close((uv_handle_t *)&c->pipe, on_conn_closed);
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
    (void)status;
    struct conn *c = req->data;
    free(req);
    close_handle(c);
}

void conn_close(struct conn *c)
{
    if (c->closing)
        return;
    c->closing = true;
    c->closing_since = uv_now(&c->d->loop);
    uv_read_stop((uv_stream_t *)&c->pipe);
    /* Shut down the write side first so a final error response is flushed, then close
     * (conn_sweep.c aborts a peer that never reads that far). */
    uv_shutdown_t *sr = malloc(sizeof *sr);
    if (sr) {
        sr->data = c;
        if (uv_shutdown(sr, (uv_stream_t *)&c->pipe, on_shutdown) == 0)
            return;
        free(sr);
    }
    close_handle(c);
}

void conn_abort(struct conn *c)
{
    c->closing = true;
    uv_read_stop((uv_stream_t *)&c->pipe);
    close_handle(c); /* libuv cancels the queued writes (on_write sees UV_ECANCELED) */
}

void conn_refuse(struct conn *c, const struct dashi_error *err)
{
    conn_send_error(c, 0, err);
    conn_close(c);
}

bool conn_has_room(const struct conn *c)
{
    const struct conn_limits *l = &c->d->cfg.conn;
    return c->queued < l->max_reply_queue_bytes && (!c->tally || c->tally->queued < l->max_reply_bytes_per_uid);
}

/* The hysteresis of a pause: resume only once the queues are under half their caps. */
static bool conn_drained(const struct conn *c)
{
    const struct conn_limits *l = &c->d->cfg.conn;
    return c->queued <= l->max_reply_queue_bytes / 2 &&
           (!c->tally || c->tally->queued <= l->max_reply_bytes_per_uid / 2);
}

static void conn_pause(struct conn *c)
{
    if (c->paused)
        return;
    c->paused = true;
    c->paused_since = uv_now(&c->d->loop);
    uv_read_stop((uv_stream_t *)&c->pipe);
}

/* A half-closed connection ends once its requests are handled and its waiters answered. */
static void conn_settle(struct conn *c)
{
    if (c->read_eof && !c->closing && !c->paused && !c->dispatching && !c->waiters)
        conn_close(c);
}

static void on_write(uv_write_t *req, int status)
{
    struct write_req *w = (struct write_req *)req;
    struct conn *c = w->c;
    c->queued -= w->charge;
    bool uid_was_full = false;
    if (c->tally) {
        uid_was_full = c->tally->queued >= c->d->cfg.conn.max_reply_bytes_per_uid / 2;
        c->tally->queued -= w->charge;
    }
    free(w->data);
    free(w);
    if (status < 0) {
        /* The peer went away; a paused connection reads no more, so it would never see EOF. */
        if (status != UV_ECANCELED)
            conn_abort(c);
        return;
    }
    c->last_active = uv_now(&c->d->loop);
    conn_pump(c);
    /* Other connections of the uid may have been paused by the uid's total. */
    if (uid_was_full && c->tally && c->tally->queued < c->d->cfg.conn.max_reply_bytes_per_uid / 2)
        for (struct conn *o = c->d->conns; o; o = o->next)
            if (o != c && o->tally == c->tally && o->paused)
                conn_pump(o);
}

void conn_send(struct conn *c, msgpack_sbuffer *sb)
{
    if (c->closing) {
        msgpack_sbuffer_destroy(sb);
        msgpack_sbuffer_init(sb);
        return;
    }
    struct write_req *w = malloc(sizeof *w);
    if (!w) {
        msgpack_sbuffer_destroy(sb);
        msgpack_sbuffer_init(sb);
        conn_close(c);
        return;
    }
    w->c = c;
    w->len = sb->size;
    size_t capacity = sb->alloc;
    w->data = msgpack_sbuffer_release(sb);
    /* An sbuffer starts at 8 KiB and grows by doubling: a queue of small replies would
     * hold many times the bytes it counts, so each frame keeps only its own size. */
    if (capacity > w->len) {
        char *fitted = realloc(w->data, w->len);
        if (fitted)
            w->data = fitted;
    }
    w->charge = w->len + sizeof *w;
    uv_buf_t buf = uv_buf_init(w->data, (unsigned)w->len);
    if (uv_write(&w->req, (uv_stream_t *)&c->pipe, &buf, 1, on_write) != 0) {
        free(w->data);
        free(w);
        conn_close(c);
        return;
    }
    c->queued += w->charge;
    if (c->tally)
        c->tally->queued += w->charge;
    if (!conn_has_room(c))
        conn_pause(c);
}

void conn_send_error(struct conn *c, uint64_t id, const struct dashi_error *err)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    frame_begin(&sb);
    pack_error(&pk, id, err);
    frame_finish(&sb);
    conn_send(c, &sb);
    msgpack_sbuffer_destroy(&sb);
}

/* One read at a time: with at most one maximal frame buffered besides, a connection's
 * read side never holds more than DASHI_FRAME_MAX + 4 + READ_BYTES (docs/protocol.md). */
#define READ_BYTES 65536

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h;
    (void)suggested;
    buf->base = malloc(READ_BYTES);
    buf->len = buf->base ? READ_BYTES : 0;
}

/* Handles one complete frame; false if the connection must end (a framing error). */
static bool handle_frame(struct conn *c, const uint8_t *payload, size_t len)
{
    struct dashi_error err;
    dashi_error_clear(&err);
    struct request req;
    if (request_decode(payload, len, &req, &err) != 0) {
        /* Not msgpack within the limits: the peer cannot be trusted to stay in sync, so
         * the connection ends. A well-framed payload that is not a valid request
         * (E_BAD_REQUEST, E_VERSION) is answered and the stream goes on. */
        bool framing = err.code == DASHI_E_BAD_FRAME;
        conn_send_error(c, req.id, &err);
        request_free(&req);
        if (framing)
            conn_close(c);
        return !framing;
    }
    c->d->handlers->request(c, &req);
    request_free(&req);
    return true;
}

/* Handles the buffered frames until none is complete or the connection is paused (it
 * stops between two frames), then accounts what stays buffered. */
static void handle_frames(struct conn *c)
{
    struct dashi_error err;
    dashi_error_clear(&err);
    const uint8_t *payload;
    size_t len;
    bool handled = false;
    int more = 0;
    c->dispatching = true;
    while (!c->closing && !c->paused && (more = frame_reader_next(&c->fr, &payload, &len, &err)) > 0) {
        handled = true;
        if (!handle_frame(c, payload, len))
            break;
    }
    c->dispatching = false;
    if (more < 0) {
        /* A bad length header: we cannot find the next frame, so the connection ends. */
        conn_refuse(c, &err);
        return;
    }
    if (c->closing)
        return;
    size_t held = c->fr.len - c->fr.consumed;
    /* The slow-frame clock runs from the first byte of the frame now incomplete. */
    if (held == 0)
        c->frame_started = 0;
    else if (!c->paused && (handled || !c->frame_started))
        c->frame_started = uv_now(&c->d->loop);
    if (conn_budget_hold(c->tally, &c->held, held, c->d->cfg.conn.max_inflight_bytes_per_uid, c->user, &err) != 0) {
        conn_refuse(c, &err);
        return;
    }
    conn_settle(c);
}

void conn_pump(struct conn *c)
{
    if (c->closing)
        return;
    c->d->handlers->deliver(c);
    if (c->paused && !c->dispatching && conn_drained(c)) {
        c->paused = false;
        handle_frames(c);
        if (!c->paused && !c->closing && !c->read_eof &&
            uv_read_start((uv_stream_t *)&c->pipe, alloc_cb, on_read) != 0)
            conn_close(c);
    }
    conn_settle(c);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct conn *c = s->data;
    if (nread < 0) {
        free(buf->base);
        if (nread != UV_EOF) {
            conn_close(c);
            return;
        }
        /* A half-close: the requests already received are still answered, waiters too
         * (a partial frame is dropped). */
        c->read_eof = true;
        uv_read_stop(s);
        conn_pump(c);
        return;
    }
    if (nread == 0) {
        free(buf->base);
        return;
    }
    c->last_active = uv_now(&c->d->loop);
    struct dashi_error err;
    dashi_error_clear(&err);
    int rc = frame_reader_feed(&c->fr, buf->base, (size_t)nread, &err);
    free(buf->base);
    if (rc != 0) {
        conn_refuse(c, &err);
        return;
    }
    handle_frames(c);
}

static void on_connection(uv_stream_t *server, int status)
{
    struct daemon *d = server->data;
    if (status < 0 || d->stopping)
        return;
    struct conn *c = calloc(1, sizeof *c);
    if (!c)
        return;
    c->d = d;
    frame_reader_init(&c->fr);
    if (uv_pipe_init(&d->loop, &c->pipe, 0) != 0) {
        free(c);
        return;
    }
    c->pipe.data = c;
    c->next = d->conns;
    d->conns = c;
    d->conn_budget.nconns++;
    c->last_active = uv_now(&d->loop);
    if (uv_accept(server, (uv_stream_t *)&c->pipe) != 0) {
        conn_close(c);
        return;
    }
    /* Identity comes from the kernel, never from what the peer says. */
    uv_os_fd_t fd;
    struct ucred cred;
    socklen_t len = sizeof cred;
    if (uv_fileno((uv_handle_t *)&c->pipe, &fd) != 0 || getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
        fprintf(stderr, "dashid: SO_PEERCRED failed (%s); connection refused\n", strerror(errno));
        conn_close(c);
        return;
    }
    c->uid = cred.uid;
    c->gid = cred.gid;
    c->pid = cred.pid;
    struct passwd pw, *res = NULL;
    char pwbuf[4096];
    if (getpwuid_r(cred.uid, &pw, pwbuf, sizeof pwbuf, &res) == 0 && res)
        snprintf(c->user, sizeof c->user, "%s", pw.pw_name);
    else
        snprintf(c->user, sizeof c->user, "uid%u", (unsigned)cred.uid);
    struct dashi_error err;
    if (conn_budget_admit(&d->conn_budget, &d->cfg.conn, c->uid, c->user, &c->tally, &err) != 0) {
        fprintf(stderr, "dashid: connection of %s (pid %d) refused: %s\n", c->user, (int)c->pid, err.message);
        /* Its descriptor is given back at once, not after a graceful shutdown: a burst of
         * refused connections must not eat the headroom they are refused to protect. The
         * small error frame goes out in uv_write's immediate attempt (a fresh socket's
         * buffer is empty), before the close. */
        conn_send_error(c, 0, &err);
        conn_abort(c);
        return;
    }
    if (uv_read_start((uv_stream_t *)&c->pipe, alloc_cb, on_read) != 0)
        conn_close(c);
}

int server_start(struct daemon *d, const struct conn_handlers *handlers, struct dashi_error *err)
{
    d->handlers = handlers;
    /* Started by dashid.socket: listen on the inherited socket instead of binding. */
    bool activated = false;
    int rc = socket_activation_listen(&d->loop, &d->server, on_connection, d->cfg.socket_path,
                                      sizeof d->cfg.socket_path, &activated, err);
    if (activated) {
        d->server.data = d;
        d->server_open = true;
    }
    if (rc != 0 || activated)
        return rc;
    const char *path = d->cfg.socket_path;
    if (runtime_dir_prepare_socket(path, err) != 0)
        return -1;
    rc = uv_pipe_init(&d->loop, &d->server, 0);
    if (rc != 0)
        return dashi_fail(err, DASHI_E_IO, "socket", "uv_pipe_init: %s", uv_strerror(rc));
    d->server.data = d;
    d->server_open = true;
    /* Create the socket file with no access for others, then widen to the configured mode. */
    mode_t old = umask(0177);
    rc = uv_pipe_bind(&d->server, path);
    umask(old);
    if (rc != 0)
        return dashi_fail(err, DASHI_E_IO, "socket", "cannot bind %s: %s", path, uv_strerror(rc));
    if (chmod(path, d->cfg.socket_mode) != 0)
        return dashi_fail(err, DASHI_E_IO, "socket", "chmod %s: %s", path, strerror(errno));
    rc = uv_listen((uv_stream_t *)&d->server, 128, on_connection);
    if (rc != 0)
        return dashi_fail(err, DASHI_E_IO, "socket", "listen on %s: %s", path, uv_strerror(rc));
    return 0;
}

void server_stop_listening(struct daemon *d)
{
    if (!d->server_open)
        return;
    d->server_open = false;
    uv_close((uv_handle_t *)&d->server, NULL);
    if (!socket_activation_present()) /* systemd's socket outlives us, for the next activation */
        unlink(d->cfg.socket_path);
}

void server_close_all(struct daemon *d)
{
    for (struct conn *c = d->conns; c; c = c->next) {
        c->closing = true;
        uv_read_stop((uv_stream_t *)&c->pipe);
        close_handle(c);
    }
}
