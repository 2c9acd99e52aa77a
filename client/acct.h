/* SPDX-License-Identifier: MIT */
/* `dashi acct`: per-user accounting (jobs by state, GPU seconds), like sacct. */
#ifndef DASHI_ACCT_H
#define DASHI_ACCT_H

#include <stdbool.h>

#include "client.h"

/* Parses a --since value into Unix seconds: seconds since the epoch (digits), a
 * duration before now ("90s", "30m", "12h", "7d"), or a local date and time
 * ("2024-05-01", "2024-05-01T14:30", "2024-05-01 14:30:15"). */
int acct_parse_since(const char *s, double now, double *out, struct dashi_error *err);
/* Calls acct (user and since may be NULL) and prints a table, or the answer as JSON. */
int acct_run(struct dashi_client *c, bool json, const char *user, const char *since, struct dashi_error *err);

#endif
