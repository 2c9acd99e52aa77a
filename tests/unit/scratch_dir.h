/* SPDX-License-Identifier: MIT */
/* A scratch directory per test (mkdtemp under /tmp), removed recursively afterwards.
 * Header-only: each test file is its own binary. */
#ifndef DASHI_TEST_SCRATCH_DIR_H
#define DASHI_TEST_SCRATCH_DIR_H

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

static int scratch_rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

/* Fills out with a new directory /tmp/dashi-test-TAG-XXXXXX; 0 or -1. */
static inline int scratch_dir_make(char *out, size_t cap, const char *tag)
{
    snprintf(out, cap, "/tmp/dashi-test-%s-XXXXXX", tag);
    return mkdtemp(out) ? 0 : -1;
}

static inline void scratch_dir_remove(const char *dir)
{
    nftw(dir, scratch_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

#endif
