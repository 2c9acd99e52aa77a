/* SPDX-License-Identifier: MIT */
/* Result bundles on the client side (docs/storage.md "Bundles"). */
#ifndef DASHI_CMD_BUNDLE_H
#define DASHI_CMD_BUNDLE_H

#include <stdint.h>

#include "cli.h"

/* Writes job id as a bundle in the new directory dir (through dir.tmp-PID and a rename,
 * its index last), so dir exists only when whole. */
int bundle_export(struct dashi_client *c, int64_t id, const char *dir, struct dashi_error *err);
/* Checks the bundle in dir whole, uploads its blobs (each verified against its name) and
 * records it as a job of the caller (*id); a bad bundle is refused before anything is sent. */
int bundle_import(struct dashi_client *c, const char *dir, int64_t *id, struct dashi_error *err);

/* `dashi export --bundle DIR ID` and `dashi import DIR` (docs/cli.md). */
int cmd_export_bundle(struct dashi_client *c, struct cli_opts *o, struct dashi_error *err);
int cmd_import(struct dashi_client *c, struct cli_opts *o, struct dashi_error *err);

#endif
