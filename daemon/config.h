/* SPDX-License-Identifier: MIT */
/* dashid's configuration: command line over config file over defaults. */
#ifndef DASHI_CONFIG_H
#define DASHI_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "errors.h"
#include "paths.h"
#include "slurm_config.h"

/* Per-user limits and fair-share weight. A limit of 0 means "no limit" in the defaults
 * and "as the defaults" in a user's entry; a share of 0 likewise means "as the default". */
struct user_limits {
    uid_t uid;                /* resolved from the name (or number) in the config file */
    uint64_t max_queued_jobs; /* active (queued, waiting or running) jobs */
    uint64_t max_gpu_memory;  /* device bytes of the user's active jobs' estimates together */
    uint64_t max_steps;       /* steps of one job */
    uint64_t max_gpu_seconds; /* GPU seconds one job may use before it is stopped */
    uint64_t max_disk_bytes;  /* bytes of blobs the user owns (quota.c), outputs of active jobs included */
    double share;             /* fair-share weight: usage is divided by it */
};

#define CONFIG_MAX_USERS 64

/* What one client may make the daemon hold (docs/protocol.md "Limits"): each is a
 * config key of the same name. Defaults in config_defaults. */
struct conn_limits {
    uint64_t max_reply_queue_bytes;      /* reply bytes queued on one connection before it is paused */
    uint64_t max_reply_bytes_per_uid;    /* the same, over all connections of one uid */
    double reply_queue_timeout_s;        /* a connection paused this long is dropped */
    uint64_t max_waits_per_connection;   /* `wait` requests pending on one connection */
    uint64_t max_connections_per_uid;
    uint64_t max_inflight_bytes_per_uid; /* received bytes not yet handled, over a uid's connections */
    double frame_timeout_s;              /* a started frame must be complete within this */
    double idle_timeout_s;               /* a connection owed nothing and silent this long is closed */
    uint64_t fd_reserve;                 /* descriptors kept free for the store, blobs and jobs */
};

struct daemon_config {
    char socket_path[108];    /* sun_path limit */
    unsigned socket_mode;     /* permission bits of the socket file (0600 per-user, 0660 system) */
    char state_dir[4096];
    char device[128];         /* keys devices/device: "all" | list of "auto" | "lavapipe" | index | name substring */
    bool foreground;
    double slice_ms;          /* target GPU time of one slice */
    uint64_t max_upload_bytes;
    uint64_t max_queued_per_user; /* = limits.max_queued_jobs (both keys set it) */
    double usage_half_life_s; /* decay of per-user GPU usage for fair share */
    uint64_t device_memory_budget; /* caps the device's budget (0: the device's own) */
    double checkpoint_every_s;     /* shortest wall time between two checkpoints of a job */
    uint64_t io_staging_bytes;     /* host memory of the I/O thread's staging buffers (io_worker.h) */
    uint64_t hash_threads;         /* threads hashing blob chunks (0: the online CPUs, at most 8) */
    uint64_t gc_upload_grace_s;      /* gc keeps an unreferenced upload this long after it was stored */
    uint64_t resident_bytes;       /* device bytes of results kept for their consumers (0: none) */
    bool resident_bytes_set;       /* false: resident_default_budget of the device budget */
    uint64_t disk_reserve_bytes;   /* free bytes on the state file system that no blob may take */
    struct conn_limits conn;       /* per-connection and per-uid limits of the socket server */
    struct slurm_config slurm;     /* the Slurm executor (slurm_config.h) */
    struct user_limits limits;     /* defaults for every user (uid unused) */
    struct user_limits users[CONFIG_MAX_USERS]; /* `limit.USER.KEY` / `share.USER` entries */
    int nusers;
    char config_path[4096];   /* empty when none */
};

/* Defaults: socket and state under the per-user locations (docs/cli.md, "dashi"). */
void config_defaults(struct daemon_config *cfg);
/* Reads `key = value` lines (# comments). Unknown keys and bad values are errors naming
 * the key and line (field "config"). */
int config_load_file(struct daemon_config *cfg, const char *path, struct dashi_error *err);
/* The limits and share that apply to uid: its entry over the defaults (share 1 unless set). */
struct user_limits config_user_limits(const struct daemon_config *cfg, uid_t uid);

#endif
