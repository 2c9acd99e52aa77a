/* SPDX-License-Identifier: MIT */
/* dashid: the DASHI GPU daemon's entry: options, the background start, then the daemon
 * (lifecycle.c) serving the ops (ops.c). See docs/cli.md (the dashid section). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lifecycle.h"
#include "ops.h"
#include "run_one.h"
#include "runtime_dir.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: dashid [--socket PATH] [--state-dir DIR] [--devices all|LIST]\n"
               "              [--foreground] [--config FILE] [--list-devices] [--version]\n"
               "              [--describe-params markdown]\n"
               "       dashid --run SPEC.msgpack --bundle DIR [--inputs DIR] [--index K] [--device D]\n"
               "              [--config FILE]\n");
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
            printf("dashid %s (protocol %d)\n", DASHID_VERSION, DASHI_PROTO_VERSION);
            exit(0);
        } else if (strcmp(a, "--describe-params") == 0 && v && strcmp(v, "markdown") == 0) {
            job_kinds_params_markdown(stdout); /* the generated tables of docs/protocol.md */
            exit(0);
        } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            exit(0);
        } else if (v && (strcmp(a, "--socket") == 0 || strcmp(a, "--state-dir") == 0 || strcmp(a, "--device") == 0 ||
                         strcmp(a, "--devices") == 0 || strcmp(a, "--config") == 0)) {
            if (strcmp(a, "--devices") == 0)
                a = "--device"; /* the same list (docs/cli.md) */
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
    if (run_one_wanted(argc, argv))
        return run_one_main(argc, argv); /* one job on a private daemon, then its bundle */
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
    char msg[4400];
    if (runtime_dir_prepare(d->cfg.state_dir, "state_dir", &err) != 0) {
        snprintf(msg, sizeof msg, "state directory: %s", err.message);
        report_ready(&ready_fd, msg);
        fprintf(stderr, "dashid: %s\n", msg);
        free(d);
        return 1;
    }
    if (!d->cfg.foreground)
        redirect_output(d->cfg.state_dir);
    int exit_code = 1;
    if (daemon_start(d, &ops_conn_handlers, &err) == 0) {
        fprintf(stderr, "dashid: listening on %s (state %s)\n", d->cfg.socket_path, d->cfg.state_dir);
        report_ready(&ready_fd, NULL);
        daemon_run(d);
        exit_code = 0;
        fprintf(stderr, "dashid: stopped\n");
    } else {
        snprintf(msg, sizeof msg, "%s: %s", dashi_code_name(err.code), err.message);
        fprintf(stderr, "dashid: %s\n", msg);
        report_ready(&ready_fd, msg);
    }
    daemon_close(d);
    free(d);
    return exit_code;
}
