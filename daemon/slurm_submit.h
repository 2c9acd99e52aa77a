/* SPDX-License-Identifier: MIT */
/* `executor: slurm` on submit and sweep (docs/cluster.md): each run is validated and
 * recorded here as a job of the caller (never scheduled on this daemon's devices), its
 * spec and its input blobs written into slurm_workdir (inputs content-addressed, so one
 * shared by many runs is written once), and the lot handed to sbatch in one call (a sweep
 * as one --array, a pipeline as one job) through uv_spawn with its argv whole, never a
 * shell. The request is answered once sbatch has: with the record (or the sweep's jobs),
 * or, when sbatch is missing or refuses, with E_SLURM carrying its stderr, the jobs then
 * recorded failed. Nothing is ever run locally instead. Loop thread. */
#ifndef DASHI_SLURM_SUBMIT_H
#define DASHI_SLURM_SUBMIT_H

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "errors.h"
#include "jobs.h"

struct conn;
struct request;
struct daemon;

#define SLURM_ARGS_MAX 64  /* --slurm-arg words of one submission */
#define SLURM_ARG_MAX 256  /* bytes of one, the NUL excluded */

/* The request's executor ("local", the default, or "slurm") and slurm_args. */
struct slurm_request {
    bool on;
    size_t nargs;
    char args[SLURM_ARGS_MAX][SLURM_ARG_MAX + 1];
};

/* executor and slurm_args of a submit or sweep request, checked: wrong types E_BAD_TYPE,
 * too many or too long E_TOO_LARGE, an empty word, a NUL byte, a word sbatch must not
 * take from the user (--array, --wrap, --parsable) or slurm_args without executor slurm
 * E_BAD_VALUE; the field named. */
int slurm_request_parse(const msgpack_object *args, struct slurm_request *out, struct dashi_error *err);

/* The runs to submit: n of them, run k's args set by args_of (NULL: base's args). */
struct slurm_runs {
    const struct job_submission *base;
    size_t n;
    void (*args_of)(void *ctx, size_t k, struct job_submission *s);
    void *ctx;
    bool sweep;        /* answered as the sweep op is, and submitted as an array */
    int64_t group;     /* the sweep's group */
    const char *name;  /* its name, NULL when none */
};

/* Whether this daemon can take the submission for Slurm at all: E_PERMISSION from a user
 * other than the daemon's own (sbatch would run as the daemon's user), E_SLURM without
 * slurm_workdir, E_BAD_VALUE naming device for a pin (Slurm picks the GPU). */
int slurm_submit_ready(const struct daemon *d, const struct job_submission *base, struct dashi_error *err);
/* Records, writes out and runs sbatch; OP_DEFERRED (the answer follows) or -1 with err
 * (nothing recorded, or what was recorded failed with the same reason). */
int slurm_submit(struct conn *c, const struct request *req, const struct slurm_request *sr,
                 const struct slurm_runs *runs, struct dashi_error *err);

#endif
