/* SPDX-License-Identifier: MIT */
/* The daemon's start and stop (lifecycle.h). Start opens, in order: the store (jobs left
 * running by a previous daemon are marked interrupted), the blobs and the disk reserve,
 * the devices (device_pool.c), the scheduler with the jobs still queued, the loop with its
 * handles, the socket, the I/O thread and a GPU thread per device. Stop is orderly: daemon_begin_stop closes
 * the socket and tells the GPU thread; it interrupts the jobs it ran and asks the I/O
 * thread to exit, which drains what is queued (the writes in flight are written, the
 * ends recorded) and reports the exit; then the waiters are answered, the connections
 * closed and the loop ends. */
#include "lifecycle.h"

#include <stdio.h>
#include <stdlib.h>

#include "conn_sweep.h"
#include "device_pool.h"
#include "disk.h"
#include "fft_vkfft.h"
#include "gc.h"
#include "gpu_worker.h"
#include "jobs.h"
#include "num/blob_tree.h"
#include "num/residual_channel.h"
#include "results.h"
#include "server.h"
#include "slurm_track.h"
#include "store_origin.h"
#include "store_readdress.h"
#include "waiters.h"

void daemon_begin_stop(struct daemon *d, const char *why)
{
    if (d->stopping)
        return;
    d->stopping = true;
    fprintf(stderr, "dashid: stopping (%s)\n", why);
    server_stop_listening(d);
    scheduler_request_stop(&d->sched);
    if (d->sig_fault_open) { /* no fault to arm once stopping; the loop must be able to end */
        d->sig_fault_open = false;
        uv_close((uv_handle_t *)&d->sig_fault, NULL);
    }
}

static void on_signal(uv_signal_t *h, int signum)
{
    daemon_begin_stop(h->data, signum == SIGTERM ? "SIGTERM" : "SIGINT");
}

/* Tests arm DASHI_VK_FAULT's usr1 rules at the moment they choose (docs/cli.md), on the
 * devices it applies to (DASHI_VK_FAULT_DEVICE). */
static void on_fault_signal(uv_signal_t *h, int signum)
{
    (void)signum;
    struct daemon *d = h->data;
    bool armed = false;
    for (int k = 0; k < d->ndev; k++)
        armed = vk_fault_arm(&d->dev[k].vk.fault) || armed;
    fprintf(stderr, "dashid: SIGUSR1: %s\n", armed ? "fault injection armed" : "no usr1 rule in DASHI_VK_FAULT");
}

/* Closes the loop's handles still open (the listening socket without removing its file:
 * after a failed start it may be another daemon's). */
static void close_handles(struct daemon *d)
{
    slurm_track_stop(d);
    uv_close((uv_handle_t *)&d->wake, NULL);
    uv_close((uv_handle_t *)&d->record_retry, NULL);
    uv_close((uv_handle_t *)&d->sig_term, NULL);
    uv_close((uv_handle_t *)&d->sig_int, NULL);
    if (d->sig_fault_open) {
        d->sig_fault_open = false;
        uv_close((uv_handle_t *)&d->sig_fault, NULL);
    }
    if (d->server_open) {
        d->server_open = false;
        uv_close((uv_handle_t *)&d->server, NULL);
    }
}

/* The GPU threads have exited: they ended the jobs they ran; jobs still queued stay
 * queued in the database for the next start. */
static void finish_stop(struct daemon *d)
{
    for (int k = 0; k < d->ndev; k++) {
        if (d->dev[k].thread_started)
            uv_thread_join(&d->dev[k].thread);
        d->dev[k].thread_started = false;
    }
    io_worker_join(&d->io);
    waiters_daemon_stopped(d);
    conn_sweep_stop(d);
    server_close_all(d);
    results_last_try(d);
    close_handles(d);
}

/* The GPU and I/O threads posted messages: each is recorded (results.c); their exit
 * (posted by the I/O thread after the GPU thread's last end is written) ends the loop. */
static void on_wake(uv_async_t *h)
{
    struct daemon *d = h->data;
    struct job_msg *m = scheduler_take_msgs(&d->sched);
    bool worker_exited = false;
    while (m) {
        struct job_msg *next = m->next;
        if (m->type == MSG_WORKER_EXIT)
            worker_exited = true;
        else if (results_apply(d, m)) { /* kept to be recorded later */
            m = next;
            continue;
        }
        job_msg_free(m);
        m = next;
    }
    if (worker_exited)
        finish_stop(d);
}

/* ---- start ---- */

/* Jobs that were running when a previous daemon died are interrupted, never re-run silently. */
static int mark_interrupted(struct store *st, struct dashi_error *err)
{
    int64_t *ids;
    size_t n;
    if (store_jobs_in_state(st, JOB_RUNNING, &ids, &n, err) != 0)
        return -1;
    struct dashi_error why;
    dashi_fail(&why, DASHI_E_INTERRUPTED, "", "the daemon stopped while the job ran");
    int rc = 0;
    size_t marked = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        int elsewhere = store_job_runs_elsewhere(st, ids[i], err); /* Slurm's go on: slurm_track follows them */
        if (elsewhere < 0)
            rc = -1;
        else if (elsewhere == 0 && (rc = store_job_set_state(st, ids[i], JOB_INTERRUPTED, now_seconds(), &why, err)) == 0)
            marked++;
    }
    if (marked)
        fprintf(stderr, "dashid: %zu job(s) left running by a previous daemon marked interrupted\n", marked);
    free(ids);
    return rc;
}

static int open_storage(struct daemon *d, struct dashi_error *err)
{
    char dbpath[4200];
    snprintf(dbpath, sizeof dbpath, "%s/dashid.db", d->cfg.state_dir);
    if (store_open(&d->store, dbpath, err) != 0)
        return -1;
    d->opened.store = true;
    if (mark_interrupted(&d->store, err) != 0 || blobstore_open(&d->blobs, d->cfg.state_dir, err) != 0 ||
        blobstore_start_hashing(&d->blobs, blob_tree_threads((int)d->cfg.hash_threads), err) != 0)
        return -1;
    d->opened.blobs = true;
    uint64_t moved;
    if (store_readdress(&d->store, &d->blobs, getenv("DASHI_MIGRATE_FAULT"), &moved, err) != 0)
        return -1;
    if (moved)
        fprintf(stderr, "dashid: migration 006: %llu blob(s) re-addressed by the chunk tree (old names still resolve)\n",
                (unsigned long long)moved);
    struct gc_scope g = {&d->store, &d->blobs, d->cfg.gc_upload_grace_s, now_seconds()};
    struct gc_tally partials = {0, 0};
    if (gc_partials(&g, true, &partials, err) != 0)
        return -1;
    if (partials.count)
        fprintf(stderr, "dashid: removed %llu partial file(s) of jobs that will not continue (%llu bytes)\n",
                (unsigned long long)partials.count, (unsigned long long)partials.bytes);
    d->blobs.reserve_bytes = d->cfg.disk_reserve_bytes;
    disk_reserve_make(d);
    return 0;
}

static bool any_fault_injection(const struct daemon *d)
{
    for (int k = 0; k < d->ndev; k++)
        if (d->dev[k].vk.fault.enabled)
            return true;
    return false;
}

static int open_scheduler(struct daemon *d, struct dashi_error *err)
{
    if (scheduler_init(&d->sched, d->dev[0].vk.memory_budget, d->cfg.usage_half_life_s) != 0)
        return dashi_fail(err, DASHI_E_INTERNAL, "", "cannot initialise the scheduler");
    d->opened.sched = true;
    scheduler_set_device(&d->sched, 0, d->dev[0].vk.memory_budget, &d->dev[0].resident, &d->dev[0].health);
    for (int k = 1; k < d->ndev; k++)
        (void)scheduler_add_device(&d->sched, d->dev[k].vk.memory_budget, &d->dev[k].resident, &d->dev[k].health);
    d->sched.cfg = &d->cfg;
    /* Read once here, like DASHI_VK_FAULT: nothing reads the environment while jobs run. */
    if (io_worker_init(&d->io, d->cfg.io_staging_bytes, getenv("DASHI_IO_FAULT"), &d->sched, &d->wake, &d->blobs,
                       err) != 0)
        return -1;
    d->opened.io = true;
    d->sched.io_released = &d->io.released;
    if (d->io.delay_ms)
        fprintf(stderr, "dashid: fault injection: DASHI_IO_FAULT=delay_ms:%u\n", d->io.delay_ms);
    /* Staging in host-visible memory the GPU copies into: of one device only, so with
     * several the pool is host memory (a kind then copies once more). */
    d->io.vk = d->ndev == 1 ? &d->dev[0].vk : NULL;
    return jobs_requeue(d, err);
}

static int open_loop(struct daemon *d, struct dashi_error *err)
{
    if (uv_loop_init(&d->loop) != 0)
        return dashi_fail(err, DASHI_E_INTERNAL, "", "cannot initialise the event loop");
    d->opened.loop = true;
    uv_async_init(&d->loop, &d->wake, on_wake);
    d->wake.data = d;
    uv_timer_init(&d->loop, &d->record_retry);
    d->record_retry.data = d;
    uv_signal_init(&d->loop, &d->sig_term);
    uv_signal_init(&d->loop, &d->sig_int);
    d->sig_term.data = d->sig_int.data = d;
    uv_signal_start(&d->sig_term, on_signal, SIGTERM);
    uv_signal_start(&d->sig_int, on_signal, SIGINT);
    if (any_fault_injection(d)) {
        uv_signal_init(&d->loop, &d->sig_fault);
        d->sig_fault.data = d;
        uv_signal_start(&d->sig_fault, on_fault_signal, SIGUSR1);
        d->sig_fault_open = true;
    }
    signal(SIGPIPE, SIG_IGN);
    return slurm_track_start(d, err);
}

static int start_serving(struct daemon *d, const struct conn_handlers *handlers, struct dashi_error *err)
{
    if (server_start(d, handlers, err) != 0) {
        close_handles(d); /* tear the loop down cleanly: nothing runs yet */
        uv_run(&d->loop, UV_RUN_DEFAULT);
        return -1;
    }
    conn_budget_count_base(&d->conn_budget, d->cfg.conn.fd_reserve);
    if (conn_sweep_start(d, err) != 0) {
        daemon_begin_stop(d, "startup failure");
        return -1; /* unreachable in practice: a timer cannot fail to start */
    }
    if (io_worker_start(&d->io) != 0) {
        daemon_begin_stop(d, "startup failure");
        return dashi_fail(err, DASHI_E_INTERNAL, "", "cannot start the I/O thread"); /* unreachable in practice */
    }
    atomic_store(&d->gpu_threads_running, d->ndev);
    for (int k = 0; k < d->ndev; k++) {
        if (uv_thread_create(&d->dev[k].thread, gpu_worker_main, &d->dev[k]) != 0) {
            daemon_begin_stop(d, "startup failure");
            /* the threads not started count as exited: the last one's exit report ends the loop */
            if (atomic_fetch_sub(&d->gpu_threads_running, d->ndev - k) == d->ndev - k)
                io_worker_request_exit(&d->io);
            return dashi_fail(err, DASHI_E_INTERNAL, "", "cannot start a GPU thread"); /* unreachable in practice */
        }
        d->dev[k].thread_started = true;
    }
    return 0;
}

int daemon_start(struct daemon *d, const struct conn_handlers *handlers, struct dashi_error *err)
{
    d->started_at = now_seconds();
    rollout_tuning_from_env(&d->rollout_tuning); /* after main's redirect: its warnings are logged */
    conn_budget_raise_nofile(&d->conn_budget, d->cfg.conn.fd_reserve);
    residual_channel_process_init(); /* before the GPU threads: each may create one */
    if (open_storage(d, err) != 0 || device_pool_open(d, err) != 0 || open_scheduler(d, err) != 0 ||
        open_loop(d, err) != 0 || start_serving(d, handlers, err) != 0)
        return -1;
    return 0;
}

void daemon_run(struct daemon *d)
{
    uv_run(&d->loop, UV_RUN_DEFAULT);
}

void daemon_close(struct daemon *d)
{
    if (d->opened.loop && uv_loop_close(&d->loop) != 0)
        fprintf(stderr, "dashid: event loop closed with handles still open\n");
    if (d->opened.io)
        io_worker_destroy(&d->io);
    if (d->opened.sched)
        scheduler_destroy(&d->sched);
    device_pool_close(d);
    residual_channel_process_done(); /* the GPU threads have ended */
    if (d->opened.blobs)
        blobstore_close(&d->blobs);
    if (d->opened.store)
        store_close(&d->store);
    d->opened = (struct daemon_opened){0};
}
