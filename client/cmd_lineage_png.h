/* SPDX-License-Identifier: MIT */
/* `dashi lineage JOB --atom STEP:IDX ... --png FILE`: the answer of the lineage op drawn
 * as a picture (lineage_png.h), with the atoms' Γ and σ fetched for the node sizes. */
#ifndef DASHI_CMD_LINEAGE_PNG_H
#define DASHI_CMD_LINEAGE_PNG_H

#include <stdbool.h>
#include <stdint.h>

#include "client.h"

/* Writes the picture of `result` (the lineage op's answer for atoms job `job`, all its
 * pages; truncated: --limit cut the walk short) to path and prints the path, or with
 * json {png, width, height, columns, column_dx, lanes, truncated, edges, nodes: [{step,
 * idx, sigma, gamma, lane, x, y, r}]}. Errors name "png". */
int cmd_lineage_png(struct dashi_client *c, int64_t job, const msgpack_object *result, bool truncated,
                    const char *path, bool json, struct dashi_error *err);

#endif
