/* SPDX-License-Identifier: MIT */
/* Legend text for charts of several jobs: each job named with the parameters in which the
 * jobs differ ("job 3 les: seed=2"), read from their records' params (show). */
#ifndef DASHI_LEGEND_H
#define DASHI_LEGEND_H

#include <msgpack.h>
#include <stddef.h>

enum { LEGEND_LABEL_MAX = 160 };

/* records[i]: job i's record (NULL when unknown: the label is "job ID"). */
void legend_labels(const msgpack_object *const *records, const int64_t *ids, size_t n,
                   char (*labels)[LEGEND_LABEL_MAX]);

#endif
