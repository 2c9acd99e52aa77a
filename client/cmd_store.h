/* SPDX-License-Identifier: MIT */
/* `dashi rm ID...` and `dashi gc [--apply]`: the lifecycle of stored data (docs/cli.md
 * "Reclaiming disk"). */
#ifndef DASHI_CMD_STORE_H
#define DASHI_CMD_STORE_H

#include "cli.h"

int cmd_rm(struct dashi_client *c, struct cli_opts *o, struct dashi_error *err);
int cmd_gc(struct dashi_client *c, struct cli_opts *o, struct dashi_error *err);

#endif
