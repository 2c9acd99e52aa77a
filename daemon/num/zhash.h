/* SPDX-License-Identifier: MIT */
/* The rollout state hash (docs/numerics.md, "Rollout"): what jobs report per recorded
 * state and tests compare, independent of the engine that computed the state. */
#ifndef DASHI_ZHASH_H
#define DASHI_ZHASH_H

#include <stdint.h>

/* BLAKE2b-128 of the D little-endian float64 bytes of z, as 32 lowercase hex digits. */
void zhash_hex(const double *z, uint32_t D, char out[33]);

#endif
