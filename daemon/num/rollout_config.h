/* SPDX-License-Identifier: MIT */
/* What a rollout engine is asked to compute: shape, precision, mode and run lengths
 * (rollout_gpu.h runs it, rollout_block.h sizes blocks of steps by it). Its own header
 * so that the engine's parts and the jobs can name a configuration without the engine. */
#ifndef DASHI_ROLLOUT_CONFIG_H
#define DASHI_ROLLOUT_CONFIG_H

#include <stdint.h>

enum rollout_precision { ROLLOUT_F64, ROLLOUT_F32 };
enum rollout_mode { ROLLOUT_EXACT, ROLLOUT_FAST };

/* The longest run: one command buffer records at most this many steps. */
#define ROLLOUT_MAX_RUN 16384u

struct rollout_tuning; /* rollout_tuning.h */

struct rollout_config {
    uint32_t D, B;
    enum rollout_precision precision;
    enum rollout_mode mode;
    uint32_t max_steps_per_run; /* upper bound for rollout_gpu_run's n (at most ROLLOUT_MAX_RUN) */
    uint64_t expected_steps;    /* steps the engine will likely run, 0 if unknown (rollout_block.h) */
    /* The tuning knobs read at the program's start (NULL: the defaults). The engine keeps
     * a copy, so the caller's struct need only live through rollout_gpu_create. */
    const struct rollout_tuning *tuning;
};

#endif
