/* SPDX-License-Identifier: MIT */
/* dashi's help (docs/cli.md "Help"): a command's usage from its row of the command table
 * (dashi.c) with the longer text kept here, a job kind's parameters from the daemon's
 * describe op, and the versions. */
#ifndef DASHI_HELP_H
#define DASHI_HELP_H

#include <stdbool.h>
#include <stdio.h>

#include "client.h"

/* `dashi help COMMAND` and `dashi COMMAND --help`: the usage line, the summary, and the
 * details this file holds for the command, if any. */
void help_command(FILE *f, const char *name, const char *synopsis, const char *summary);
/* `dashi help KIND` and `dashi submit KIND --help`: the kind's parameters (describe op);
 * --json: the describe answer. E_BAD_VALUE naming "kind" for no such kind. */
int help_kind(struct dashi_client *c, const char *kind, bool json, struct dashi_error *err);
/* `dashi --version`: dashi's release and protocol version (--json: {dashi, protocol}). */
void help_version(bool json);

#endif
