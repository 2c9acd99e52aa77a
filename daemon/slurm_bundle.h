/* SPDX-License-Identifier: MIT */
/* The bundle a Slurm job of the catalogue wrote in slurm_workdir (docs/storage.md
 * "Bundles"), imported by the daemon itself into the job it submitted: its blobs stored
 * (each verified against its name, deduplicated by hash), then the record, metrics,
 * hashes and events checked as the import op checks them (import_parse.c) and recorded
 * over the submitted job in one transaction. The workdir is the daemon's own (a config
 * key, never a path a client names). Loop thread. */
#ifndef DASHI_SLURM_BUNDLE_H
#define DASHI_SLURM_BUNDLE_H

#include <stdint.h>

#include "errors.h"

struct daemon;

/* How Slurm saw the job end. */
struct slurm_outcome {
    const char *slurm_state;  /* squeue's final state; "UNKNOWN" when Slurm forgot the job */
    const char *slurm_id;
    const char *node;         /* "" when Slurm did not say (the bundle may) */
    const char *cancelled_by; /* who ran `dashi cancel`; NULL when nobody did */
};

/* 0: imported into job; 1: dir holds no bundle; -1: the bundle cannot be imported (err
 * says why; nothing recorded). A job Slurm cancelled that stopped with its checkpoint
 * (interrupted) is recorded cancelled, keeping the checkpoint. */
int slurm_bundle_import(struct daemon *d, int64_t job, const char *dir, const struct slurm_outcome *o,
                        struct dashi_error *err);

#endif
