/* SPDX-License-Identifier: MIT */
/* Setup shared by the unit tests that run a numerics engine on lavapipe: one Vulkan
 * runtime and one FFT plan cache for all the tests of a binary, as the daemon has.
 * Header-only: each test file is its own binary. */
#ifndef DASHI_TEST_FIXTURES_H
#define DASHI_TEST_FIXTURES_H

#include <dlfcn.h>
#include <stdio.h>

#include "fft_vkfft.h"
#include "vk.h"

/* Opens lavapipe and an FFT plan cache on it; says why on stderr and returns -1 when it
 * cannot. lavapipe stays mapped past vkDestroyInstance so that LeakSanitizer can name
 * its own allocations (tests/run.sh). */
static inline int lavapipe_fft_open(struct vk_runtime *vk, struct fft_cache **fft)
{
    (void)dlopen("libvulkan_lvp.so", RTLD_NOW | RTLD_NODELETE);
    struct dashi_error err = {0};
    if (vk_runtime_open(vk, "lavapipe", NULL, &err) != 0) {
        fprintf(stderr, "vk_runtime_open: %s\n", err.message);
        return -1;
    }
    if (fft_cache_create(vk, fft, &err) != 0) {
        fprintf(stderr, "fft_cache_create: %s\n", err.message);
        vk_runtime_close(vk);
        return -1;
    }
    return 0;
}

static inline void lavapipe_fft_close(struct vk_runtime *vk, struct fft_cache *fft)
{
    fft_cache_destroy(fft);
    vk_runtime_close(vk);
}

#endif
