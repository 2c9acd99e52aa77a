/* SPDX-License-Identifier: MIT */
/* A lavapipe runtime as a cmocka group fixture, and a deterministic xorshift generator,
 * for the unit tests that need only a Vulkan device and reproducible random inputs.
 * Header-only: each test file is its own binary. */
#ifndef DASHI_TEST_LAVAPIPE_FIXTURE_H
#define DASHI_TEST_LAVAPIPE_FIXTURE_H

#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "vk.h"

struct fixture {
    struct vk_runtime vk;
};

/* dlopen keeps lavapipe mapped past vkDestroyInstance (see test_rollout.c). */
static int setup(void **state)
{
    (void)dlopen("libvulkan_lvp.so", RTLD_NOW | RTLD_NODELETE);
    struct fixture *fx = calloc(1, sizeof *fx);
    struct dashi_error err = {0};
    if (!fx || vk_runtime_open(&fx->vk, "lavapipe", NULL, &err) != 0) {
        fprintf(stderr, "vk_runtime_open: %s\n", err.message);
        free(fx);
        return -1;
    }
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    vk_runtime_close(&fx->vk);
    free(fx);
    return 0;
}

/* xorshift64: every run tests the same inputs. */
static inline uint64_t next_rand(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

/* Uniform in [0, 1) with 53 random bits. */
static inline double unit_rand(uint64_t *x) { return (double)(next_rand(x) >> 11) * (1.0 / 9007199254740992.0); }

#endif
