/* SPDX-License-Identifier: MIT */
/* Trust in the directories the daemon listens and keeps state in (docs/protocol.md
 * "Socket trust"). A directory another user can write, or one they own, lets them swap
 * the socket (and receive our clients' uploads) or the database; so the daemon creates
 * its directories itself with 0700 and refuses existing ones it cannot trust. */
#ifndef DASHI_RUNTIME_DIR_H
#define DASHI_RUNTIME_DIR_H

#include "errors.h"

/* Makes dir ready for private use: creates it (and missing parents) with 0700 when
 * absent; refuses (E_PERMISSION, field `field`, naming the path, owner and mode) when it
 * is not a directory (a symlink included), is not owned by the effective uid, or has
 * group or other write permission; refuses a parent that is neither owned by root or us
 * nor safe to share (group/other-writable without the sticky bit, like /tmp has). */
int runtime_dir_prepare(const char *dir, const char *field, struct dashi_error *err);

/* For binding socket_path: prepares its directory (above), then refuses an existing
 * path that is not a socket, is owned by another uid or has a daemon listening on it,
 * and removes a stale socket of ours. */
int runtime_dir_prepare_socket(const char *socket_path, struct dashi_error *err);

#endif
