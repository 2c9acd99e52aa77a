/* SPDX-License-Identifier: MIT */
#include "client.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "paths.h"

/* The uid of the system daemon's user: $DASHI_DAEMON_USER, else "dashid" (packaging);
 * -1 when no such user exists. */
static long daemon_user_uid(char *name, size_t cap)
{
    const char *env = getenv("DASHI_DAEMON_USER");
    snprintf(name, cap, "%s", env && env[0] ? env : "dashid");
    struct passwd pw, *res = NULL;
    char buf[4096];
    if (getpwnam_r(name, &pw, buf, sizeof buf, &res) == 0 && res)
        return (long)res->pw_uid;
    return -1;
}

/* Whoever owns the listening socket receives our uploads and answers for our results:
 * talk only to ourselves, root or the system daemon's user (SO_PEERCRED, from the kernel). */
static int check_daemon_uid(int fd, const char *path, struct dashi_error *err)
{
    struct ucred cred;
    socklen_t len = sizeof cred;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0)
        return dashi_fail(err, DASHI_E_CONNECT, "socket", "cannot tell who listens on %s (SO_PEERCRED: %s)", path,
                          strerror(errno));
    char name[64];
    long daemon_uid = daemon_user_uid(name, sizeof name);
    if (cred.uid == getuid() || cred.uid == 0 || (daemon_uid >= 0 && cred.uid == (uid_t)daemon_uid))
        return 0;
    return dashi_fail(err, DASHI_E_CONNECT, "socket",
                      "refusing the daemon on %s: it runs as uid %u, not as you (uid %u), root or the daemon "
                      "user '%s' (DASHI_DAEMON_USER); another user may have put the socket there",
                      path, (unsigned)cred.uid, (unsigned)getuid(), name);
}

/* 0: connected to a trusted daemon; -1: nobody listens; -2: refused by check_daemon_uid. */
static int connect_trusted(struct dashi_client *c, const char *path, struct dashi_error *err)
{
    memset(c, 0, sizeof *c);
    c->fd = -1;
    frame_reader_init(&c->fr);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof a.sun_path)
        return dashi_fail(err, DASHI_E_CONNECT, "socket", "socket path too long: %s", path);
    snprintf(a.sun_path, sizeof a.sun_path, "%s", path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return dashi_fail(err, DASHI_E_CONNECT, "socket", "socket: %s", strerror(errno));
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        int e = errno;
        close(fd);
        return dashi_fail(err, DASHI_E_CONNECT, "socket", "no daemon at %s: %s", path, strerror(e));
    }
    if (check_daemon_uid(fd, path, err) != 0) {
        close(fd);
        return -2;
    }
    c->fd = fd;
    snprintf(c->socket_path, sizeof c->socket_path, "%s", path);
    return 0;
}

int client_connect(struct dashi_client *c, const char *path, struct dashi_error *err)
{
    return connect_trusted(c, path, err) == 0 ? 0 : -1;
}

void client_close(struct dashi_client *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    frame_reader_free(&c->fr);
}

/* The dashid next to this dashi binary (a build tree or an install), else PATH's. */
static void dashid_path(char *out, size_t cap)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n > 0) {
        self[n] = 0;
        char *slash = strrchr(self, '/');
        if (slash) {
            *slash = 0;
            snprintf(out, cap, "%s/dashid", self);
            if (access(out, X_OK) == 0)
                return;
        }
    }
    snprintf(out, cap, "dashid");
}

static int autostart(const char *socket_path, struct dashi_error *err)
{
    char exe[PATH_MAX + 16], state[4096];
    dashid_path(exe, sizeof exe);
    const char *env_state = getenv("DASHI_STATE_DIR");
    if (env_state && env_state[0])
        snprintf(state, sizeof state, "%s", env_state);
    else
        default_state_dir(state, sizeof state);
    fprintf(stderr, "dashi: no daemon answered; starting a per-user dashid on %s (state %s)\n", socket_path, state);
    pid_t pid = fork();
    if (pid < 0)
        return dashi_fail(err, DASHI_E_CONNECT, "", "fork: %s", strerror(errno));
    if (pid == 0) {
        execlp(exe, exe, "--socket", socket_path, "--state-dir", state, (char *)NULL);
        fprintf(stderr, "dashi: cannot run %s: %s\n", exe, strerror(errno));
        _exit(127);
    }
    /* dashid (not --foreground) exits once it listens, or with its startup error. */
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return dashi_fail(err, DASHI_E_CONNECT, "", "waitpid: %s", strerror(errno));
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return dashi_fail(err, DASHI_E_CONNECT, "", "the daemon could not start (see the message above)");
    return 0;
}

int client_open(struct dashi_client *c, bool autostart_ok, struct dashi_error *err)
{
    const char *env = getenv("DASHI_SOCKET");
    char user_sock[108];
    default_socket_path(user_sock, sizeof user_sock);
    /* A refused daemon is an answer: neither fall through to another socket nor start one over it. */
    int rc;
    if (env && env[0]) {
        if ((rc = connect_trusted(c, env, err)) != -1)
            return rc == 0 ? 0 : -1;
        if (!autostart_ok)
            return -1;
        if (autostart(env, err) != 0)
            return -1;
        return client_connect(c, env, err);
    }
    if ((rc = connect_trusted(c, DASHI_SYSTEM_SOCKET, err)) != -1 ||
        (rc = connect_trusted(c, user_sock, err)) != -1)
        return rc == 0 ? 0 : -1;
    if (!autostart_ok)
        return dashi_fail(err, DASHI_E_CONNECT, "", "no daemon answers on %s or %s (and --no-autostart was given)",
                          DASHI_SYSTEM_SOCKET, user_sock);
    if (autostart(user_sock, err) != 0)
        return -1;
    return client_connect(c, user_sock, err);
}

static int write_all(int fd, const void *buf, size_t n, struct dashi_error *err)
{
    const char *p = buf;
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return dashi_fail(err, DASHI_E_CONNECT, "", "sending to the daemon: %s", strerror(errno));
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Reads until one complete frame is available. */
static int read_frame(struct dashi_client *c, const uint8_t **payload, size_t *len, struct dashi_error *err)
{
    for (;;) {
        int r = frame_reader_next(&c->fr, payload, len, err);
        if (r != 0)
            return r > 0 ? 0 : -1;
        char buf[65536];
        ssize_t n = recv(c->fd, buf, sizeof buf, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return dashi_fail(err, DASHI_E_CONNECT, "", "the daemon closed the connection%s%s", n < 0 ? ": " : "",
                              n < 0 ? strerror(errno) : "");
        if (frame_reader_feed(&c->fr, buf, (size_t)n, err) != 0)
            return -1;
    }
}

int client_call(struct dashi_client *c, const char *op, pack_args_fn pack, void *ctx, event_fn on_event,
                void *event_ctx, msgpack_unpacked *resp, const msgpack_object **result, struct dashi_error *err)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    frame_begin(&sb);
    uint64_t id = ++c->last_id;
    pack_request_begin(&pk, id, op);
    if (pack)
        pack(&pk, ctx);
    else
        msgpack_pack_map(&pk, 0);
    frame_finish(&sb);
    int rc = write_all(c->fd, sb.data, sb.size, err);
    msgpack_sbuffer_destroy(&sb);
    if (rc != 0)
        return -1;
    for (;;) {
        const uint8_t *payload;
        size_t len;
        if (read_frame(c, &payload, &len, err) != 0)
            return -1;
        msgpack_unpacked_destroy(resp);
        msgpack_unpacked_init(resp);
        uint64_t rid;
        bool ok;
        const msgpack_object *event = NULL;
        struct dashi_error remote;
        dashi_error_clear(&remote);
        if (response_decode(payload, len, resp, &rid, &ok, result, &event, &remote, err) != 0)
            return -1;
        if (event) {
            if (rid == id && on_event && on_event(event, event_ctx) != 0)
                return dashi_fail(err, DASHI_E_CANCELLED, "", "stopped waiting");
            continue;
        }
        if (rid != id && rid != 0)
            continue; /* a late answer to an earlier request */
        if (!ok) {
            *err = remote;
            return -1;
        }
        return 0;
    }
}

const msgpack_object *map_get(const msgpack_object *map, const char *key)
{
    if (!map || map->type != MSGPACK_OBJECT_MAP)
        return NULL;
    size_t n = strlen(key);
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object *k = &map->via.map.ptr[i].key;
        if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == n && memcmp(k->via.str.ptr, key, n) == 0)
            return &map->via.map.ptr[i].val;
    }
    return NULL;
}

int64_t obj_i64(const msgpack_object *o)
{
    if (o && o->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
        return (int64_t)o->via.u64;
    if (o && o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
        return o->via.i64;
    return 0;
}

double obj_number(const msgpack_object *o, double otherwise)
{
    if (o && (o->type == MSGPACK_OBJECT_FLOAT64 || o->type == MSGPACK_OBJECT_FLOAT32))
        return o->via.f64;
    if (o && o->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
        return (double)o->via.u64;
    if (o && o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
        return (double)o->via.i64;
    return otherwise;
}

/* ---- paged replies (docs/protocol.md "Paging") ---- */

struct cursor_args {
    pack_args_fn pack;
    void *ctx;
    const char *cursor; /* NULL on the first page */
};

void pack_map_extended(msgpack_packer *pk, pack_args_fn inner, void *inner_ctx, uint32_t nextra,
                       pack_args_fn extra, void *extra_ctx)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer packer;
    msgpack_packer_init(&packer, &sb, msgpack_sbuffer_write);
    if (inner)
        inner(&packer, inner_ctx);
    else
        msgpack_pack_map(&packer, 0);
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    bool is_map = msgpack_unpack_next(&u, sb.data, sb.size, NULL) == MSGPACK_UNPACK_SUCCESS &&
                  u.data.type == MSGPACK_OBJECT_MAP;
    uint32_t n = is_map ? u.data.via.map.size : 0;
    msgpack_pack_map(pk, n + nextra);
    for (uint32_t i = 0; i < n; i++) {
        msgpack_pack_object(pk, u.data.via.map.ptr[i].key);
        msgpack_pack_object(pk, u.data.via.map.ptr[i].val);
    }
    if (nextra)
        extra(pk, extra_ctx);
    msgpack_unpacked_destroy(&u);
    msgpack_sbuffer_destroy(&sb);
}

static void pack_cursor(msgpack_packer *pk, void *ctx)
{
    pk_kv_str(pk, "cursor", ((const struct cursor_args *)ctx)->cursor);
}

/* The caller's args map, plus "cursor" after the first page. */
static void pack_with_cursor(msgpack_packer *pk, void *ctx)
{
    struct cursor_args *a = ctx;
    pack_map_extended(pk, a->pack, a->ctx, a->cursor ? 1 : 0, pack_cursor, a);
}

static bool key_is(const msgpack_object *k, const char *s)
{
    return k->type == MSGPACK_OBJECT_STR && k->via.str.size == strlen(s) && memcmp(k->via.str.ptr, s, k->via.str.size) == 0;
}

static const msgpack_object *map_get_obj(const msgpack_object *map, const msgpack_object *key)
{
    for (uint32_t i = 0; map && map->type == MSGPACK_OBJECT_MAP && i < map->via.map.size; i++)
        if (msgpack_object_equal(map->via.map.ptr[i].key, *key))
            return &map->via.map.ptr[i].val;
    return NULL;
}

/* Packs the merge of n maps, the pages in order: arrays are concatenated, maps merged
 * key by key (so metrics' series join up), other values taken from the last page;
 * "next" becomes nil, since the merged document is complete. */
static void pack_merged(msgpack_packer *pk, const msgpack_object *const *pages, size_t n)
{
    const msgpack_object *last = pages[n - 1];
    if (last->type == MSGPACK_OBJECT_ARRAY) {
        size_t total = 0;
        for (size_t p = 0; p < n; p++)
            total += pages[p]->type == MSGPACK_OBJECT_ARRAY ? pages[p]->via.array.size : 0;
        msgpack_pack_array(pk, total);
        for (size_t p = 0; p < n; p++)
            for (uint32_t i = 0; pages[p]->type == MSGPACK_OBJECT_ARRAY && i < pages[p]->via.array.size; i++)
                msgpack_pack_object(pk, pages[p]->via.array.ptr[i]);
        return;
    }
    if (last->type != MSGPACK_OBJECT_MAP) {
        msgpack_pack_object(pk, *last);
        return;
    }
    /* Keys in order of first appearance; each with the values of the pages that have it. */
    size_t nkeys = 0;
    for (size_t p = 0; p < n; p++)
        for (uint32_t i = 0; i < pages[p]->via.map.size; i++) {
            bool seen = false;
            for (size_t q = 0; q < p && !seen; q++)
                seen = map_get_obj(pages[q], &pages[p]->via.map.ptr[i].key) != NULL;
            nkeys += !seen;
        }
    msgpack_pack_map(pk, nkeys);
    const msgpack_object **vals = malloc(n * sizeof *vals);
    for (size_t p = 0; p < n; p++)
        for (uint32_t i = 0; i < pages[p]->via.map.size; i++) {
            const msgpack_object *key = &pages[p]->via.map.ptr[i].key;
            bool seen = false;
            for (size_t q = 0; q < p && !seen; q++)
                seen = map_get_obj(pages[q], key) != NULL;
            if (seen)
                continue;
            msgpack_pack_object(pk, *key);
            size_t nv = 0;
            for (size_t q = p; q < n && vals; q++) {
                const msgpack_object *v = map_get_obj(pages[q], key);
                if (v)
                    vals[nv++] = v;
            }
            if (key_is(key, "next") || !vals)
                msgpack_pack_nil(pk);
            else
                pack_merged(pk, vals, nv);
        }
    free(vals);
}

/* A page's result, copied out of the frame buffer that the next read reuses. */
struct page {
    msgpack_unpacked resp, copy;
    msgpack_sbuffer bytes;
};

static int keep_page(struct page *p, const msgpack_object *result, const msgpack_object **kept, struct dashi_error *err)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, &p->bytes, msgpack_sbuffer_write);
    msgpack_pack_object(&pk, *result);
    if (msgpack_unpack_next(&p->copy, p->bytes.data, p->bytes.size, NULL) != MSGPACK_UNPACK_SUCCESS)
        return dashi_fail(err, DASHI_E_INTERNAL, "", "cannot copy a page");
    *kept = &p->copy.data;
    return 0;
}

/* Rows of a page under key: an array (NULL when absent). */
static msgpack_object *page_rows(const msgpack_object *page, const char *key)
{
    msgpack_object *rows = key ? (msgpack_object *)map_get(page, key) : NULL;
    return rows && rows->type == MSGPACK_OBJECT_ARRAY ? rows : NULL;
}

int client_call_all(struct dashi_client *c, const char *op, pack_args_fn pack, void *ctx, const char *rows_key,
                    uint64_t max_rows, msgpack_unpacked *resp, const msgpack_object **result, struct dashi_error *err)
{
    uint64_t rows = 0;
    struct page **pages = NULL; /* each on its own: results point into them */
    const msgpack_object **results = NULL;
    size_t n = 0;
    char cursor[DASHI_MAX_STR + 1];
    struct cursor_args a = {pack, ctx, NULL};
    int rc = 0;
    for (;;) {
        struct page **p2 = realloc(pages, (n + 1) * sizeof *p2);
        if (p2)
            pages = p2;
        const msgpack_object **r2 = p2 ? realloc(results, (n + 1) * sizeof *r2) : NULL;
        if (r2)
            results = r2;
        struct page *page = r2 ? malloc(sizeof *page) : NULL;
        if (!page) {
            rc = dashi_fail(err, DASHI_E_INTERNAL, "", "out of memory");
            break;
        }
        msgpack_unpacked_init(&page->resp);
        msgpack_unpacked_init(&page->copy);
        msgpack_sbuffer_init(&page->bytes);
        pages[n++] = page;
        const msgpack_object *got;
        if ((rc = client_call(c, op, pack_with_cursor, &a, NULL, NULL, &page->resp, &got, err)) != 0 ||
            (rc = keep_page(page, got, &results[n - 1], err)) != 0)
            break;
        msgpack_object *got_rows = page_rows(results[n - 1], rows_key);
        if (max_rows && got_rows) {
            if (rows + got_rows->via.array.size > max_rows) /* our copy: trim it to what was asked */
                got_rows->via.array.size = (uint32_t)(max_rows - rows);
            rows += got_rows->via.array.size;
            if (rows >= max_rows)
                break;
        }
        const msgpack_object *next = map_get(results[n - 1], "next");
        if (results[n - 1]->type != MSGPACK_OBJECT_MAP || !next || next->type != MSGPACK_OBJECT_STR)
            break;
        snprintf(cursor, sizeof cursor, "%.*s", (int)next->via.str.size, next->via.str.ptr);
        a.cursor = cursor;
    }
    if (rc == 0) {
        msgpack_sbuffer sb;
        msgpack_sbuffer_init(&sb);
        msgpack_packer pk;
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
        pack_merged(&pk, results, n);
        size_t off = 0;
        msgpack_unpacked_destroy(resp);
        msgpack_unpacked_init(resp);
        /* The objects point into the bytes: the response's zone frees them with itself. */
        if (msgpack_unpack_next(resp, sb.data, sb.size, &off) != MSGPACK_UNPACK_SUCCESS ||
            !msgpack_zone_push_finalizer(resp->zone, free, sb.data)) {
            rc = dashi_fail(err, DASHI_E_INTERNAL, "", "cannot merge the pages of %s", op);
            msgpack_sbuffer_destroy(&sb);
        } else {
            msgpack_sbuffer_release(&sb);
        }
        *result = &resp->data;
    }
    for (size_t i = 0; i < n; i++) {
        msgpack_unpacked_destroy(&pages[i]->resp);
        msgpack_unpacked_destroy(&pages[i]->copy);
        msgpack_sbuffer_destroy(&pages[i]->bytes);
        free(pages[i]);
    }
    free(pages);
    free(results);
    return rc;
}
