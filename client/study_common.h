/* SPDX-License-Identifier: MIT */
/* What the studies (cmd_study_*.c) share: a sweep's command line built in place and
 * submitted, waiting for a study's job, reading a stored summary, and parsing the numeric
 * options. */
#ifndef DASHI_STUDY_COMMON_H
#define DASHI_STUDY_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "cli.h"

/* A sweep's (or table's) command line, built in place (what sweep_call and cmd_table read). */
struct study_line {
    struct cli_opts o;
    char text[CLI_MAX_OPTS][128];
};

void study_line_init(struct study_line *r, const char *kind);
/* --name VALUE, or the bare flag --name when value is NULL. */
void study_line_add(struct study_line *r, const char *name, const char *value);
/* The options of the study that pass to every job of a kind, when given. */
void study_line_pass(struct study_line *r, const struct cli_opts *o, const char *const *names);

/* Submits the sweep; its job ids (at most cap, in the order of the values) and group. */
int study_sweep(struct dashi_client *c, const struct study_line *r, int64_t *ids, int cap, int64_t *group,
                struct dashi_error *err);

/* Waits for job id, its final record into r (may be NULL); E_STATE naming it unless it
 * succeeded. With r, free it with cmd_result_free whatever the outcome. */
int study_wait(struct dashi_client *c, int64_t id, struct cmd_result *r, struct dashi_error *err);

/* The summary metric key of a job record (NaN when it has none). */
double study_summary(const msgpack_object *rec, const char *key);

/* --name as an integer in [lo, hi] into *v; absent: *v unchanged. */
int study_opt_u64(const struct cli_opts *o, const char *name, uint64_t lo, uint64_t hi, uint64_t *v,
                  struct dashi_error *err);
/* A comma-separated list of 1 to cap numbers in [lo, hi] (s, given as --name) into out. */
int study_opt_list(const char *name, const char *s, double lo, double hi, double *out, size_t cap, size_t *count,
                   struct dashi_error *err);

#endif
