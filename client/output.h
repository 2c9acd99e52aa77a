/* SPDX-License-Identifier: MIT */
/* How `dashi` prints answers: JSON (--json, exactly one document on stdout) or short
 * human-readable text. */
#ifndef DASHI_OUTPUT_H
#define DASHI_OUTPUT_H

#include <msgpack.h>
#include <stdbool.h>
#include <stdio.h>

#include "errors.h"

void print_json(const msgpack_object *o);
/* A job record as a few lines of text. */
void print_record_text(FILE *f, const msgpack_object *rec);
/* Any map as `key: value` lines (nested values as compact JSON). */
void print_map_text(FILE *f, const msgpack_object *m);
/* An error: text on stderr, or with --json a {"error": {...}} document on stdout. */
void print_dashi_error(bool json, const struct dashi_error *err);
/* A progress bar on stderr (only when stderr is a terminal). */
void print_progress(const char *state, uint64_t step, uint64_t total);
/* The same with the rate (steps/s; 0: not known yet) and the seconds left (< 0: not known). */
void print_progress_rate(const char *state, uint64_t step, uint64_t total, double rate, double eta);
/* "41.2 steps/s, ETA 1m05s" (or "41.2 steps/s" without an ETA) into out; "" without a rate. */
void format_rate(char *out, size_t size, double rate, double eta);
void end_progress(void);

#endif
