/* SPDX-License-Identifier: MIT */
/* `dashi plot`, `dashi compare` and `dashi export`: looking at finished jobs from the
 * client side (the daemon only serves records, metrics, hashes and blobs). Each takes the
 * command's words as cli.c parsed them and returns 0, or -1 with err (dashi.c prints it
 * and maps it to an exit status). With json set, each prints exactly one JSON document. */
#ifndef DASHI_CMD_ANALYSIS_H
#define DASHI_CMD_ANALYSIS_H

#include <stdbool.h>

#include "client.h"

struct cmd_args {
    const char *const *pos; /* positional words after the command */
    int npos;
    const char *const *names;  /* --name (or "o" for -o), in command-line order */
    const char *const *values; /* each one's value, NULL for a bare flag */
    int nopts;
    bool json;
};

/* plot JOB [JOB...] --key K [--key K...] -o FILE.png|.svg|.pdf: one panel per key, one
 * line per job, x = t (step·dt) when every job has a dt, else the step. E_MISSING_FIELD/
 * E_BAD_VALUE naming "id", "key" or "o"; E_NOT_FOUND when a job has no such metric series
 * or the extension no format. */
int cmd_plot(struct dashi_client *c, const struct cmd_args *a, struct dashi_error *err);
/* compare JOB1 JOB2 [JOB...] (up to CMD_MAX_RUNS): parameters that differ, each summary
 * metric's values and range (for two runs also b - a, and relative to |a|), and whether
 * the state hashes each run recorded agree with the first run's. */
#define CMD_MAX_RUNS 32  /* runs one compare takes (CLI_MAX_POS words) */
#define CMD_MAX_KEYS 256 /* parameter or metric names considered */
int cmd_compare(struct dashi_client *c, const struct cmd_args *a, struct dashi_error *err);
/* The names of the parameters whose values differ between the n job records (a name one
 * lacks differs), in the order they first appear; at most max. */
size_t cmd_differing_params(const msgpack_object *const *recs, size_t n, const msgpack_object **keys, size_t max);
/* export JOB -o DIR: DIR/record.json (the record with its events), DIR/metrics.csv
 * (key,step,value; summary scalars at step -1) and DIR/NAME.npy for every output. */
int cmd_export(struct dashi_client *c, const struct cmd_args *a, struct dashi_error *err);

/* cmd_pipeline.c: a pipeline job's record (kind "pipeline", its stages and summary). */
bool pipeline_is(const msgpack_object *rec);
/* The stages line and, once it succeeded, the summary: the v4 table (relL2, corr, dE, dZ at
 * t=0, the last step, means), train vs eval, closure depth, wall and GPU time per stage. */
void pipeline_print_text(const msgpack_object *rec);
/* The summary as text, or as one JSON document (jobs, v4, train, closure_depth, timings_s). */
void pipeline_print_summary(const msgpack_object *rec, bool json);
/* Job id itself, or when it is a pipeline its stage `stage` ("decode"): what commands that
 * take a stage's job accept a pipeline for. */
int pipeline_stage_of(struct dashi_client *c, int64_t id, const char *stage, int64_t *out, struct dashi_error *err);

/* Shared by the three: the job id in word s (E_BAD_VALUE "id") and the value of the
 * first --name (NULL if absent). */
int cmd_parse_id(const char *s, int64_t *id, struct dashi_error *err);
const char *cmd_opt(const struct cmd_args *a, const char *name);

/* The numeric value of o (integer or float); false for any other type. */
bool cmd_number_of(const msgpack_object *o, double *v);

/* The points of one job's metric series (summary scalars at step -1 left out): x the
 * steps, both malloc'd (the caller frees them). E_NOT_FOUND naming "key" when it has none. */
struct cmd_series {
    double *x, *y;
    size_t n;
};
int cmd_fetch_series(struct dashi_client *c, int64_t id, const char *key, struct cmd_series *out,
                     struct dashi_error *err);

/* The arguments {id, key?} of the job queries, packed by cmd_pack_id_key (key NULL: none). */
struct cmd_id_key {
    int64_t id;
    const char *key;
};
void cmd_pack_id_key(msgpack_packer *pk, void *ctx);

/* An answer that stays valid across later calls: client_call's result points into the
 * connection's read buffer, which the next call reuses, so it is copied here. */
struct cmd_result {
    msgpack_sbuffer bytes;
    msgpack_unpacked unpacked;
    const msgpack_object *obj; /* the result; NULL until a call succeeded */
};
/* Calls op with {id, key?} into r (initialised here, so an empty or unused r is fine);
 * free r with cmd_result_free whatever the outcome. */
void cmd_result_init(struct cmd_result *r);
int cmd_call_id(struct dashi_client *c, const char *op, int64_t id, const char *key, struct cmd_result *r,
                struct dashi_error *err);
void cmd_result_free(struct cmd_result *r);

#endif
