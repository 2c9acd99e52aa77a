/* SPDX-License-Identifier: MIT */
/* One Slurm command (sbatch, squeue, scancel) run from the loop thread with uv_spawn, its
 * argv given whole (never through a shell), its stdout and stderr read into bounded
 * buffers (what does not fit is dropped and marked), and a callback once it has exited
 * and both pipes are drained. The loop never blocks on it. */
#ifndef DASHI_SLURM_CMD_H
#define DASHI_SLURM_CMD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "errors.h"

struct slurm_cmd;

/* What the command did. out and errtext are NUL-terminated, valid during the callback. */
struct slurm_cmd_result {
    int64_t exit_status; /* -1 when it was killed by a signal */
    const char *out, *errtext;
    bool out_truncated;  /* stdout held more than the cap given */
    uint64_t tag;        /* as given to slurm_cmd_start */
};
typedef void (*slurm_cmd_done)(void *ctx, const struct slurm_cmd_result *r);

/* Starts argv (argv[0] a path or a name looked up on PATH) keeping at most out_cap bytes
 * of stdout and 2 KiB of stderr. E_SLURM naming `field` when it cannot be started (the
 * message says why: not found, not executable); done is then never called. */
int slurm_cmd_start(uv_loop_t *loop, const char *const *argv, size_t out_cap, slurm_cmd_done done, void *ctx,
                    uint64_t tag, const char *field, struct slurm_cmd **out, struct dashi_error *err);
/* The daemon stops: closes the handles (the command may go on; done is never called). */
void slurm_cmd_abandon(struct slurm_cmd *cmd);

#endif
