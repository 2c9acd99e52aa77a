/* SPDX-License-Identifier: MIT */
/* The second half of migration 006: blobs stored under their old name (one BLAKE2b-256
 * stream) are re-addressed by the chunk tree, resumably (docs/storage.md "Migration of
 * blob addresses"). */
#ifndef DASHI_STORE_READDRESS_H
#define DASHI_STORE_READDRESS_H

#include "blobstore.h"
#include "store.h"

/* Re-addresses every blob file that has no chunk sidecar, one at a time: its sidecar and
 * a hard link under its address (blobstore_readdress), then one transaction rewriting
 * every column that names it (job_blobs, jobs.checkpoint, jobs' parameters, blobs) and
 * recording the alias, then the old file is unlinked. Each step can be redone after a
 * kill -9. Then hands the aliases to bs (blobstore_set_aliases). fault: the
 * DASHI_MIGRATE_FAULT of the tests ("kill_after_link:K" or "kill_after_commit:K": the
 * daemon kills itself with SIGKILL at that step of the K-th blob; NULL: none).
 * *moved: blobs re-addressed. A damaged file is left as it is (fsck reports it). */
int store_readdress(struct store *st, struct blobstore *bs, const char *fault, uint64_t *moved,
                    struct dashi_error *err);

#endif
