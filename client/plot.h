/* SPDX-License-Identifier: MIT */
/* Line charts of metric series for `dashi plot` (drawn with cairo, axes.h): one panel per
 * quantity (metric key) stacked over a shared x axis, one colour per job, and a legend
 * naming the jobs. The format follows the file's extension (figure.h). Deterministic: the
 * same series give the same bytes. */
#ifndef DASHI_PLOT_H
#define DASHI_PLOT_H

#include <stddef.h>

#include "errors.h"

/* One job's series of one key. */
struct plot_series {
    size_t job, key; /* indexes into the chart's jobs and keys */
    const double *x; /* n points; non-finite ones break the line */
    const double *y;
    size_t n;
};

struct plot_chart {
    const char *const *keys; /* the panels, top to bottom (their y labels) */
    size_t nkeys;
    const char *const *jobs; /* legend text, one colour each */
    size_t njobs;
    const char *x_label;
    const struct plot_series *series;
    size_t nseries;
};

#define PLOT_MAX_SERIES 32
/* Errors: E_NOT_FOUND ("o": the extension), E_BAD_VALUE ("key": no finite point), E_IO ("o"). */
int plot_write(const char *path, const struct plot_chart *chart, struct dashi_error *err);

#endif
