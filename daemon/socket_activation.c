/* SPDX-License-Identifier: MIT */
#include "socket_activation.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* Parses a decimal environment variable; -1 when absent or malformed. */
static long long env_number(const char *name)
{
    const char *v = getenv(name);
    if (!v || !*v)
        return -1;
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    return errno || *end || x < 0 ? -1 : x;
}

bool socket_activation_present(void)
{
    return env_number("LISTEN_PID") == (long long)getpid() && env_number("LISTEN_FDS") >= 0;
}

static int sock_opt(int fd, int name, int *value)
{
    socklen_t len = sizeof *value;
    return getsockopt(fd, SOL_SOCKET, name, value, &len);
}

int socket_activation_listen(uv_loop_t *loop, uv_pipe_t *server, uv_connection_cb on_connection,
                             char *path_out, size_t path_cap, bool *activated, struct dashi_error *err)
{
    *activated = false;
    if (!socket_activation_present())
        return 0;
    long long nfds = env_number("LISTEN_FDS");
    if (nfds != 1)
        return dashi_fail(err, DASHI_E_IO, "socket",
                          "socket activation passed %lld sockets; dashid.socket must define exactly one", nfds);
    int fd = SOCKET_ACTIVATION_FD;
    struct stat st;
    int domain = 0, type = 0, listening = 0;
    if (fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode))
        return dashi_fail(err, DASHI_E_IO, "socket", "socket activation: fd %d is not a socket", fd);
    if (sock_opt(fd, SO_DOMAIN, &domain) != 0 || sock_opt(fd, SO_TYPE, &type) != 0 ||
        sock_opt(fd, SO_ACCEPTCONN, &listening) != 0)
        return dashi_fail(err, DASHI_E_IO, "socket", "socket activation: getsockopt on fd %d: %s", fd,
                          strerror(errno));
    if (domain != AF_UNIX || type != SOCK_STREAM || !listening)
        return dashi_fail(err, DASHI_E_IO, "socket",
                          "socket activation: fd %d must be a listening Unix stream socket (ListenStream=)", fd);
    /* The daemon never execs, but a library might: keep the socket out of any child. */
    int flags = fcntl(fd, F_GETFD);
    if (flags < 0 || fcntl(fd, F_SETFD, flags | FD_CLOEXEC) != 0)
        return dashi_fail(err, DASHI_E_IO, "socket", "socket activation: fcntl: %s", strerror(errno));
    struct sockaddr_un addr;
    socklen_t alen = sizeof addr;
    memset(&addr, 0, sizeof addr);
    if (getsockname(fd, (struct sockaddr *)&addr, &alen) != 0)
        return dashi_fail(err, DASHI_E_IO, "socket", "socket activation: getsockname: %s", strerror(errno));
    if (path_cap > 0)
        snprintf(path_out, path_cap, "%s", addr.sun_path[0] ? addr.sun_path : "");
    int rc = uv_pipe_init(loop, server, 0);
    if (rc != 0)
        return dashi_fail(err, DASHI_E_IO, "socket", "uv_pipe_init: %s", uv_strerror(rc));
    *activated = true; /* from here the handle is open and the caller must close it */
    rc = uv_pipe_open(server, fd);
    if (rc != 0)
        return dashi_fail(err, DASHI_E_IO, "socket", "socket activation: uv_pipe_open: %s", uv_strerror(rc));
    rc = uv_listen((uv_stream_t *)server, 128, on_connection);
    if (rc != 0)
        return dashi_fail(err, DASHI_E_IO, "socket", "socket activation: listen: %s", uv_strerror(rc));
    return 0;
}
