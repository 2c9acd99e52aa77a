/* SPDX-License-Identifier: MIT */
/* systemd socket activation (sd_listen_fds(3) protocol, without libsystemd): when
 * dashid.socket started us, the listening socket is inherited as fd 3 with
 * LISTEN_FDS=1 and LISTEN_PID=<our pid>, and the daemon listens on it instead of
 * binding its own. The socket's path, owner and mode are then systemd's business. */
#ifndef DASHI_SOCKET_ACTIVATION_H
#define DASHI_SOCKET_ACTIVATION_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "errors.h"

#define SOCKET_ACTIVATION_FD 3 /* SD_LISTEN_FDS_START */

/* True when LISTEN_PID names this process and LISTEN_FDS is set: the environment says
 * a listening socket was passed. The variables are left in place (LISTEN_PID makes
 * them meaningless to any child), so this answers the same for the daemon's life. */
bool socket_activation_present(void);

/* When socket activation is present: checks that fd 3 is exactly one listening
 * AF_UNIX stream socket (LISTEN_FDS must be 1), opens it as server on loop, starts
 * listening with on_connection, writes the socket's path to path_out (for `ping` and
 * the log; "" for an abstract socket) and sets *activated. Otherwise does nothing and
 * leaves *activated false. Errors: E_IO naming "socket". */
int socket_activation_listen(uv_loop_t *loop, uv_pipe_t *server, uv_connection_cb on_connection,
                             char *path_out, size_t path_cap, bool *activated, struct dashi_error *err);

#endif
