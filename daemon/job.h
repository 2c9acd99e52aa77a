/* SPDX-License-Identifier: MIT */
/* The job-kind interface. A kind is: argument validation (loop thread, nothing queued
 * on failure), a device-memory estimate, slice execution on the GPU thread, outputs
 * and metrics. The daemon owns scheduling, state, storage and events; a kind only
 * computes and reports through the job_exec emitters, which batch what it reports
 * and hand it to the loop thread (the single SQLite writer) after each slice. */
#ifndef DASHI_JOB_H
#define DASHI_JOB_H

#include <msgpack.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "blobstore.h"
#include "errors.h"
#include "store.h"
#include "vk.h"

#define JOB_MAX_INPUTS 8
#define JOB_MAX_DEPS 8

/* What validation learns about a job beyond its kind-specific parameters. */
struct job_plan {
    uint64_t mem_estimate;   /* device bytes */
    uint64_t disk_estimate;  /* bytes of the outputs it will write (disk quota and reserve) */
    uint64_t total_steps;    /* for progress */
    char precision[8];       /* "f64" | "f32" */
    char mode[16];
    bool require_gpu;
    int ninputs;
    struct { char name[32]; char hash[DASHI_HASH_HEX + 1]; } inputs[JOB_MAX_INPUTS];
    /* Jobs whose outputs this one consumes and that have not succeeded yet. A job with
     * deps waits; when they all succeed the daemon validates it again (now every
     * reference resolves to a hash) and schedules it; if one fails, it fails. */
    int ndeps;
    int64_t deps[JOB_MAX_DEPS];
    /* Jobs whose outputs it takes that had already succeeded (their references resolved).
     * A job that waits records its inputs only once all its deps have succeeded, so until
     * then only this says that it needs these jobs' outputs (rm, keep rules). */
    int nresolved;
    int64_t resolved[JOB_MAX_INPUTS + JOB_MAX_DEPS];
};

struct rollout_tuning;

/* Loop-thread context for validation. */
struct job_submit_ctx {
    struct store *store;          /* blob metadata lookups */
    struct blobstore *blobs;
    const struct vk_runtime *vk;  /* device limits */
    const struct rollout_tuning *rollout_tuning; /* the daemon's DASHI_ROLLOUT_* knobs */
    uint64_t resident_budget;     /* config resident_bytes (resident.h; fixed at start) */
    uid_t uid;
};

struct job_exec; /* GPU-thread context, defined in gpu_worker.h */
struct job_stages; /* below */
struct fft_cache;
struct param_table; /* job_params.h */

struct job_kind {
    const char *name;
    /* The kind's parameter tables (one per mode), NULL-terminated: what validate parses
     * and pack_params stores, and the tables of docs/protocol.md. */
    const struct param_table *const *params;
    /* Parses args (a msgpack map) into a kind-owned params struct, checking every field
     * (unknown ones rejected) and the referenced blobs (exist, dtype, shape, finite),
     * and fills the plan. Must not touch the GPU. */
    int (*validate)(const struct job_submit_ctx *ctx, const msgpack_object *args, void **params,
                    struct job_plan *plan, struct dashi_error *err);
    /* Packs the resolved parameters (defaults included) as one msgpack map; what is
     * stored, shown to users, and re-validated when a job is resumed. */
    void (*pack_params)(const void *params, msgpack_packer *pk);
    void (*free_params)(void *params);

    /* GPU thread. start allocates and uploads (resuming from ex->resume_* when set);
     * slice runs bounded work (target: ex->slice_ms of GPU time) and sets *done when
     * finished; finish writes outputs and summary metrics; destroy frees the state
     * (always called once start succeeded, whatever happened next). */
    int (*start)(struct job_exec *ex, const void *params, void **state, struct dashi_error *err);
    int (*slice)(struct job_exec *ex, void *state, bool *done, struct dashi_error *err);
    int (*finish)(struct job_exec *ex, void *state, struct dashi_error *err);
    void (*destroy)(void *state);

    /* Optional (NULL: nothing). Loop thread, inside the transaction that records the job's
     * success: what the kind keeps in the database beyond its outputs (atoms: its tables).
     * A failure fails the job with that error instead. */
    int (*on_succeeded)(struct store *st, const struct blobstore *bs, int64_t job, struct dashi_error *err);

    /* Optional (NULL: never split). The units (a batched rollout's trajectories) a job with
     * these params may run in parts over several idle devices (sched_split.h), each part
     * a contiguous range of them (job_part); below 2: it runs whole. A kind that splits
     * must give the same results either way, and its parts must write nothing through
     * the I/O thread but the last part's outputs (job_split_last). */
    uint32_t (*split_units)(const void *params);

    /* Not NULL for a kind made of stages (pipeline): it never reaches the scheduler or the
     * GPU (start..destroy are NULL); jobs.c submits its stages as its children and its
     * state follows theirs (settle). */
    const struct job_stages *stages;
};

/* The stages of a composite kind, in order; each is a job of an ordinary kind. */
struct job_stages {
    int n;
    const char *const *kinds;
    /* The arguments of stage k (a msgpack map) from the validated params, the stages
     * before it named by their job ids ids[0..k-1]. */
    void (*args)(const void *params, int k, const int64_t *ids, msgpack_packer *pk);
    /* Loop thread, after a stage of job `id` changed state: records the job's state as its
     * stages make it (and, once they all succeeded, its summary); *ended when that state
     * is a final one reached now. */
    int (*settle)(struct store *st, int64_t id, double now, bool *ended, struct dashi_error *err);
};

/* An input given either as a blob hash (64 hex digits) or as a job id (an integer) whose
 * output `output` is meant (job_refs.c; `output` may list several names separated by
 * commas: the first the job has is taken). Fills hash and returns 0 when it resolves (the
 * blob or the succeeded job's output); when the job is queued or running, leaves hash
 * empty, sets *job_id, adds it to plan->deps and returns 0: the kind must then skip the
 * checks that need the blob and pack the job id (not a hash) in pack_params, so that
 * validation can run again once the job has succeeded. Errors: E_NOT_FOUND (no such
 * blob/job/output), E_STATE (the job failed or was cancelled), E_BAD_TYPE; an interrupted
 * job is waited for like a queued one (it can be resumed);
 * a store error looking the blob or job up (E_DB) passes through, naming the argument.
 * A missing key: E_MISSING_FIELD if required, else 0 with hash empty and *job_id 0. */
int job_input_ref(const struct job_submit_ctx *ctx, const msgpack_object *args, const char *name,
                  const char *output, bool required, char hash[DASHI_HASH_HEX + 1], int64_t *job_id,
                  struct job_plan *plan, struct dashi_error *err);
/* The stored parameters of job `id` (the msgpack map its kind's pack_params wrote), for
 * reading another job's configuration at validation. Strings in the map point into the
 * view: both live until job_params_close. E_NOT_FOUND for no such job. */
struct job_params_view {
    struct job_row row;
    msgpack_unpacked u;
};
int job_params_open(const struct job_submit_ctx *ctx, int64_t id, struct job_params_view *v,
                    const msgpack_object **map, struct dashi_error *err);
void job_params_close(struct job_params_view *v);
/* What an input blob must be (job_blob_check). */
struct blob_want {
    enum npy_dtype dtype;
    unsigned ndims; /* the numbers of dimensions allowed, as bits (1u << ndim); 0: any */
    bool finite;    /* no NaN or Inf */
};
/* The one check of an input blob, by hash, at validation: it exists (E_NOT_FOUND, or the
 * store's own error, e.g. E_DB, passed through), has the dtype and number of dimensions
 * wanted (E_BAD_VALUE "FIELD must be WHAT"), and is finite when asked (E_BAD_VALUE "FIELD
 * contains NaN or Inf"). `what` describes the expected array for the message; shape
 * checks that relate sizes to each other stay with the kind, which gets the metadata. */
int job_blob_check(const struct job_submit_ctx *ctx, const char *field, const char *hash, struct blob_want want,
                   const char *what, struct blob_meta *m, struct dashi_error *err);
/* Records an input in the plan (for the job's `inputs` map); ignored when hash is empty. */
void job_plan_input(struct job_plan *plan, const char *name, const char *hash);

/* The registry of kinds (job_kinds.c). NULL if unknown. */
const struct job_kind *job_kind_find(const char *name);
/* Writes the kind names, space-separated, into buf (for error messages). */
void job_kind_names(char *buf, size_t cap);
/* Fails with code naming "kind": name is no job kind; the message lists the kinds and the
 * nearest one, if name looks like a typo of it. */
int job_kind_unknown(const char *name, dashi_code code, struct dashi_error *err);
/* Every kind's parameter tables as markdown: the generated part of docs/protocol.md
 * ("Job kinds and their args"; `dashid --describe-params markdown`). */
void job_kinds_params_markdown(FILE *f);
/* The describe op's answer: an array of the parameter tables (params_describe), one per
 * kind and mode, of every kind or (only not NULL) of that one. */
void job_kinds_describe(const struct job_kind *only, msgpack_packer *pk);

/* ---- reporting from the GPU thread (implemented in gpu_worker.c) ---- */
void job_emit_metric(struct job_exec *ex, const char *key, int64_t step, double value);
void job_emit_summary(struct job_exec *ex, const char *key, double value); /* step -1 */
void job_emit_hash(struct job_exec *ex, uint32_t traj, uint64_t step, const char hex[33]);
void job_emit_output(struct job_exec *ex, const char *name, const char *hash);
void job_emit_progress(struct job_exec *ex, uint64_t step, uint64_t total);
void job_emit_checkpoint(struct job_exec *ex, const char *hash, uint64_t step);
/* True once the owner cancelled the job or the daemon is stopping: slice should return
 * promptly (the worker turns it into the right state). */
bool job_should_stop(const struct job_exec *ex);

/* ---- split jobs (sched_split.h) ---- */
/* The parts the job runs in (1: whole) and which this execution is (*part, from 0), with
 * *first and *count the units of the `units` of the job it runs (0 and units when whole). */
int job_part(const struct job_exec *ex, uint32_t units, int *part, uint32_t *first, uint32_t *count);
/* The buffer of `bytes` (zeroed; the same for every part) where the parts assemble the
 * job's outputs, each writing only its own share. NULL when out of memory. */
void *job_split_shared(struct job_exec *ex, size_t bytes);
/* In finish, once this part has written its share: counts it as ended and says whether it
 * is the last and every other part succeeded; then it writes the job's outputs from the
 * shared buffer, else its finish is done (the job's end is another part's, or a failure). */
bool job_split_last(struct job_exec *ex);

/* Accessors a kind needs during execution. */
struct vk_runtime *job_vk(struct job_exec *ex);
struct blobstore *job_blobs(struct job_exec *ex);
/* The daemon's VkFFT plan cache, kept until the device is lost (plans cost 0.1-0.6 s:
 * never one per job). */
struct fft_cache *job_fft(struct job_exec *ex);
double job_slice_target_ms(const struct job_exec *ex);
/* The job's stream to the I/O thread (io_worker.h): streamed outputs are written there,
 * from staging buffers, never on the GPU thread. Valid from start to destroy. */
struct io_stream *job_io(struct job_exec *ex);
/* The DASHI_ROLLOUT_* knobs, read once at the daemon's start (rollout_tuning.h). */
const struct rollout_tuning *job_rollout_tuning(const struct job_exec *ex);
/* Shortest wall time between two checkpoints of a job (config checkpoint_every_s). */
double job_checkpoint_interval_ms(const struct job_exec *ex);
/* The checkpoint to resume from (empty hash when starting fresh). */
const char *job_resume_checkpoint(const struct job_exec *ex, uint64_t *step);
/* A streamed output that a resumed job continues (blob_writer_resume, named after the job
 * and `name`): keep is the data bytes written up to the checkpoint resumed from (0 when
 * starting fresh). Its file stays while the job is interrupted and is removed when the
 * job ends in any other way. Once a request names the writer it is the I/O thread's:
 * appends, the sync before a checkpoint (io_checkpoint), the end and the close
 * (io_close) go through job_io's queue. */
int job_output_writer(struct job_exec *ex, const char *name, enum npy_dtype dtype, int ndim, const uint64_t *shape,
                      uint64_t keep, struct blob_writer **w, struct dashi_error *err);
/* ---- device-resident results (resident.h; GPU thread, job_resident.c) ---- */
/* The resident-results budget: what a producer may plan to keep on the device. */
uint64_t job_resident_budget(const struct job_exec *ex);
/* Offers the device buffer *buf holding output `output` (blob `hash`, durable) with this
 * layout to the cache, for a job that will consume it. When a job waiting on this one
 * exists, least recently used entries make room; otherwise it is kept only if there is
 * room. Returns true when taken (*buf emptied); else the caller frees *buf. */
bool job_resident_offer(struct job_exec *ex, const char *output, const char *hash, struct vk_buffer *buf,
                        enum npy_dtype dtype, int ndim, const uint64_t *shape);
/* Input `input` (blob `hash` with this layout) on the device, pinned until
 * job_resident_release, or NULL when it is not resident (read the blob). Records the
 * summary metric input_resident.INPUT (1: bound from the device, 0: read from disk). */
const struct vk_buffer *job_resident_acquire(struct job_exec *ex, const char *input, const char *hash,
                                             enum npy_dtype dtype, int ndim, const uint64_t *shape);
/* NULL is fine. Whatever a job still holds when it ends (after its destroy) the worker
 * releases, so a job that failed or was stopped between slices never keeps one pinned. */
void job_resident_release(struct job_exec *ex, const struct vk_buffer *buf);

/* The file prefix of job id's resumable outputs ("job-ID-"), for removing them. */
void job_partials_prefix(int64_t id, char *buf, size_t cap);

#endif
