/* SPDX-License-Identifier: MIT */
/* The records of an annihilation trace (closure_trace.h) as a job's metrics, one set of names
 * for every kind that closes carriers (atoms track mode, decode; docs/numerics.md "Filament
 * survival"):
 *   summaries  filaments_born, filaments_survived, annihilation_level_mean,
 *              closure.alive_fraction.L1 .. L8 (alive over born at level k)
 *   per level  closure.alive (step = level k, 0 .. min(depth, CLOSURE_TRACE_LEVELS)) */
#ifndef DASHI_JOB_CLOSURE_TRACE_H
#define DASHI_JOB_CLOSURE_TRACE_H

#include "closure_trace.h"
#include "job.h"

#define TRACE_SUMMARY_LEVELS 8

void job_emit_closure_trace(struct job_exec *ex, const struct closure_trace *t);

#endif
