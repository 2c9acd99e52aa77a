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

#include "ops.h"
#include "runtime_dir.h"
#include "socket_activation.h"

struct write_req {
    uv_write_t req;
    struct conn *c;
    char *data;
    size_t len;
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
    ops_conn_released(c);
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
    uv_read_stop((uv_stream_t *)&c->pipe);
    /* Shut down the write side first so a final error response is flushed, then close. */
    uv_shutdown_t *sr = malloc(sizeof *sr);
    if (sr) {
        sr->data = c;
        if (uv_shutdown(sr, (uv_stream_t *)&c->pipe, on_shutdown) == 0)
            return;
        free(sr);
    }
    close_handle(c);
}

static void on_write(uv_write_t *req, int status)
{
    struct write_req *w = (struct write_req *)req;
    (void)status; /* a failed write means the peer went away; reading will see EOF */
    free(w->data);
    free(w);
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
    w->data = msgpack_sbuffer_release(sb);
    uv_buf_t buf = uv_buf_init(w->data, (unsigned)w->len);
    if (uv_write(&w->req, (uv_stream_t *)&c->pipe, &buf, 1, on_write) != 0) {
        free(w->data);
        free(w);
        conn_close(c);
    }
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

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h;
    size_t n = suggested < 65536 ? 65536 : suggested;
    buf->base = malloc(n);
    buf->len = buf->base ? n : 0;
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct conn *c = s->data;
    if (nread < 0) {
        free(buf->base);
        conn_close(c);
        return;
    }
    struct dashi_error err;
    dashi_error_clear(&err);
    if (nread > 0 && frame_reader_feed(&c->fr, buf->base, (size_t)nread, &err) != 0) {
        free(buf->base);
        conn_send_error(c, 0, &err);
        conn_close(c);
        return;
    }
    free(buf->base);
    const uint8_t *payload;
    size_t len;
    int more;
    while (!c->closing && (more = frame_reader_next(&c->fr, &payload, &len, &err)) != 0) {
        if (more < 0) {
            /* A bad length header: we cannot find the next frame, so the connection ends. */
            conn_send_error(c, 0, &err);
            conn_close(c);
            return;
        }
        struct request req;
        if (request_decode(payload, len, &req, &err) != 0) {
            /* The bytes of this frame are not a valid request: answer and hang up, since a
             * peer that sends malformed frames cannot be trusted to stay in sync. */
            conn_send_error(c, req.id, &err);
            request_free(&req);
            conn_close(c);
            return;
        }
        ops_dispatch(c, &req);
        request_free(&req);
    }
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
    if (uv_read_start((uv_stream_t *)&c->pipe, alloc_cb, on_read) != 0)
        conn_close(c);
}

int server_start(struct daemon *d, struct dashi_error *err)
{
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
