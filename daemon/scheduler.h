/* SPDX-License-Identifier: MIT */
/* The scheduler: active jobs (queued or started) shared between the loop thread, which
 * adds and cancels them, and the GPU thread, which picks the next slice by fair share;
 * and the queue of messages the GPU thread sends back. Everything here is guarded by
 * `mu`, except the fields marked GPU-thread-only.
 *
 * The pool: one queue and one fair share over every device (sched_device); each device's
 * GPU thread asks for its next slice (scheduler_next with its index). A job is placed on
 * the first device whose pass takes it and stays there until it ends; a pin (sched_job.pin)
 * keeps it to one device, an affinity (the device its producer ran on, where the
 * producer's resident outputs are) keeps it there while that device is ok. A job whose
 * kind splits (job_kind.split_units), started while other devices are idle, runs as parts
 * placed on them at once (sched_split.h, maybe_split).
 *
 * Fair share: the next slice goes to the user with the lowest decayed GPU usage
 * (seconds, halved every usage_half_life_s), then the job with the highest priority,
 * then the job with the least GPU time so far (round robin within a user), then the
 * oldest. A job is started on a device only while the device-memory estimates of the jobs
 * started there plus its own fit that device's budget, with the resident results that
 * cannot be released (resident.h: pinned or not yet durable); the others are released, least recently used
 * first, to make the room a started job needs. A job waiting on I/O (no staging buffer
 * free) is passed over until the I/O thread frees staging.
 *
 * Each pass records, for every job it passes over, why (sched_job.reason): the queue
 * reasons that status, show, list and watch serve (docs/protocol.md "Queue reasons"). */
#ifndef DASHI_SCHEDULER_H
#define DASHI_SCHEDULER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <uv.h>

#include "config.h"
#include "device_health.h"
#include "job.h"
#include "resident.h"
#include "sched_split.h"
#include "store.h"
#include "thread_owner.h"

#define SCHED_REASON_MAX 96
#define SCHED_MAX_DEVICES 16 /* the pool's bound (config devices) */

struct sched_job {
    int64_t id;
    const struct job_kind *kind;
    void *params;           /* kind-owned (a split job's: its split's) */
    struct job_plan plan;
    uid_t uid;
    int priority;
    atomic_bool cancel;     /* set by the loop thread, read by the GPU thread */
    bool started;           /* set under mu when the GPU thread takes the job */
    bool waiting;           /* its plan has deps that have not succeeded: not runnable */
    int device;             /* where it runs once started (under mu; meaningless before) */
    int pin;                /* 1 + the only device it may run on (submit's `device`), 0: any */
    int affinity;           /* 1 + the device its producer ran on (its resident inputs), 0: none */
    /* Waiting for this identical job (reuse.c), its only dep, rather than for an input: it
     * takes that job's results once it succeeded and runs itself otherwise. 0: none. */
    int64_t identical_to;
    /* A part of a split job (sched_split.h, placed at its start: always started), part
     * `part` of split->nparts; NULL when the job runs whole. */
    struct sched_split *split;
    int part;
    bool part_ended, part_last; /* GPU-thread only: its end was counted; it was the last to end */
    double run_seconds;     /* GPU-thread only: the slices it ran since it started (this run, its device) */
    void *state;            /* GPU-thread only */
    double gpu_seconds;     /* GPU-thread only (also read by scheduler_next, on that thread) */
    double time_limit;      /* GPU seconds after which the job is stopped (0: none), quota_time_limit */
    char time_limit_key[24];/* which limit that is: "time_limit" or "max_gpu_seconds" */
    /* A resumed job's checkpoint (blob hash, empty when starting fresh) and its step: set
     * by the loop thread before scheduler_add, read by the kind's start on the GPU thread
     * through job_resume_checkpoint (which must not touch SQLite). */
    char resume_checkpoint[DASHI_HASH_HEX + 1];
    uint64_t resume_step;
    /* GPU-thread only: the job's stream of writes (io_worker.h), and whether its last
     * slice found no staging buffer ("waiting on I/O"): it is not run again until the I/O
     * thread has freed staging since (scheduler.io_released differs from io_wait_gen). */
    struct io_stream *io;
    bool io_wait;
    uint64_t io_wait_gen;
    /* GPU-thread only: the resident inputs it holds (job_resident_acquire), released by
     * job_resident_release or, whatever happened, when it ends. */
    const struct vk_buffer *resident_pins[JOB_MAX_INPUTS];
    int nresident_pins;
    /* Why the last pass did not run it ("" when it ran, or before the first pass), under mu. */
    char reason[SCHED_REASON_MAX];
    struct sched_job *next;
};

#define MSG_MAX_OUTPUTS 16

struct metric_rec {
    char key[48];
    int64_t step;
    double value;
};

enum job_msg_type {
    MSG_STARTED,     /* the job is running on the device `device` */
    MSG_SLICE,       /* what one slice reported */
    MSG_ENDED,       /* final: state + error */
    MSG_WORKER_EXIT, /* the GPU thread has stopped */
};

/* One message from the GPU thread to the loop thread (which frees it). */
struct job_msg {
    enum job_msg_type type;
    int64_t job;
    int device;                /* the pool index of the device that ran it */
    /* MSG_SLICE and MSG_ENDED from the GPU thread: the seconds the job (a split job: this
     * part) ran on `device` since it started (sched_job.run_seconds). */
    bool has_device_seconds;
    double device_seconds;
    enum job_state state;      /* MSG_ENDED */
    struct dashi_error error;  /* MSG_ENDED with a failure */
    struct metric_rec *metrics;
    size_t nmetrics, cap_metrics;
    struct zhash *hashes;
    size_t nhashes, cap_hashes;
    struct { char name[32]; struct blob_meta meta; } outputs[MSG_MAX_OUTPUTS];
    int noutputs;
    bool has_progress;
    uint64_t step, total;
    double gpu_seconds;        /* cumulative for the job */
    char checkpoint[DASHI_HASH_HEX + 1];
    uint64_t checkpoint_step;
    struct job_msg *next;
};

struct user_usage {
    uid_t uid;
    double usage;      /* decayed GPU seconds */
    double updated_at;
};

/* One device of the pool, as the scheduler sees it (under mu but gpu). */
struct sched_device {
    struct thread_owner gpu;     /* its GPU thread, claimed at its start: the GPU-thread calls check it */
    uint64_t mem_budget;         /* the device's budget for job estimates */
    uint64_t mem_started;        /* sum of the estimates of the jobs started on it */
    struct resident *resident;   /* its resident results (its GPU thread); NULL: none */
    struct device_health *health;/* NULL: always ok (unit tests) */
    int64_t running;             /* the job it runs a slice of now, 0: none */
    uint64_t jobs_started;
    unsigned nstarted;           /* jobs started on it that have not ended */
    double gpu_seconds;          /* slices run on it since start */
};

struct scheduler {
    uv_mutex_t mu;
    uv_cond_t cv;
    struct sched_job *jobs;            /* active jobs, in submission order */
    struct job_msg *msgs, *msgs_tail;  /* GPU -> loop */
    bool stop;
    struct sched_device dev[SCHED_MAX_DEVICES];
    int ndev;
    double half_life_s;
    const struct daemon_config *cfg; /* per-user shares (config_user_limits); NULL: all 1 */
    struct user_usage *users;
    size_t nusers, cap_users;
    const atomic_uint_least64_t *io_released; /* io_worker.released (NULL: no I/O thread) */
};

/* With device 0 of mem_budget; scheduler_add_device adds the others. */
int scheduler_init(struct scheduler *s, uint64_t mem_budget, double half_life_s);
/* At start: the next device of the pool (its index returned; -1 beyond SCHED_MAX_DEVICES).
 * Device 0 exists from scheduler_init: scheduler_set_device fills it in. */
int scheduler_add_device(struct scheduler *s, uint64_t mem_budget, struct resident *resident,
                         struct device_health *health);
void scheduler_set_device(struct scheduler *s, int dev, uint64_t mem_budget, struct resident *resident,
                          struct device_health *health);
/* Any thread: a consistent copy of device dev's bookkeeping (but gpu), the number of
 * queued jobs pinned to it and of jobs started on it. */
struct sched_device_view {
    uint64_t mem_budget, mem_started, jobs_started;
    double gpu_seconds;
    int64_t running;
    unsigned queued_pins, started;
};
void scheduler_device_view(struct scheduler *s, int dev, struct sched_device_view *v);
void scheduler_destroy(struct scheduler *s); /* frees remaining jobs and messages */

/* Loop thread: hands a validated job to the scheduler (which owns it from now on). */
void scheduler_add(struct scheduler *s, struct sched_job *job);
/* Loop thread: 1 if the job was queued and is now removed (caller records cancelled),
 * 0 if it is running and was flagged (the GPU thread will end it), -1 if not active. */
int scheduler_cancel(struct scheduler *s, int64_t id);
/* Loop thread: the ids of all waiting jobs that depend on job dep (*ids malloc'd, NULL
 * when there are none); -1 when out of memory. */
int scheduler_dependents(struct scheduler *s, int64_t dep, int64_t **ids, size_t *n);
/* Either thread: the first waiting job that needs an output of job dep (waits for it, or
 * took it already and waits for another; one waiting for an identical job needs none),
 * 0 when none does. */
int64_t scheduler_first_dependent(struct scheduler *s, int64_t dep);
/* Either thread: whether a waiting job needs an output of job dep. */
bool scheduler_has_dependents(struct scheduler *s, int64_t dep);
/* Loop thread: whether the waiting job id waits for the identical job dep (identical_to). */
bool scheduler_awaits_identical(struct scheduler *s, int64_t id, int64_t dep);
/* Loop thread, before scheduler_add or scheduler_make_waiting: j waits for the identical
 * job `original` alone. */
void scheduler_job_await_identical(struct sched_job *j, int64_t original);
/* Loop thread: a waiting job's dependencies have all succeeded; its re-validated params
 * and plan replace the old ones (the scheduler takes them) and it becomes runnable.
 * Returns -1 if the job is no longer waiting in the scheduler (the caller keeps params). */
int scheduler_make_ready(struct scheduler *s, int64_t id, void *params, const struct job_plan *plan);
/* Loop thread: as scheduler_make_ready, but the waiting job waits on for the identical job
 * identical_to (its plan's one dep, scheduler_job_await_identical). */
int scheduler_make_waiting(struct scheduler *s, int64_t id, void *params, const struct job_plan *plan,
                           int64_t identical_to);
/* Any thread: copies why the scheduler last passed over job id into out ("" when it ran
 * or has not been considered yet) and whether it has started; false if not active. */
bool scheduler_reason(struct scheduler *s, int64_t id, char *out, size_t size, bool *started);
/* Number of active jobs of a user (for the queued-jobs limit). */
size_t scheduler_count_user(struct scheduler *s, uid_t uid);
void scheduler_request_stop(struct scheduler *s);

/* GPU thread of device dev: blocks until a job can get a slice there (returns it, started
 * and placed marked) or stop is requested (returns NULL). */
struct sched_job *scheduler_next(struct scheduler *s, int dev);
/* GPU thread: charges a slice's GPU seconds to the job's user (and to its split). */
void scheduler_charge(struct scheduler *s, struct sched_job *job, double seconds, double now);
/* GPU thread: the job's GPU seconds (a split job's: of all its parts). */
double scheduler_job_seconds(struct scheduler *s, const struct sched_job *job);
/* GPU thread, a part of a split job ended in `state` (counted once, whatever is asked
 * again): true when it is the last part to end (sched_split_part_ended). */
bool scheduler_part_ended(struct scheduler *s, struct sched_job *job, enum job_state state,
                          const struct dashi_error *why);
/* GPU thread: a split job's assembly buffer (sched_split.shared), allocated zeroed by the
 * first part to ask; NULL when out of memory or asked for another size. */
void *scheduler_split_shared(struct scheduler *s, struct sched_job *job, size_t bytes);
/* GPU thread: removes an ended job and frees it (params via its kind); the waiting jobs
 * that consume its outputs get its device as their affinity (a split job's: the device
 * of its last part to end, which wrote them). */
void scheduler_remove(struct scheduler *s, struct sched_job *job);
bool scheduler_stopping(struct scheduler *s);
/* Any thread: something a waiting job may need changed (the I/O thread freed staging). */
void scheduler_wake(struct scheduler *s);

/* Messages: the GPU thread posts; the loop thread takes the whole list. */
void scheduler_post(struct scheduler *s, struct job_msg *m);
struct job_msg *scheduler_take_msgs(struct scheduler *s);
void job_msg_free(struct job_msg *m);

/* Seconds since the epoch (wall clock), as stored in the database. */
double now_seconds(void);

#endif
