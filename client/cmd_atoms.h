/* SPDX-License-Identifier: MIT */
/* `dashi atoms | lineage | events | audit`: queries over an atoms job (docs/cli.md). */
#ifndef DASHI_CMD_ATOMS_H
#define DASHI_CMD_ATOMS_H

#include <stdbool.h>
#include <stdint.h>

#include "client.h"

/* Looks up a command-line option by name: its value, "" for a bare flag, NULL if absent. */
typedef const char *(*cmd_opt_fn)(const void *ctx, const char *name);

/* Runs one of the four (cmd) for job id; prints the answer (JSON when json) and returns 0, or
 * returns -1 with err filled (the caller prints it and picks the exit status). */
int cmd_atoms_run(struct dashi_client *c, const char *cmd, int64_t id, bool json, cmd_opt_fn opt, const void *ctx,
                  struct dashi_error *err);

#endif
