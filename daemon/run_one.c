/* SPDX-License-Identifier: MIT */
/* dashid --run (run_one.h). The private daemon is a child process of the same binary, so
 * the job runs exactly as it would in a catalogue; this file only drives it: a small
 * synchronous client (submit, wait) over the private socket, and the dashi client for
 * the bundle (the client writes bundles: docs/storage.md "Bundles"). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fs_tree.h"
#include "run_one.h"
#include "wire.h"

extern char **environ;

#define RUN_SPEC_MAX (16u << 20)
#define RUN_START_TIMEOUT_S 120

struct run {
    const char *spec_path, *bundle, *device, *config, *inputs;
    long index;                 /* the sweep element (-1: the spec is one job) */
    char work[PATH_MAX - 64];   /* DIR.run-PID: the private state and socket */
    char socket[PATH_MAX], state[PATH_MAX], self[PATH_MAX];
    pid_t daemon;
    int sigfd;                  /* SIGTERM and SIGINT, read in the wait */
    int fd;                     /* the connection to the private daemon */
    struct frame_reader fr;
    msgpack_sbuffer spec_bytes;
    msgpack_unpacked spec;
    bool interrupted;           /* a SIGTERM came */
};

int run_one_wanted(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--run") == 0)
            return 1;
    return 0;
}

static int parse(int argc, char **argv, struct run *r)
{
    const char *idx = getenv("SLURM_ARRAY_TASK_ID");
    r->index = -1;
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *a = argv[i], *v = argv[i + 1];
        if (strcmp(a, "--run") == 0)
            r->spec_path = v;
        else if (strcmp(a, "--bundle") == 0)
            r->bundle = v;
        else if (strcmp(a, "--device") == 0)
            r->device = v;
        else if (strcmp(a, "--config") == 0)
            r->config = v;
        else if (strcmp(a, "--inputs") == 0)
            r->inputs = v;
        else if (strcmp(a, "--index") == 0)
            idx = v;
        else
            return -1;
    }
    if (!r->spec_path || !r->bundle || (argc - 1) % 2 != 0)
        return -1;
    if (idx) {
        char *end;
        errno = 0;
        r->index = strtol(idx, &end, 10);
        if (errno || *end || r->index < 0)
            return -1;
    }
    return 0;
}

static int fail_msg(const char *what, const char *detail)
{
    fprintf(stderr, "dashid --run: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
    return -1;
}

static int read_spec(struct run *r)
{
    FILE *f = fopen(r->spec_path, "rb");
    if (!f)
        return fail_msg(r->spec_path, strerror(errno));
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0 && r->spec_bytes.size <= RUN_SPEC_MAX)
        msgpack_sbuffer_write(&r->spec_bytes, buf, n);
    fclose(f);
    struct dashi_error err;
    if (r->spec_bytes.size == 0 || r->spec_bytes.size > RUN_SPEC_MAX ||
        msg_check((const uint8_t *)r->spec_bytes.data, r->spec_bytes.size, &err) != 0 ||
        msgpack_unpack_next(&r->spec, r->spec_bytes.data, r->spec_bytes.size, NULL) != MSGPACK_UNPACK_SUCCESS ||
        r->spec.data.type != MSGPACK_OBJECT_MAP)
        return fail_msg(r->spec_path, "not one msgpack map of at most 16 MiB (a submit's arguments)");
    return 0;
}

/* ---- the private daemon ---- */

static int start_daemon(struct run *r)
{
    const char *argv[12];
    int n = 0;
    argv[n++] = r->self;
    argv[n++] = "--foreground";
    argv[n++] = "--socket";
    argv[n++] = r->socket;
    argv[n++] = "--state-dir";
    argv[n++] = r->state;
    if (r->device) {
        argv[n++] = "--device";
        argv[n++] = r->device;
    }
    if (r->config) {
        argv[n++] = "--config";
        argv[n++] = r->config;
    }
    argv[n] = NULL;
    posix_spawnattr_t attr;
    sigset_t none;
    sigemptyset(&none);
    posix_spawnattr_init(&attr);
    posix_spawnattr_setsigmask(&attr, &none); /* ours blocks SIGTERM for the signalfd */
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
    int rc = posix_spawn(&r->daemon, r->self, NULL, &attr, (char *const *)argv, environ);
    posix_spawnattr_destroy(&attr);
    if (rc != 0)
        return fail_msg("cannot start the private daemon", strerror(rc));
    return 0;
}

static int stop_daemon(struct run *r)
{
    int status = 0;
    if (r->daemon <= 0)
        return 0;
    kill(r->daemon, SIGTERM);
    while (waitpid(r->daemon, &status, 0) < 0 && errno == EINTR)
        ;
    r->daemon = 0;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

static int connect_daemon(struct run *r)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    if (strlen(r->socket) >= sizeof a.sun_path)
        return fail_msg(r->socket, "socket path too long");
    memcpy(a.sun_path, r->socket, strlen(r->socket) + 1);
    for (int tries = 0; tries < RUN_START_TIMEOUT_S * 10; tries++) {
        int status;
        if (waitpid(r->daemon, &status, WNOHANG) == r->daemon) {
            r->daemon = 0;
            return fail_msg("the private daemon exited during startup", NULL);
        }
        r->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (r->fd < 0)
            return fail_msg("socket", strerror(errno));
        if (connect(r->fd, (struct sockaddr *)&a, sizeof a) == 0)
            return 0;
        close(r->fd);
        r->fd = -1;
        struct timespec ts = {0, 100000000};
        nanosleep(&ts, NULL);
    }
    return fail_msg("the private daemon did not listen", r->socket);
}

/* ---- a synchronous client ---- */

static int send_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

typedef void (*pack_fn)(msgpack_packer *pk, const struct run *r, int64_t id);

static int request(struct run *r, const char *op, pack_fn pack, int64_t id)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    frame_begin(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    pack_request_begin(&pk, 1, op);
    pack(&pk, r, id);
    frame_finish(&sb);
    int rc = send_all(r->fd, sb.data, sb.size);
    msgpack_sbuffer_destroy(&sb);
    return rc;
}

/* The next answer (events skipped): its job id and state. 1 when SIGTERM came first. */
static int answer(struct run *r, int64_t *id, char *state, size_t cap, struct dashi_error *remote)
{
    for (;;) {
        const uint8_t *p;
        size_t n;
        struct dashi_error err;
        int got = frame_reader_next(&r->fr, &p, &n, &err);
        if (got < 0)
            return fail_msg("a bad frame from the private daemon", err.message);
        if (got == 1) {
            msgpack_unpacked u;
            msgpack_unpacked_init(&u);
            uint64_t rid;
            bool ok;
            const msgpack_object *result = NULL, *event = NULL;
            int rc = response_decode(p, n, &u, &rid, &ok, &result, &event, remote, &err);
            if (rc == 0 && !event && ok && result) {
                arg_i64(result, "id", false, 0, 0, INT64_MAX, id, &err);
                arg_str(result, "state", false, "", state, cap, &err);
            }
            msgpack_unpacked_destroy(&u);
            if (rc != 0)
                return fail_msg("a bad answer from the private daemon", err.message);
            if (event)
                continue;
            return ok ? 0 : -1;
        }
        struct pollfd pf[2] = {{.fd = r->fd, .events = POLLIN}, {.fd = r->sigfd, .events = POLLIN}};
        if (poll(pf, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            return fail_msg("poll", strerror(errno));
        }
        if (pf[1].revents & POLLIN) {
            struct signalfd_siginfo si;
            if (read(r->sigfd, &si, sizeof si) == sizeof si)
                return 1;
        }
        if (pf[0].revents & (POLLIN | POLLHUP | POLLERR)) {
            char buf[65536];
            ssize_t k = recv(r->fd, buf, sizeof buf, 0);
            if (k <= 0)
                return fail_msg("the private daemon closed the connection", NULL);
            if (frame_reader_feed(&r->fr, buf, (size_t)k, &err) != 0)
                return fail_msg("out of memory", NULL);
        }
    }
}

static const msgpack_object *spec_get(const struct run *r, const char *key)
{
    return args_find(&r->spec.data, key);
}

/* The K-th run of a sweep spec's Cartesian product, the first parameter varying slowest
 * (as the sweep op orders its runs). */
static const msgpack_object *vary_value(const struct run *r, const msgpack_object *vary, uint32_t param)
{
    long k = r->index;
    for (uint32_t p = vary->via.map.size; p-- > param + 1;)
        k /= (long)vary->via.map.ptr[p].val.via.array.size;
    const msgpack_object *values = &vary->via.map.ptr[param].val;
    return &values->via.array.ptr[k % (long)values->via.array.size];
}

/* submit's arguments: the spec as it is, or with args made for the sweep element. */
static void pack_submit(msgpack_packer *pk, const struct run *r, int64_t unused)
{
    (void)unused;
    const msgpack_object *spec = &r->spec.data, *vary = spec_get(r, "vary"), *args = spec_get(r, "args");
    if (!vary || r->index < 0) {
        msgpack_pack_object(pk, *spec);
        return;
    }
    uint32_t n = 0; /* the spec's entries but vary and args */
    for (uint32_t i = 0; i < spec->via.map.size; i++)
        n += &spec->via.map.ptr[i].val != vary && &spec->via.map.ptr[i].val != args;
    msgpack_pack_map(pk, n + 1);
    for (uint32_t i = 0; i < spec->via.map.size; i++) {
        const msgpack_object *v = &spec->via.map.ptr[i].val;
        if (v == vary || v == args)
            continue;
        msgpack_pack_object(pk, spec->via.map.ptr[i].key);
        msgpack_pack_object(pk, *v);
    }
    pk_key(pk, "args");
    uint32_t nargs = args && args->type == MSGPACK_OBJECT_MAP ? args->via.map.size : 0;
    msgpack_pack_map(pk, nargs + vary->via.map.size);
    for (uint32_t i = 0; i < nargs; i++) {
        msgpack_pack_object(pk, args->via.map.ptr[i].key);
        msgpack_pack_object(pk, args->via.map.ptr[i].val);
    }
    for (uint32_t p = 0; p < vary->via.map.size; p++) {
        msgpack_pack_object(pk, vary->via.map.ptr[p].key);
        msgpack_pack_object(pk, *vary_value(r, vary, p));
    }
}

static int check_vary(const struct run *r)
{
    const msgpack_object *vary = spec_get(r, "vary");
    if (!vary)
        return 0;
    long runs = 1;
    if (vary->type != MSGPACK_OBJECT_MAP || r->index < 0)
        return fail_msg(r->spec_path, "a sweep spec (vary) needs --index K or SLURM_ARRAY_TASK_ID");
    for (uint32_t p = 0; p < vary->via.map.size; p++) {
        const msgpack_object *v = &vary->via.map.ptr[p].val;
        if (v->type != MSGPACK_OBJECT_ARRAY || v->via.array.size == 0 || runs > 1000000)
            return fail_msg(r->spec_path, "vary maps each parameter to a non-empty array of values");
        runs *= (long)v->via.array.size;
    }
    if (r->index >= runs)
        return fail_msg(r->spec_path, "the index is past the sweep's last run");
    return 0;
}

static void pack_id(msgpack_packer *pk, const struct run *r, int64_t id)
{
    (void)r;
    msgpack_pack_map(pk, 1);
    pk_kv_i64(pk, "id", id);
}

/* ---- the bundle ---- */

/* The dashi client: $DASHI_CLIENT, else the dashi beside this dashid, else dashi on PATH. */
static void client_path(const struct run *r, char *out, size_t cap)
{
    const char *env = getenv("DASHI_CLIENT");
    if (env && *env) {
        snprintf(out, cap, "%s", env);
        return;
    }
    const char *slash = strrchr(r->self, '/');
    int dir = slash ? (int)(slash - r->self) : 0;
    if (snprintf(out, cap, "%.*s/dashi", dir, r->self) >= (int)cap || access(out, X_OK) != 0)
        snprintf(out, cap, "dashi");
}

/* Runs the dashi client on the private socket with the words given; 0 when it exits 0. */
static int run_client(const struct run *r, const char *const *words, size_t nwords)
{
    char dashi[PATH_MAX];
    const char *argv[16] = {dashi, "--no-autostart", "--socket", r->socket};
    client_path(r, dashi, sizeof dashi);
    for (size_t i = 0; i < nwords && i < 11; i++)
        argv[4 + i] = words[i];
    pid_t pid;
    int status = 0, rc = posix_spawnp(&pid, dashi, NULL, NULL, (char *const *)argv, environ);
    if (rc != 0)
        return fail_msg("cannot run the dashi client", strerror(rc));
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : fail_msg("the dashi client failed", words[0]);
}

static int export_bundle(const struct run *r, int64_t id)
{
    char idtext[24];
    snprintf(idtext, sizeof idtext, "%lld", (long long)id);
    const char *words[] = {"export", "--bundle", r->bundle, idtext};
    return run_client(r, words, 4);
}

/* Uploads each HASH.npy of the inputs directory (a catalogue's content-addressed inputs);
 * a file whose address is not its name is not found by the submit that names it. */
static int upload_inputs(const struct run *r)
{
    if (!r->inputs)
        return 0;
    DIR *dir = opendir(r->inputs);
    if (!dir)
        return fail_msg(r->inputs, strerror(errno));
    struct dirent *e;
    int rc = 0;
    while (rc == 0 && (e = readdir(dir)) != NULL) {
        size_t n = strlen(e->d_name);
        if (n != DASHI_HASH_HEX + 4 || strcmp(e->d_name + DASHI_HASH_HEX, ".npy") != 0)
            continue;
        char path[PATH_MAX];
        if (snprintf(path, sizeof path, "%s/%s", r->inputs, e->d_name) >= (int)sizeof path)
            continue;
        const char *words[] = {"put", path};
        rc = run_client(r, words, 2);
    }
    closedir(dir);
    return rc;
}


/* ---- the run ---- */

static bool signal_came(const struct run *r)
{
    struct pollfd pf = {.fd = r->sigfd, .events = POLLIN};
    return poll(&pf, 1, 1000) == 1;
}

/* Submits, waits (a SIGTERM stops the private daemon, which interrupts the job with its
 * checkpoint, and starts it again on the same state to export), then exports. */
static int run_job(struct run *r, char *state, size_t cap)
{
    int64_t id = 0;
    struct dashi_error remote;
    if (request(r, "submit", pack_submit, 0) != 0)
        return fail_msg("cannot send the spec", strerror(errno));
    int rc = answer(r, &id, state, cap, &remote);
    if (rc != 0 || id <= 0)
        return fail_msg("the spec was refused", rc < 0 ? remote.message : "interrupted before it was queued");
    if (request(r, "wait", pack_id, id) != 0)
        return fail_msg("cannot wait", strerror(errno));
    int64_t ended;
    rc = answer(r, &ended, state, cap, &remote);
    /* Slurm signals the whole step: the private daemon may stop (and answer or hang up)
     * before this process reads its own SIGTERM. */
    if (rc == 1 || (rc != 0 && signal_came(r)) || strcmp(state, "interrupted") == 0) {
        r->interrupted = true;
        close(r->fd);
        r->fd = -1;
        if (stop_daemon(r) != 0 || start_daemon(r) != 0 || connect_daemon(r) != 0)
            return fail_msg("cannot restart the private daemon after SIGTERM", NULL);
        snprintf(state, cap, "interrupted");
    } else if (rc != 0) {
        return fail_msg("waiting for the job", remote.message);
    }
    fprintf(stderr, "dashid --run: job %lld %s\n", (long long)id, state);
    return export_bundle(r, id);
}

static int prepare(struct run *r, int argc, char **argv)
{
    ssize_t n = readlink("/proc/self/exe", r->self, sizeof r->self - 1);
    if (n <= 0)
        return fail_msg("/proc/self/exe", strerror(errno));
    r->self[n] = 0;
    if (parse(argc, argv, r) != 0) {
        fprintf(stderr, "usage: dashid --run SPEC.msgpack --bundle DIR [--inputs DIR] [--index K] [--device D]\n"
                        "                    [--config FILE]\n");
        return RUN_EXIT_USAGE;
    }
    if (access(r->bundle, F_OK) == 0)
        return fail_msg(r->bundle, "exists: the bundle is written into a new directory");
    if (snprintf(r->work, sizeof r->work, "%s.run-%ld", r->bundle, (long)getpid()) >= (int)sizeof r->work)
        return fail_msg(r->bundle, "path too long");
    snprintf(r->socket, sizeof r->socket, "%s/dashid.sock", r->work);
    snprintf(r->state, sizeof r->state, "%s/state", r->work);
    if (mkdir(r->work, 0700) != 0)
        return fail_msg(r->work, strerror(errno));
    sigset_t term;
    sigemptyset(&term);
    sigaddset(&term, SIGTERM);
    sigaddset(&term, SIGINT);
    if (sigprocmask(SIG_BLOCK, &term, NULL) != 0 || (r->sigfd = signalfd(-1, &term, SFD_CLOEXEC)) < 0)
        return fail_msg("signalfd", strerror(errno));
    return read_spec(r) || check_vary(r) || start_daemon(r) || connect_daemon(r) || upload_inputs(r) ? -1 : 0;
}

int run_one_main(int argc, char **argv)
{
    struct run r = {.fd = -1, .sigfd = -1};
    frame_reader_init(&r.fr);
    msgpack_sbuffer_init(&r.spec_bytes);
    msgpack_unpacked_init(&r.spec);
    char state[16] = "";
    int rc = prepare(&r, argc, argv);
    if (rc == 0)
        rc = run_job(&r, state, sizeof state);
    if (r.fd >= 0)
        close(r.fd);
    if (stop_daemon(&r) != 0)
        fprintf(stderr, "dashid --run: the private daemon did not stop cleanly\n");
    if (r.sigfd >= 0)
        close(r.sigfd);
    if (r.work[0] && rc != RUN_EXIT_USAGE)
        fs_remove_tree(r.work);
    frame_reader_free(&r.fr);
    msgpack_unpacked_destroy(&r.spec);
    msgpack_sbuffer_destroy(&r.spec_bytes);
    if (rc == RUN_EXIT_USAGE)
        return rc;
    if (rc != 0)
        return RUN_EXIT_NO_BUNDLE;
    if (strcmp(state, "succeeded") == 0)
        return RUN_EXIT_SUCCEEDED;
    return strcmp(state, "interrupted") == 0 ? RUN_EXIT_INTERRUPTED : RUN_EXIT_FAILED;
}
