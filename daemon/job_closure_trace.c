/* SPDX-License-Identifier: MIT */
/* An annihilation trace as job metrics (job_closure_trace.h). */
#include "job_closure_trace.h"

#include <stdio.h>

void job_emit_closure_trace(struct job_exec *ex, const struct closure_trace *t)
{
    job_emit_summary(ex, "filaments_born", (double)t->born);
    job_emit_summary(ex, "filaments_survived", (double)t->survived);
    job_emit_summary(ex, "annihilation_level_mean", closure_trace_mean_level(t));
    for (int k = 1; k <= TRACE_SUMMARY_LEVELS; k++) {
        char name[48];
        snprintf(name, sizeof name, "closure.alive_fraction.L%d", k);
        job_emit_summary(ex, name, closure_trace_alive_fraction(t, k));
    }
    int last = t->depth < CLOSURE_TRACE_LEVELS ? t->depth : CLOSURE_TRACE_LEVELS;
    for (int k = 0; k <= last; k++)
        job_emit_metric(ex, "closure.alive", k, (double)t->alive[k]);
}
