/* SPDX-License-Identifier: MIT */
/* The run filters of `list` as SQL conditions over the jobs table (schema/009_runs.sql):
 * pure text and binding, so store.c builds its list query with them and nothing here
 * calls back into the store. */
#ifndef DASHI_STORE_FILTER_H
#define DASHI_STORE_FILTER_H

#include <stdint.h>

#include "job_labels.h"

/* The run filters of `list` (all that are set must hold). */
#define RUNS_FILTER_TAGS 8
#define RUNS_FILTER_PARAMS 8
#define RUNS_PARAM_KEY_MAX 32
struct runs_param_match {
    char path[RUNS_PARAM_KEY_MAX + 3]; /* "$.KEY" (KEY: letters, digits, _) */
    enum { MATCH_INT, MATCH_REAL, MATCH_TEXT } type;
    int64_t i;
    double real;
    char text[JOB_NAME_MAX + 1];
};
struct runs_filter {
    char name_glob[JOB_NAME_MAX + 1]; /* "" any; SQLite GLOB: * ? [...] */
    char tags[RUNS_FILTER_TAGS][JOB_TAG_MAX + 1];
    int ntags;
    struct runs_param_match params[RUNS_FILTER_PARAMS];
    int nparams;
    int64_t group_id;                  /* > 0: that group */
    char group_name[JOB_NAME_MAX + 1]; /* else, when set: the groups of that name */
};
/* The SQL conditions (" AND ...") of f, its parameters numbered from first, into sql;
 * the number of characters written (truncated at cap). */
int runs_filter_sql(const struct runs_filter *f, int first, char *sql, size_t cap);
/* Binds what runs_filter_sql numbered. */
struct sqlite3_stmt;
void runs_filter_bind(struct sqlite3_stmt *s, const struct runs_filter *f, int first);

#endif
