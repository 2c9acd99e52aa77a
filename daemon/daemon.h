/* SPDX-License-Identifier: MIT */
/* The daemon's context: everything dashid owns, in one struct, passed to the parts above
 * it (docs/architecture.md "Layers"). Only the state of the parts below it is embedded
 * here (config, store, blobs, devices, scheduler, connection budget), so none of
 * those includes this header; its start and stop are lifecycle.h.
 * Thread ownership: the loop thread owns the socket, connections, the store and the
 * scheduler's bookkeeping under its mutex; each device's GPU thread owns its Vulkan
 * runtime and the states of the jobs placed on it after startup (gpu_device.h); the I/O
 * thread owns the writers handed to it (io_worker.h). Immutable after startup: cfg,
 * rollout_tuning, ndev, the devices' descriptive fields. */
#ifndef DASHI_DAEMON_H
#define DASHI_DAEMON_H

#include <stdatomic.h>
#include <stdbool.h>
#include <uv.h>

#include "blobstore.h"
#include "config.h"
#include "conn_budget.h"
#include "device_health.h"
#include "gpu_device.h"
#include "io_worker.h"
#include "resident.h"
#include "rollout_tuning.h"
#include "scheduler.h"
#include "store.h"
#include "vk.h"
#include "wire.h"

#define DASHID_VERSION DASHI_RELEASE

struct conn;
struct conn_handlers;
struct upload_slot;
struct fsck_run;
struct gc_run;
struct slurm_state;

/* What daemon_close must close (lifecycle.c). */
struct daemon_opened {
    bool store, blobs, sched, loop, io;
};

struct daemon {
    struct daemon_config cfg;
    uv_loop_t loop;
    uv_pipe_t server;
    bool server_open;
    uv_signal_t sig_term, sig_int;
    uv_signal_t sig_fault; /* SIGUSR1 arms DASHI_VK_FAULT's usr1 rules (only when it is set) */
    bool sig_fault_open;
    uv_async_t wake; /* the GPU threads post results, then wake the loop */
    struct store store;
    struct blobstore blobs;
    /* The pool (config devices, device_pool.h): dev[0..ndev) opened, each with its GPU thread. */
    struct gpu_device dev[GPU_MAX_DEVICES];
    int ndev;
    atomic_int gpu_threads_running; /* the last to exit asks the I/O thread to exit */
    char device_failures[1024];     /* the devices named that could not open, for ping ("" none) */
    struct rollout_tuning rollout_tuning; /* DASHI_ROLLOUT_*, read once at start (immutable) */
    struct scheduler sched;
    struct io_worker io; /* the I/O thread: streamed outputs are written there (io_worker.h) */
    const struct conn_handlers *handlers; /* what the server hands requests to (server.h) */
    struct conn *conns; /* list of open connections */
    struct conn_budget conn_budget; /* what they hold, per uid; descriptor headroom */
    uv_timer_t conn_sweep; /* their time limits (conn_sweep.c) */
    bool conn_sweep_open;
    bool stopping;
    double started_at;
    uint64_t last_upload_id; /* upload ids, unique for the daemon's life */
    struct fsck_run *fsck;   /* the fsck in progress (ops_fsck.c), NULL when none */
    struct gc_run *gc;       /* the gc in progress (ops_gc.c), NULL when none */
    struct slurm_state *slurm; /* the Slurm executor's jobs and commands (slurm_track.h) */
    bool reserve_released;   /* disk.c: the reserve file was deleted to record a job's state */
    /* Ends of jobs that could not be recorded (disk full, database error): retried by
     * record_retry until they are; their waiters were told (results.c). */
    struct job_msg *unrecorded;
    uv_timer_t record_retry;
    struct daemon_opened opened;
};

#endif
