/* SPDX-License-Identifier: MIT */
/* The store checker behind `dashi fsck`: every blob file against its name and the size,
 * dtype, shape and finiteness the database recorded for it; what does not belong in
 * blobs/ (symlinks, stray files); database rows that refer to absent blobs; and SQLite's
 * own PRAGMA integrity_check. It runs off the loop thread, so it touches nothing the loop
 * owns: it reads the files and its own read-only connection to the database. */
#ifndef DASHI_FSCK_H
#define DASHI_FSCK_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "blobstore.h"
#include "errors.h"

enum fsck_kind {
    FSCK_DAMAGED,    /* a blob file whose bytes, size or header do not match its name */
    FSCK_UNEXPECTED, /* in blobs/: a symlink, a non-regular file, a name that is no blob's */
    FSCK_MISSING,    /* a row of the blobs table without its file */
    FSCK_DANGLING,   /* a job's input, output or checkpoint refers to an absent blob */
    FSCK_MISMATCH,   /* the blobs table records other metadata than the file holds */
    FSCK_DATABASE,   /* a line of PRAGMA integrity_check other than "ok" */
    FSCK_KIND_COUNT
};
const char *fsck_kind_name(enum fsck_kind k); /* "damaged", "unexpected", ... */

/* The report lists the first FSCK_MAX_LISTED problems; the counts cover them all. */
#define FSCK_MAX_LISTED 100

struct fsck_problem {
    enum fsck_kind kind;
    char what[96];    /* a blob hash, a path under the state directory, "job 12 input z0" */
    char detail[256]; /* why */
};

struct fsck_report {
    uint64_t blobs_checked, bytes_checked;
    uint64_t count[FSCK_KIND_COUNT];
    size_t listed;
    struct fsck_problem problems[FSCK_MAX_LISTED];
};

/* Checks the store (blobs in bs->dir, the database at db_path). Stops early, with
 * E_CANCELLED, once *cancel is set (polled between files). Problems found are not
 * errors: they go to the report; an error means the check could not be made. */
int fsck_store(const struct blobstore *bs, const char *db_path, const atomic_bool *cancel, struct fsck_report *r,
               struct dashi_error *err);

#endif
