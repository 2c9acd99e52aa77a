/* SPDX-License-Identifier: MIT */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <pwd.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void config_defaults(struct daemon_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    default_socket_path(cfg->socket_path, sizeof cfg->socket_path);
    default_state_dir(cfg->state_dir, sizeof cfg->state_dir);
    snprintf(cfg->device, sizeof cfg->device, "all");
    cfg->socket_mode = 0600;
    cfg->slice_ms = 50.0;
    cfg->max_upload_bytes = 16ull << 30;
    cfg->max_queued_per_user = 1000;
    cfg->usage_half_life_s = 300.0;
    cfg->checkpoint_every_s = 5.0;
    cfg->disk_reserve_bytes = 256ull << 20;
    cfg->io_staging_bytes = 512ull << 20;
    cfg->gc_upload_grace_s = 7 * 86400;
    cfg->conn = (struct conn_limits){
        .max_reply_queue_bytes = 16u << 20, /* a maximal 8 MiB frame twice over */
        .max_reply_bytes_per_uid = 64u << 20,
        .reply_queue_timeout_s = 60.0,
        .max_waits_per_connection = 1024,
        .max_connections_per_uid = 64,
        .max_inflight_bytes_per_uid = 64u << 20,
        .frame_timeout_s = 30.0,
        .idle_timeout_s = 600.0,
        .fd_reserve = 64,
    };
    cfg->limits.share = 1.0;
    slurm_config_defaults(&cfg->slurm);
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = 0;
    return s;
}

static int parse_u64(const char *v, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long x = strtoull(v, &end, 0);
    if (errno || end == v || *end || v[0] == '-')
        return -1;
    *out = x;
    return 0;
}

static int parse_positive_double(const char *v, double *out)
{
    char *end;
    double x = strtod(v, &end);
    if (end == v || *end || !isfinite(x) || x <= 0)
        return -1;
    *out = x;
    return 0;
}

/* Bytes: an integer with an optional K, M, G or T suffix (powers of 1024; "GiB" and
 * "G" alike). */
static int parse_bytes(const char *v, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long x = strtoull(v, &end, 10);
    if (errno || end == v || v[0] == '-')
        return -1;
    unsigned shift = 0;
    switch (toupper((unsigned char)*end)) {
    case 0: break;
    case 'K': shift = 10; end++; break;
    case 'M': shift = 20; end++; break;
    case 'G': shift = 30; end++; break;
    case 'T': shift = 40; end++; break;
    default: return -1;
    }
    if (shift && (strcmp(end, "iB") == 0 || strcmp(end, "B") == 0))
        end += strlen(end);
    if (*end || (shift && x > (UINT64_MAX >> shift)))
        return -1;
    *out = (uint64_t)x << shift;
    return 0;
}

static int copy_str(char *dst, size_t cap, const char *v)
{
    if (strlen(v) >= cap || v[0] == 0)
        return -1;
    memcpy(dst, v, strlen(v) + 1);
    return 0;
}

/* The entry of the user named (a login name or a decimal uid), created when new. NULL
 * with *expect set when the user does not exist or the table is full. */
static struct user_limits *user_entry(struct daemon_config *cfg, const char *name, const char **expect)
{
    uid_t uid;
    char *end;
    errno = 0;
    unsigned long n = strtoul(name, &end, 10);
    if (name[0] && !*end && !errno && name[0] != '-' && n <= 0xFFFFFFFEul) {
        uid = (uid_t)n;
    } else {
        struct passwd pw, *res = NULL;
        char buf[4096];
        if (getpwnam_r(name, &pw, buf, sizeof buf, &res) != 0 || !res) {
            *expect = "a key naming an existing user (login name or uid)";
            return NULL;
        }
        uid = res->pw_uid;
    }
    for (int i = 0; i < cfg->nusers; i++)
        if (cfg->users[i].uid == uid)
            return &cfg->users[i];
    if (cfg->nusers == CONFIG_MAX_USERS) {
        *expect = "one of at most 64 users with their own limits";
        return NULL;
    }
    struct user_limits *u = &cfg->users[cfg->nusers++];
    memset(u, 0, sizeof *u);
    u->uid = uid;
    return u;
}

/* A limit key (max_queued_jobs, max_gpu_memory, max_disk_bytes, max_steps, max_gpu_seconds) into l;
 * 1 if key is none of them. */
static int limit_set(struct user_limits *l, const char *key, const char *val, const char **expect)
{
    uint64_t u;
    uint64_t *bytes = strcmp(key, "max_gpu_memory") == 0   ? &l->max_gpu_memory
                    : strcmp(key, "max_disk_bytes") == 0 ? &l->max_disk_bytes : NULL;
    if (bytes) {
        *expect = "a number of bytes (suffix K, M, G or T allowed), 0 for no limit";
        if (parse_bytes(val, &u))
            return -1;
        *bytes = u;
        return 0;
    }
    uint64_t *dst = strcmp(key, "max_steps") == 0 ? &l->max_steps
                  : strcmp(key, "max_gpu_seconds") == 0 ? &l->max_gpu_seconds
                  : strcmp(key, "max_queued_jobs") == 0 ? &l->max_queued_jobs : NULL;
    if (!dst)
        return 1;
    *expect = "a positive integer";
    if (parse_u64(val, &u) || u == 0)
        return -1;
    *dst = u;
    return 0;
}

/* `limit.USER.KEY` and `share.USER`; 1 if key has neither form. */
static int user_key_set(struct daemon_config *cfg, const char *key, const char *val, const char **expect)
{
    char name[64];
    if (strncmp(key, "share.", 6) == 0) {
        *expect = "a user name or uid after `share.`";
        if (copy_str(name, sizeof name, key + 6) != 0)
            return -1;
        struct user_limits *u = user_entry(cfg, name, expect);
        if (!u)
            return -1;
        *expect = "a positive number (the user's weight; 1 is everyone's default)";
        return parse_positive_double(val, &u->share);
    }
    if (strncmp(key, "limit.", 6) != 0)
        return 1;
    const char *dot = strrchr(key + 6, '.');
    *expect = "a key of the form limit.USER.max_queued_jobs|max_gpu_memory|max_disk_bytes|max_steps|max_gpu_seconds";
    if (!dot || dot == key + 6 || (size_t)(dot - (key + 6)) >= sizeof name)
        return -1;
    memcpy(name, key + 6, (size_t)(dot - (key + 6)));
    name[dot - (key + 6)] = 0;
    struct user_limits probe = {0};
    if (limit_set(&probe, dot + 1, "1", expect) == 1) /* check the key before creating the entry */
        return -1;
    struct user_limits *u = user_entry(cfg, name, expect);
    if (!u)
        return -1;
    return limit_set(u, dot + 1, val, expect);
}

/* The keys of struct conn_limits: a table, since they differ only in their unit. */
enum conn_key_unit { UNIT_BYTES, UNIT_SECONDS, UNIT_COUNT };
static const struct {
    const char *key;
    enum conn_key_unit unit;
    size_t offset;
} conn_keys[] = {
    {"max_reply_queue_bytes", UNIT_BYTES, offsetof(struct conn_limits, max_reply_queue_bytes)},
    {"max_reply_bytes_per_uid", UNIT_BYTES, offsetof(struct conn_limits, max_reply_bytes_per_uid)},
    {"reply_queue_timeout_s", UNIT_SECONDS, offsetof(struct conn_limits, reply_queue_timeout_s)},
    {"max_waits_per_connection", UNIT_COUNT, offsetof(struct conn_limits, max_waits_per_connection)},
    {"max_connections_per_uid", UNIT_COUNT, offsetof(struct conn_limits, max_connections_per_uid)},
    {"max_inflight_bytes_per_uid", UNIT_BYTES, offsetof(struct conn_limits, max_inflight_bytes_per_uid)},
    {"frame_timeout_s", UNIT_SECONDS, offsetof(struct conn_limits, frame_timeout_s)},
    {"idle_timeout_s", UNIT_SECONDS, offsetof(struct conn_limits, idle_timeout_s)},
    {"fd_reserve", UNIT_COUNT, offsetof(struct conn_limits, fd_reserve)},
};

/* A key of struct conn_limits into l; 1 if key is none of them. Byte limits are at
 * least 64 KiB, so that a connection can always make progress. */
static int conn_limit_set(struct conn_limits *l, const char *key, const char *val, const char **expect)
{
    for (size_t i = 0; i < sizeof conn_keys / sizeof conn_keys[0]; i++) {
        if (strcmp(key, conn_keys[i].key) != 0)
            continue;
        char *field = (char *)l + conn_keys[i].offset;
        uint64_t u = 0;
        double seconds;
        switch (conn_keys[i].unit) {
        case UNIT_SECONDS:
            *expect = "a positive number of seconds";
            if (parse_positive_double(val, &seconds))
                return -1;
            memcpy(field, &seconds, sizeof seconds);
            return 0;
        case UNIT_BYTES:
            *expect = "a number of bytes of at least 64K (suffix K, M, G or T allowed)";
            if (parse_bytes(val, &u) || u < (64u << 10))
                return -1;
            break;
        case UNIT_COUNT:
            *expect = "a positive integer";
            if (parse_u64(val, &u) || u == 0)
                return -1;
            break;
        }
        memcpy(field, &u, sizeof u);
        return 0;
    }
    return 1;
}

/* One `key = value` assignment; -1 with a message naming what is expected. */
static int config_set(struct daemon_config *cfg, const char *key, const char *val, const char **expect)
{
    uint64_t u;
    if (strcmp(key, "socket") == 0) {
        *expect = "an absolute path shorter than 108 bytes";
        return val[0] == '/' ? copy_str(cfg->socket_path, sizeof cfg->socket_path, val) : -1;
    }
    if (strcmp(key, "socket_mode") == 0) {
        *expect = "an octal mode such as 0660";
        if (val[0] != '0' || parse_u64(val, &u) || u > 0777)
            return -1;
        cfg->socket_mode = (unsigned)u;
        return 0;
    }
    if (strcmp(key, "state_dir") == 0) {
        *expect = "an absolute path";
        return val[0] == '/' ? copy_str(cfg->state_dir, sizeof cfg->state_dir, val) : -1;
    }
    if (strcmp(key, "devices") == 0 || strcmp(key, "device") == 0) { /* device: a list of one, kept working */
        *expect = "all, or a comma-separated list of auto, lavapipe, device indexes or names";
        return copy_str(cfg->device, sizeof cfg->device, val);
    }
    if (strcmp(key, "slice_ms") == 0) {
        *expect = "a positive number of milliseconds";
        return parse_positive_double(val, &cfg->slice_ms);
    }
    if (strcmp(key, "usage_half_life_s") == 0) {
        *expect = "a positive number of seconds";
        return parse_positive_double(val, &cfg->usage_half_life_s);
    }
    if (strcmp(key, "max_upload_bytes") == 0) {
        *expect = "a positive integer";
        if (parse_u64(val, &u) || u == 0)
            return -1;
        cfg->max_upload_bytes = u;
        return 0;
    }
    if (strcmp(key, "max_queued_per_user") == 0 || strcmp(key, "max_queued_jobs") == 0) {
        *expect = "a positive integer";
        if (parse_u64(val, &u) || u == 0)
            return -1;
        cfg->max_queued_per_user = u;
        return 0;
    }
    if (strcmp(key, "device_memory_budget") == 0) {
        *expect = "a number of bytes (suffix K, M, G or T allowed), 0 for the device's own budget";
        return parse_bytes(val, &cfg->device_memory_budget);
    }
    if (strcmp(key, "resident_bytes") == 0) {
        *expect = "a number of bytes (suffix K, M, G or T allowed), 0 to keep no results on the device";
        cfg->resident_bytes_set = true;
        return parse_bytes(val, &cfg->resident_bytes);
    }
    if (strcmp(key, "disk_reserve_bytes") == 0) {
        *expect = "a number of bytes (suffix K, M, G or T allowed), 0 for no reserve";
        return parse_bytes(val, &cfg->disk_reserve_bytes);
    }
    if (strcmp(key, "io_staging_bytes") == 0) {
        *expect = "a positive number of bytes (suffix K, M, G or T allowed)";
        return parse_bytes(val, &cfg->io_staging_bytes) || cfg->io_staging_bytes == 0 ? -1 : 0;
    }
    if (strcmp(key, "hash_threads") == 0) {
        *expect = "a whole number of threads from 0 (the online CPUs, at most 8) to 64";
        return parse_u64(val, &cfg->hash_threads) || cfg->hash_threads > 64 ? -1 : 0;
    }
    if (strcmp(key, "gc_upload_grace_s") == 0) {
        *expect = "a whole number of seconds, 0 or more";
        return parse_u64(val, &cfg->gc_upload_grace_s);
    }
    if (strcmp(key, "checkpoint_every_s") == 0) {
        *expect = "a positive number of seconds";
        return parse_positive_double(val, &cfg->checkpoint_every_s);
    }
    int rc = conn_limit_set(&cfg->conn, key, val, expect);
    if (rc != 1)
        return rc;
    rc = slurm_config_set(&cfg->slurm, key, val, expect);
    if (rc != 1)
        return rc;
    rc = limit_set(&cfg->limits, key, val, expect);
    if (rc != 1)
        return rc;
    rc = user_key_set(cfg, key, val, expect);
    if (rc != 1)
        return rc;
    *expect = NULL;
    return -1;
}

struct user_limits config_user_limits(const struct daemon_config *cfg, uid_t uid)
{
    struct user_limits l = cfg->limits;
    l.uid = uid;
    l.max_queued_jobs = cfg->max_queued_per_user;
    if (l.share <= 0)
        l.share = 1.0;
    for (int i = 0; i < cfg->nusers; i++) {
        const struct user_limits *u = &cfg->users[i];
        if (u->uid != uid)
            continue;
        if (u->max_queued_jobs)
            l.max_queued_jobs = u->max_queued_jobs;
        if (u->max_gpu_memory)
            l.max_gpu_memory = u->max_gpu_memory;
        if (u->max_disk_bytes)
            l.max_disk_bytes = u->max_disk_bytes;
        if (u->max_steps)
            l.max_steps = u->max_steps;
        if (u->max_gpu_seconds)
            l.max_gpu_seconds = u->max_gpu_seconds;
        if (u->share > 0)
            l.share = u->share;
    }
    return l;
}

int config_load_file(struct daemon_config *cfg, const char *path, struct dashi_error *err)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return dashi_fail(err, DASHI_E_IO, "config", "cannot open config file %s: %s", path, strerror(errno));
    char line[8192];
    int lineno = 0, rc = 0;
    while (rc == 0 && fgets(line, sizeof line, f)) {
        lineno++;
        char *hash = strchr(line, '#');
        if (hash)
            *hash = 0;
        char *s = trim(line);
        if (!*s)
            continue;
        char *eq = strchr(s, '=');
        if (!eq) {
            rc = dashi_fail(err, DASHI_E_BAD_VALUE, "config", "%s:%d: expected `key = value`", path, lineno);
            break;
        }
        *eq = 0;
        char *key = trim(s), *val = trim(eq + 1);
        const char *expect = NULL;
        if (config_set(cfg, key, val, &expect) != 0) {
            if (expect)
                rc = dashi_fail(err, DASHI_E_BAD_VALUE, "config", "%s:%d: %s must be %s, got '%s'", path, lineno,
                                key, expect, val);
            else
                rc = dashi_fail(err, DASHI_E_UNKNOWN_FIELD, "config", "%s:%d: unknown key '%s'", path, lineno, key);
        }
    }
    if (rc == 0 && ferror(f))
        rc = dashi_fail(err, DASHI_E_IO, "config", "error reading %s", path);
    fclose(f);
    if (rc == 0)
        snprintf(cfg->config_path, sizeof cfg->config_path, "%s", path);
    return rc;
}
