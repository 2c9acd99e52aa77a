/* SPDX-License-Identifier: MIT */
/* The figures of one job in `dashi report` (report_figures.c). */
#ifndef DASHI_REPORT_FIGURES_H
#define DASHI_REPORT_FIGURES_H

#include <stdint.h>
#include <stdio.h>

#include "client.h"

struct report_figure_count {
    size_t drawn, missing; /* missing: not drawn because of an error */
};

/* Draws each figure job id (record rec) has into dir as job-ID-NAME.svg|png and writes its
 * <figure> to the page f; one that fails is said so on the page and on stderr and counted
 * as missing. Kinds without a figure of some sort simply lack it. */
void report_figures(FILE *f, struct dashi_client *c, const char *dir, int64_t id, const msgpack_object *rec,
                    struct report_figure_count *count);

#endif
