/* SPDX-License-Identifier: MIT */
/* The rollout engine's tuning knobs, the DASHI_ROLLOUT_* environment variables
 * (docs/numerics.md, bench/README.md): read once where a program starts (the daemon at
 * start; a bench or test before it creates engines) and handed to the engine in struct
 * rollout_config, so that no engine reads the environment while it runs. A zero field
 * (or count) means the engine's default. */
#ifndef DASHI_ROLLOUT_TUNING_H
#define DASHI_ROLLOUT_TUNING_H

#include <stdbool.h>
#include <stdint.h>

/* DASHI_ROLLOUT_SPLIT: the split product for fast f64 batches (rollout_split.h). */
enum rollout_split_use { ROLLOUT_SPLIT_OFF, ROLLOUT_SPLIT_ON, ROLLOUT_SPLIT_PORTABLE };

#define ROLLOUT_TILE_PARAMS 6 /* DASHI_ROLLOUT_TILE: BM,BN,RP,CP,BK[,WX] */

struct rollout_tuning {
    enum rollout_split_use split; /* =on (matrices where the device has them) | =portable */
    uint32_t split_digits;        /* DASHI_ROLLOUT_SPLIT_DIGITS=N */
    uint32_t gemv[2];             /* DASHI_ROLLOUT_GEMV="OUT_WG,RB" */
    uint32_t gemm[6];             /* DASHI_ROLLOUT_GEMM="BM,BN,TM,TN,BK,SK" (fast batches) */
    uint32_t gemm_exact[5];       /* DASHI_ROLLOUT_GEMM_EXACT="BM,BN,TM,TN,BK" (exact batches) */
    bool gemm_exact_off;          /* DASHI_ROLLOUT_GEMM_EXACT=off: exact batches on the GEMV */
    int gemv_n, gemm_n, gemm_exact_n; /* values given for each (0: none) */
    bool persist_set;             /* DASHI_ROLLOUT_PERSIST=N given: ... */
    uint32_t persist;             /* ... at most N persistent workgroups (0: never) */
    uint32_t persist_ept;         /* DASHI_ROLLOUT_PERSIST_EPT=N */
    uint32_t block;               /* DASHI_ROLLOUT_BLOCK=m */
    uint32_t tile[ROLLOUT_TILE_PARAMS];
    int tile_n;
};

/* Reads every knob from the environment; a malformed one is left at its default and
 * said on stderr (a tuning run that silently measured the default would be misread). */
void rollout_tuning_from_env(struct rollout_tuning *t);

/* t, or the defaults when t is NULL. */
const struct rollout_tuning *rollout_tuning_or_defaults(const struct rollout_tuning *t);

/* Sets v[0..k) from `value` (the knob `name`, for the message) when it holds k
 * comma-separated values in 1..1024, least <= k <= most (at most 8), and returns k; else
 * leaves v, returns 0 and, when value is set but malformed, says so on stderr. */
int rollout_knob_uints(const char *name, const char *value, uint32_t *v, int least, int most);

#endif
