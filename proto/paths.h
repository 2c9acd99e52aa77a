/* SPDX-License-Identifier: MIT */
/* Where the daemon listens and keeps state (docs/cli.md, "dashi": finding the daemon); shared by
 * dashid and dashi so both derive the same per-user locations. */
#ifndef DASHI_PATHS_H
#define DASHI_PATHS_H

#include <stddef.h>

#define DASHI_SYSTEM_SOCKET "/run/dashid/dashid.sock"

/* $XDG_RUNTIME_DIR/dashid.sock, else /tmp/dashid-UID/dashid.sock. */
void default_socket_path(char *out, size_t cap);
/* $XDG_STATE_HOME/dashid, else $HOME/.local/state/dashid, else /tmp/dashid-UID/state. */
void default_state_dir(char *out, size_t cap);
/* mkdir -p with the given mode for every created component; 0 or -1 (errno set). */
int mkdir_p(const char *path, unsigned mode);
/* fsync of a directory, so the names created in it are durable; 0 or -1 (errno set). */
int fsync_dir(const char *dir);

#endif
