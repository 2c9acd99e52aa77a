/* SPDX-License-Identifier: MIT */
#include "acct.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "output.h"

int acct_parse_since(const char *s, double now, double *out, struct dashi_error *err)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end != s && !errno && v >= 0 && s[0] != '-') {
        static const struct { char unit; double seconds; } units[] = {{'s', 1}, {'m', 60}, {'h', 3600}, {'d', 86400}};
        if (*end == 0) {
            *out = v;
            return 0;
        }
        for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
            if (end[0] == units[i].unit && end[1] == 0) {
                *out = now - v * units[i].seconds;
                return 0;
            }
    }
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    static const char *const formats[] = {"%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M",
                                          "%Y-%m-%d %H:%M", "%Y-%m-%d", NULL};
    for (int i = 0; formats[i]; i++) {
        memset(&tm, 0, sizeof tm);
        const char *rest = strptime(s, formats[i], &tm);
        if (rest && *rest == 0) {
            tm.tm_isdst = -1;
            time_t t = mktime(&tm);
            if (t == (time_t)-1)
                break;
            *out = (double)t;
            return 0;
        }
    }
    return dashi_fail(err, DASHI_E_BAD_VALUE, "since",
                      "--since must be Unix seconds, a duration such as 2h or 7d, or a date such as 2024-05-01 or "
                      "2024-05-01T14:30; got '%s'", s);
}

struct acct_args {
    const char *user;
    double since;
    bool has_since;
};

static void pack_acct(msgpack_packer *pk, void *ctx)
{
    const struct acct_args *a = ctx;
    msgpack_pack_map(pk, (a->user ? 1 : 0) + (a->has_since ? 1 : 0));
    if (a->user)
        pk_kv_str(pk, "user", a->user);
    if (a->has_since)
        pk_kv_f64(pk, "since", a->since);
}

static uint64_t u64_of(const msgpack_object *o)
{
    return o && o->type == MSGPACK_OBJECT_POSITIVE_INTEGER ? o->via.u64 : 0;
}

static double f64_of(const msgpack_object *o)
{
    return o && o->type == MSGPACK_OBJECT_FLOAT64 ? o->via.f64 : (double)u64_of(o);
}

static int str_len(const msgpack_object *o) { return o && o->type == MSGPACK_OBJECT_STR ? (int)o->via.str.size : 0; }
static const char *str_ptr(const msgpack_object *o) { return o && o->type == MSGPACK_OBJECT_STR ? o->via.str.ptr : ""; }

/* Each user's GPU seconds per device of the pool, one line each (none: no table). */
static void print_devices(const msgpack_object *users)
{
    bool header = false;
    for (uint32_t i = 0; users && users->type == MSGPACK_OBJECT_ARRAY && i < users->via.array.size; i++) {
        const msgpack_object *u = &users->via.array.ptr[i], *name = map_get(u, "user");
        const msgpack_object *devs = map_get(u, "devices");
        for (uint32_t k = 0; devs && devs->type == MSGPACK_OBJECT_ARRAY && k < devs->via.array.size; k++) {
            const msgpack_object *dv = &devs->via.array.ptr[k];
            if (!header)
                printf("\n%-12s %6s %12s  %s\n", "USER", "DEVICE", "GPU_SECONDS", "NAME");
            header = true;
            const msgpack_object *dn = map_get(dv, "name");
            printf("%-12.*s %6llu %12.3f  %.*s\n", str_len(name), str_ptr(name),
                   (unsigned long long)u64_of(map_get(dv, "index")), f64_of(map_get(dv, "gpu_seconds")), str_len(dn),
                   str_ptr(dn));
        }
    }
}

static void print_table(const msgpack_object *result)
{
    static const char *const states[] = {"queued", "running", "succeeded", "failed", "cancelled", "interrupted"};
    printf("%-12s %7s %6s %7s %8s %10s %7s %10s %12s %12s %14s %14s\n", "USER", "UID", "JOBS", "QUEUED", "RUNNING",
           "SUCCEEDED", "FAILED", "CANCELLED", "INTERRUPTED", "GPU_SECONDS", "OUTPUT_BYTES", "UPLOAD_BYTES");
    const msgpack_object *users = map_get(result, "users");
    for (uint32_t i = 0; users && users->type == MSGPACK_OBJECT_ARRAY && i < users->via.array.size; i++) {
        const msgpack_object *u = &users->via.array.ptr[i];
        const msgpack_object *name = map_get(u, "user"), *st = map_get(u, "states"), *gs = map_get(u, "gpu_seconds");
        uint64_t n[6];
        for (int s = 0; s < 6; s++)
            n[s] = u64_of(map_get(st, states[s]));
        double secs = f64_of(gs);
        printf("%-12.*s %7llu %6llu %7llu %8llu %10llu %7llu %10llu %12llu %12.3f %14llu %14llu\n",
               str_len(name), str_ptr(name),
               (unsigned long long)u64_of(map_get(u, "uid")), (unsigned long long)u64_of(map_get(u, "jobs")),
               (unsigned long long)n[0], (unsigned long long)n[1], (unsigned long long)n[2],
               (unsigned long long)n[3], (unsigned long long)n[4], (unsigned long long)n[5], secs,
               (unsigned long long)u64_of(map_get(u, "output_bytes")),
               (unsigned long long)u64_of(map_get(u, "upload_bytes")));
    }
    print_devices(users);
}

int acct_run(struct dashi_client *c, bool json, const char *user, const char *since, struct dashi_error *err)
{
    struct acct_args a = {.user = user && *user ? user : NULL};
    if (since) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        if (acct_parse_since(since, (double)ts.tv_sec + ts.tv_nsec * 1e-9, &a.since, err) != 0)
            return -1;
        a.has_since = true;
    }
    msgpack_unpacked resp;
    msgpack_unpacked_init(&resp);
    const msgpack_object *result;
    if (client_call(c, "acct", pack_acct, &a, NULL, NULL, &resp, &result, err) != 0) {
        msgpack_unpacked_destroy(&resp);
        return -1;
    }
    if (json)
        print_json(result);
    else
        print_table(result);
    msgpack_unpacked_destroy(&resp);
    return 0;
}
