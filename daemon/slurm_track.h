/* SPDX-License-Identifier: MIT */
/* The catalogue's Slurm jobs after sbatch accepted them (docs/cluster.md): squeue polled
 * on a timer (config slurm_poll_s, uv_spawn, its output read into a bounded buffer), each
 * job's state mapped from Slurm's (pending: queued; running or completing: running, with
 * its node; a job squeue no longer lists, past MinJobAge, is looked up with sacct), and
 * when Slurm says a job ended, the bundle it wrote imported into the same
 * job id (slurm_bundle.c), or, without a bundle, the job failed (cancelled) with Slurm's
 * reason. A restarted daemon tracks again the Slurm jobs its store holds as queued or
 * running. Loop thread only. */
#ifndef DASHI_SLURM_TRACK_H
#define DASHI_SLURM_TRACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <uv.h>

#include "errors.h"
#include "slurm_state.h"

struct daemon;

/* At start, once the loop exists: the state, the Slurm jobs of the store, the timer; it
 * registers the state's cancel handler (scancel; the job ends cancelled once Slurm says so). */
int slurm_track_start(struct daemon *d, struct dashi_error *err);
/* The daemon stops: commands in flight are abandoned (the Slurm jobs go on and are
 * tracked again at the next start), the timer closed, the state freed once it is. */
void slurm_track_stop(struct daemon *d);
/* Follows job of uid (recorded queued, its origin stored) as Slurm job slurm_id. */
int slurm_track_add(struct daemon *d, int64_t job, uid_t uid, const char *slurm_id, const char *bundle,
                    struct dashi_error *err);

#endif
