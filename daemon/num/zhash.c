/* SPDX-License-Identifier: MIT */
/* The rollout state hash (docs/numerics.md "Rollout"): BLAKE2b with a 16-byte digest over the D
 * little-endian float64 bytes of z (libsodium's crypto_generichash is BLAKE2b). */
#include "zhash.h"

#include <sodium.h>
#include <string.h>

void zhash_hex(const double *z, uint32_t D, char out[33])
{
    /* sodium_init is idempotent and thread-safe; it fails only without a random
     * source, which BLAKE2b does not use, so its result does not matter here. */
    int init = sodium_init();
    (void)init;
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, 16);
    unsigned char buf[8 * 64];
    for (uint32_t i = 0; i < D;) {
        uint32_t n = 0;
        for (; n < 64 && i < D; n++, i++) {
            uint64_t bits;
            memcpy(&bits, &z[i], 8);
            for (int k = 0; k < 8; k++) /* little-endian whatever the host order */
                buf[8 * n + (uint32_t)k] = (unsigned char)(bits >> (8 * k));
        }
        crypto_generichash_update(&st, buf, 8 * (size_t)n);
    }
    unsigned char digest[16];
    crypto_generichash_final(&st, digest, sizeof digest);
    sodium_bin2hex(out, 33, digest, sizeof digest);
}
