/* SPDX-License-Identifier: MIT */
/* The DASHI_ROLLOUT_* knobs read once (rollout_tuning.h). */
#include "rollout_tuning.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct rollout_tuning defaults; /* all zero: the engine's own choices */

const struct rollout_tuning *rollout_tuning_or_defaults(const struct rollout_tuning *t)
{
    return t ? t : &defaults;
}

int rollout_knob_uints(const char *name, const char *value, uint32_t *v, int least, int most)
{
    if (!value)
        return 0;
    uint32_t tmp[8];
    int got = 0;
    bool ok = most <= 8;
    for (const char *s = value; ok && *s;) {
        char *end;
        unsigned long x = strtoul(s, &end, 10);
        ok = got < most && end != s && x >= 1 && x <= 1024 && (*end == ',' || *end == 0);
        if (ok)
            tmp[got++] = (uint32_t)x;
        s = *end == ',' ? end + 1 : end;
    }
    if (!ok || got < least) {
        fprintf(stderr, "rollout: ignoring %s=%s: expected %d to %d comma-separated values in 1..1024\n", name,
                value, least, most);
        return 0;
    }
    memcpy(v, tmp, (size_t)got * sizeof *v);
    return got;
}

static int knob_uints(const char *name, uint32_t *v, int least, int most)
{
    return rollout_knob_uints(name, getenv(name), v, least, most);
}

static enum rollout_split_use split_use(const char *value)
{
    if (value && strcmp(value, "on") == 0)
        return ROLLOUT_SPLIT_ON;
    if (value && strcmp(value, "portable") == 0)
        return ROLLOUT_SPLIT_PORTABLE;
    return ROLLOUT_SPLIT_OFF;
}

/* DASHI_ROLLOUT_PERSIST=N, N in 0..4096 (0: off); anything else leaves the default. */
static void persist_limit(const char *value, struct rollout_tuning *t)
{
    if (!value)
        return;
    char *end;
    unsigned long x = strtoul(value, &end, 10);
    if (end != value && *end == 0 && x <= 4096) {
        t->persist_set = true;
        t->persist = (uint32_t)x;
    }
}

void rollout_tuning_from_env(struct rollout_tuning *t)
{
    memset(t, 0, sizeof *t);
    t->split = split_use(getenv("DASHI_ROLLOUT_SPLIT"));
    knob_uints("DASHI_ROLLOUT_SPLIT_DIGITS", &t->split_digits, 1, 1);
    t->gemv_n = knob_uints("DASHI_ROLLOUT_GEMV", t->gemv, 2, 2);
    t->gemm_n = knob_uints("DASHI_ROLLOUT_GEMM", t->gemm, 6, 6);
    const char *exact = getenv("DASHI_ROLLOUT_GEMM_EXACT");
    t->gemm_exact_off = exact && strcmp(exact, "off") == 0;
    if (!t->gemm_exact_off)
        t->gemm_exact_n = knob_uints("DASHI_ROLLOUT_GEMM_EXACT", t->gemm_exact, 5, 5);
    persist_limit(getenv("DASHI_ROLLOUT_PERSIST"), t);
    knob_uints("DASHI_ROLLOUT_PERSIST_EPT", &t->persist_ept, 1, 1);
    knob_uints("DASHI_ROLLOUT_BLOCK", &t->block, 1, 1);
    t->tile_n = knob_uints("DASHI_ROLLOUT_TILE", t->tile, ROLLOUT_TILE_PARAMS - 1, ROLLOUT_TILE_PARAMS);
}
