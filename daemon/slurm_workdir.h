/* SPDX-License-Identifier: MIT */
/* slurm_workdir, the directory the catalogue shares with the compute nodes
 * (docs/cluster.md "The work directory"):
 *   dashi-run.sh          the batch script, always the same text (no value is written
 *                         into it: everything it runs comes as its arguments)
 *   inputs/HASH.npy       each input blob once, by its address (verified as it is read)
 *   jobs/ID/spec-K.msgpack  run K of the sbatch call whose first job is ID: the submit
 *                         op's arguments (kind, the resolved args, time_limit)
 *   jobs/ID/bundle-K/     the bundle run K writes (dashid --run), bundle-K.out its output;
 *                         removed once imported (its blobs are in the store then)
 * Every file is written under a temporary name and renamed. Loop thread. */
#ifndef DASHI_SLURM_WORKDIR_H
#define DASHI_SLURM_WORKDIR_H

#include <stddef.h>
#include <stdint.h>

#include "errors.h"
#include "store.h"

struct daemon;

/* The directories and the script; jobdir (cap bytes) is jobs/FIRST, made new. */
int slurm_workdir_prepare(const struct daemon *d, int64_t first, char *jobdir, size_t cap, struct dashi_error *err);
/* inputs/HASH.npy, copied from the store unless it is there already. */
int slurm_workdir_input(const struct daemon *d, const char *hash, struct dashi_error *err);
/* jobdir/spec-K.msgpack for the recorded job row. */
int slurm_workdir_spec(const char *jobdir, size_t k, const struct job_row *row, struct dashi_error *err);
/* Removes an imported bundle directory (symbolic links are removed, never followed);
 * a failure is logged, not an error: the job's results are already in the store. */
void slurm_workdir_remove_bundle(const char *bundle);

#endif
