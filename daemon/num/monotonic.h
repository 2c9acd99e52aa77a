/* SPDX-License-Identifier: MIT */
/* Milliseconds on the monotonic clock, for timing stages of a computation or a job's
 * slice. Its own header so that the numerics (daemon/num/) can time their stages without
 * knowing of jobs (docs/architecture.md, "Layers"). */
#ifndef DASHI_MONOTONIC_H
#define DASHI_MONOTONIC_H

#include <time.h>

static inline double monotonic_ms(void)
{
    struct timespec ts;
    /* Cannot fail: CLOCK_MONOTONIC always exists on Linux and ts is valid. */
    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

#endif
