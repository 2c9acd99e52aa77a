/* SPDX-License-Identifier: MIT */
/* Readable text of the answers that grow with the data (docs/cli.md "metrics", "hashes",
 * "show"): a line per series, hash or event rather than one long map. --json prints the
 * answers themselves (output.h). */
#ifndef DASHI_ANSWER_TEXT_H
#define DASHI_ANSWER_TEXT_H

#include <msgpack.h>
#include <stdio.h>

/* The metrics answer ({metrics: {KEY: {steps, values}}}): one row per series (points,
 * first, last, min, max; NaN points counted apart), then the summary scalars (step -1). */
void print_metrics_text(FILE *f, const msgpack_object *result);
/* The hashes answer ({hashes: [{traj, step, hash}]}): one hash per line. */
void print_hashes_text(FILE *f, const msgpack_object *result);
/* A record's times (queued, run, GPU seconds) and, when it has them, its state events. */
void print_record_times(FILE *f, const msgpack_object *rec);
void print_record_events(FILE *f, const msgpack_object *rec);

#endif
