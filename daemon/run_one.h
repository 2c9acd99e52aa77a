/* SPDX-License-Identifier: MIT */
/* `dashid --run SPEC --bundle DIR`: one job without a long-running daemon, as a cluster
 * node runs it (docs/cluster.md). The same binary serves a private daemon on a private
 * state directory (DIR.run-PID), submits the spec to it, waits, and has `dashi export
 * --bundle` write the result bundle; SIGTERM (a Slurm timeout or scancel) interrupts the
 * job with its checkpoint, and the bundle then says `interrupted`. */
#ifndef DASHI_RUN_ONE_H
#define DASHI_RUN_ONE_H

/* Exit statuses (docs/cli.md "dashid --run"). */
#define RUN_EXIT_SUCCEEDED 0
#define RUN_EXIT_NO_BUNDLE 1  /* the spec could not be run and no bundle was written */
#define RUN_EXIT_USAGE 2
#define RUN_EXIT_FAILED 3     /* the job failed or was cancelled; the bundle says why */
#define RUN_EXIT_INTERRUPTED 4 /* SIGTERM: the bundle is `interrupted`, with its checkpoint */

/* True when argv asks for --run. */
int run_one_wanted(int argc, char **argv);
/* Runs it; returns the exit status. */
int run_one_main(int argc, char **argv);

#endif
