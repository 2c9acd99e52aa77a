/* SPDX-License-Identifier: MIT */
/* Loading the reference vectors kept in tests/data (refdata, docs/numerics.md).
 * Header-only: each test file is its own binary; tests run from the repository root. */
#ifndef DASHI_TEST_DATA_H
#define DASHI_TEST_DATA_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "npy.h"

/* The array in tests/data/NAME, which must have this dtype and element count; NULL
 * (with a message on stderr) otherwise. The caller frees it. */
static inline void *test_data_load(const char *name, enum npy_dtype dtype, uint64_t count)
{
    char path[256];
    snprintf(path, sizeof path, "tests/data/%s", name);
    struct npy_info info;
    void *data = NULL;
    struct dashi_error err = {0};
    if (npy_load(path, &info, &data, &err) != 0) {
        fprintf(stderr, "%s: %s\n", path, err.message);
        return NULL;
    }
    if (info.dtype != dtype || info.count != count) {
        fprintf(stderr, "%s: expected %s with %llu elements, found %s with %llu\n", path, npy_dtype_name(dtype),
                (unsigned long long)count, npy_dtype_name(info.dtype), (unsigned long long)info.count);
        free(data);
        return NULL;
    }
    return data;
}

#endif
