/* dashid: the DASHI GPU daemon. See docs/cli.md (dashid section). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon.h"
#include "disk.h"
#include "fft_vkfft.h"
#include "ops.h"
#include "gpu_worker.h"
#include "runtime_dir.h"
#include "server.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: dashid [--socket PATH] [--state-dir DIR] [--device auto|lavapipe|INDEX|NAME]\n"
               "              [--foreground] [--config FILE] [--list-devices] [--version]\n");
}

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

/* Tests arm DASHI_VK_FAULT's usr1 rules at the moment they choose (docs/cli.md). */
static void on_fault_signal(uv_signal_t *h, int signum)
{
    (void)signum;
    struct daemon *d = h->data;
    bool armed = vk_fault_arm(&d->vk.fault);
    fprintf(stderr, "dashid: SIGUSR1: %s\n", armed ? "fault injection armed" : "no usr1 rule in DASHI_VK_FAULT");
}

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
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = store_job_set_state(st, ids[i], JOB_INTERRUPTED, now_seconds(), &why, err);
    if (n)
        fprintf(stderr, "dashid: %zu job(s) left running by a previous daemon marked interrupted\n", n);
    free(ids);
    return rc;
}

static int parse_args(int argc, char **argv, struct daemon_config *cfg, bool *list_devices)
{
    /* The config file is read first so the command line overrides it. */
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
            struct dashi_error err;
            if (config_load_file(cfg, argv[i + 1], &err) != 0) {
                fprintf(stderr, "dashid: %s\n", err.message);
                return -1;
            }
        }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--foreground") == 0) {
            cfg->foreground = true;
        } else if (strcmp(a, "--list-devices") == 0) {
            *list_devices = true;
        } else if (strcmp(a, "--version") == 0) {
            printf("dashid %s (protocol %d)\n", DASHID_VERSION, 1);
            exit(0);
        } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            exit(0);
        } else if (v && (strcmp(a, "--socket") == 0 || strcmp(a, "--state-dir") == 0 || strcmp(a, "--device") == 0 ||
                         strcmp(a, "--config") == 0)) {
            size_t cap = strcmp(a, "--socket") == 0 ? sizeof cfg->socket_path
                         : strcmp(a, "--device") == 0 ? sizeof cfg->device : sizeof cfg->state_dir;
            char *dst = strcmp(a, "--socket") == 0 ? cfg->socket_path
                        : strcmp(a, "--device") == 0 ? cfg->device
                        : strcmp(a, "--state-dir") == 0 ? cfg->state_dir : NULL;
            if (dst) {
                if (strlen(v) >= cap || v[0] == 0) {
                    fprintf(stderr, "dashid: %s: value too long or empty\n", a);
                    return -1;
                }
                memcpy(dst, v, strlen(v) + 1);
            }
            i++;
        } else {
            fprintf(stderr, "dashid: unknown or incomplete option '%s'\n", a);
            usage(stderr);
            return -1;
        }
    }
    return 0;
}

/* Background mode: the parent returns only once the child listens (exit 0) or failed
 * (its message, exit 1), so `dashi` can autostart a daemon and use it at once. */
static int daemonize(int *ready_fd)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0)
        return -1;
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid > 0) {
        close(p[1]);
        char buf[512];
        ssize_t n, total = 0;
        while ((n = read(p[0], buf + total, sizeof buf - 1 - (size_t)total)) > 0)
            total += n;
        buf[total > 0 ? total : 0] = 0;
        if (total == 1 && buf[0] == 'R')
            _exit(0);
        fprintf(stderr, "dashid: %s\n", total > 0 ? buf : "the daemon exited during startup");
        _exit(1);
    }
    close(p[0]);
    setsid();
    *ready_fd = p[1];
    return 0;
}

static void report_ready(int *ready_fd, const char *error)
{
    if (*ready_fd < 0)
        return;
    const char *msg = error ? error : "R";
    ssize_t w = write(*ready_fd, msg, strlen(msg));
    (void)w; /* the parent reads what it can; nothing else to do if it is gone */
    close(*ready_fd);
    *ready_fd = -1;
}

static int redirect_output(const char *state_dir)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/dashid.log", state_dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (fd < 0 || devnull < 0)
        return -1;
    dup2(devnull, 0);
    dup2(fd, 1);
    dup2(fd, 2);
    close(fd);
    close(devnull);
    return 0;
}

int main(int argc, char **argv)
{
    struct daemon *d = calloc(1, sizeof *d);
    if (!d)
        return 1;
    config_defaults(&d->cfg);
    bool list_devices = false;
    if (parse_args(argc, argv, &d->cfg, &list_devices) != 0) {
        free(d);
        return 2;
    }
    struct dashi_error err;
    dashi_error_clear(&err);
    if (list_devices) {
        char buf[4096];
        int rc = vk_list_devices(buf, sizeof buf, &err);
        if (rc == 0)
            fputs(buf, stdout);
        else
            fprintf(stderr, "dashid: %s\n", err.message);
        free(d);
        return rc == 0 ? 0 : 1;
    }

    int ready_fd = -1;
    if (!d->cfg.foreground && daemonize(&ready_fd) != 0) {
        fprintf(stderr, "dashid: cannot start in the background: %s\n", strerror(errno));
        free(d);
        return 1;
    }
    int exit_code = 1;
    char msg[4400];
    d->started_at = now_seconds();
    if (runtime_dir_prepare(d->cfg.state_dir, "state_dir", &err) != 0) {
        snprintf(msg, sizeof msg, "state directory: %s", err.message);
        report_ready(&ready_fd, msg);
        fprintf(stderr, "dashid: %s\n", msg);
        free(d);
        return 1;
    }
    if (!d->cfg.foreground)
        redirect_output(d->cfg.state_dir);
    conn_budget_raise_nofile(d);

    char dbpath[4200];
    snprintf(dbpath, sizeof dbpath, "%s/dashid.db", d->cfg.state_dir);
    bool store_ok = false, vk_ok = false, sched_ok = false, loop_ok = false, health_ok = false;
    if (store_open(&d->store, dbpath, &err) != 0)
        goto fail;
    store_ok = true;
    if (mark_interrupted(&d->store, &err) != 0 || blobstore_open(&d->blobs, d->cfg.state_dir, &err) != 0)
        goto fail;
    d->blobs.reserve_bytes = d->cfg.disk_reserve_bytes;
    disk_reserve_make(d);
    if (device_health_init(&d->health) != 0) {
        dashi_fail(&err, DASHI_E_INTERNAL, "", "cannot initialise a mutex");
        goto fail;
    }
    health_ok = true;
    if (vk_runtime_open(&d->vk, d->cfg.device, d->cfg.state_dir, &err) != 0)
        goto fail;
    vk_ok = true;
    if (d->vk.fault.enabled)
        fprintf(stderr, "dashid: fault injection: DASHI_VK_FAULT=%s\n", d->vk.fault.spec);
    if (d->cfg.device_memory_budget && d->cfg.device_memory_budget < d->vk.memory_budget)
        d->vk.memory_budget = d->cfg.device_memory_budget; /* leave the rest to others on the device */
    if (fft_cache_create(&d->vk, &d->fft, &err) != 0)
        goto fail;
    fprintf(stderr, "dashid %s: device %s (%s %s)%s\n", DASHID_VERSION, d->vk.device_name, d->vk.driver_name,
            d->vk.driver_info, d->vk.is_cpu ? " - a CPU implementation of Vulkan: no GPU in use" : "");
    if (scheduler_init(&d->sched, d->vk.memory_budget, d->cfg.usage_half_life_s) != 0) {
        dashi_fail(&err, DASHI_E_INTERNAL, "", "cannot initialise the scheduler");
        goto fail;
    }
    sched_ok = true;
    d->sched.cfg = &d->cfg;
    if (jobs_requeue(d, &err) != 0)
        goto fail;
    if (uv_loop_init(&d->loop) != 0) {
        dashi_fail(&err, DASHI_E_INTERNAL, "", "cannot initialise the event loop");
        goto fail;
    }
    loop_ok = true;
    uv_async_init(&d->loop, &d->wake, results_on_wake);
    d->wake.data = d;
    uv_timer_init(&d->loop, &d->record_retry);
    d->record_retry.data = d;
    uv_signal_init(&d->loop, &d->sig_term);
    uv_signal_init(&d->loop, &d->sig_int);
    d->sig_term.data = d->sig_int.data = d;
    uv_signal_start(&d->sig_term, on_signal, SIGTERM);
    uv_signal_start(&d->sig_int, on_signal, SIGINT);
    if (d->vk.fault.enabled) {
        uv_signal_init(&d->loop, &d->sig_fault);
        d->sig_fault.data = d;
        uv_signal_start(&d->sig_fault, on_fault_signal, SIGUSR1);
        d->sig_fault_open = true;
    }
    signal(SIGPIPE, SIG_IGN);
    if (server_start(d, &err) != 0) {
        /* Tear the loop down cleanly: nothing runs yet. */
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
        uv_run(&d->loop, UV_RUN_DEFAULT);
        goto fail;
    }
    if (conn_budget_start(d, &err) != 0) {
        daemon_begin_stop(d, "startup failure");
        goto fail; /* unreachable in practice: a timer cannot fail to start */
    }
    if (uv_thread_create(&d->gpu_thread, gpu_worker_main, d) != 0) {
        dashi_fail(&err, DASHI_E_INTERNAL, "", "cannot start the GPU thread");
        daemon_begin_stop(d, "startup failure");
        goto fail; /* unreachable in practice; the loop is not run */
    }
    d->gpu_thread_started = true;
    fprintf(stderr, "dashid: listening on %s (state %s)\n", d->cfg.socket_path, d->cfg.state_dir);
    report_ready(&ready_fd, NULL);
    uv_run(&d->loop, UV_RUN_DEFAULT);
    exit_code = 0;
    fprintf(stderr, "dashid: stopped\n");
    goto cleanup;

fail:
    snprintf(msg, sizeof msg, "%s: %s", dashi_code_name(err.code), err.message);
    fprintf(stderr, "dashid: %s\n", msg);
    report_ready(&ready_fd, msg);
cleanup:
    if (loop_ok && uv_loop_close(&d->loop) != 0)
        fprintf(stderr, "dashid: event loop closed with handles still open\n");
    if (sched_ok)
        scheduler_destroy(&d->sched);
    fft_cache_destroy(d->fft); /* before the runtime its plans live on */
    if (vk_ok)
        vk_runtime_close(&d->vk);
    if (store_ok)
        store_close(&d->store);
    if (health_ok)
        device_health_destroy(&d->health);
    free(d);
    return exit_code;
}
