/* SPDX-License-Identifier: MIT */
/* `dashi fsck`: the daemon's store check (root or the daemon's user). */
#ifndef DASHI_CMD_FSCK_H
#define DASHI_CMD_FSCK_H

#include <stdbool.h>

#include "client.h"

/* Calls fsck and prints the report (text, or the answer as JSON); *clean tells whether
 * nothing was found damaged. -1 with err when the check could not be made. */
int cmd_fsck(struct dashi_client *c, bool json, bool *clean, struct dashi_error *err);

#endif
