/* SPDX-License-Identifier: MIT */
/* acct: per-user accounting over the jobs table, like sacct: jobs by state and GPU
 * seconds, for jobs submitted since a time, and of those seconds the share of each device
 * of the pool (job_devices), and the bytes each user's jobs and uploads hold in the store
 * now (store_user_bytes). Private jobs of other users count only for
 * root's view, as they are listed only to their owner and root. */
#include <pwd.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "ops.h"
#include "store_gc.h"

struct acct_user {
    int64_t uid;
    char user[64];
    uint64_t by_state[JOB_STATE_COUNT];
    uint64_t jobs;
    double gpu_seconds;
    uint64_t output_bytes, upload_bytes; /* store_user_bytes */
};

/* A user's GPU seconds on one device of the pool. */
struct acct_device {
    int64_t uid;
    int index;
    char name[128];
    double gpu_seconds;
};

#define ACCT_MAX_USERS 4096 /* also the largest array one frame may carry */

/* A login name or a decimal uid. */
static int resolve_user(const char *user, int64_t *uid, struct dashi_error *err)
{
    char *end;
    unsigned long u = strtoul(user, &end, 10);
    if (*end == 0 && user[0] != '-') {
        *uid = (int64_t)u;
        return 0;
    }
    struct passwd pw, *res = NULL;
    char buf[4096];
    if (getpwnam_r(user, &pw, buf, sizeof buf, &res) != 0 || !res)
        return dashi_fail(err, DASHI_E_NOT_FOUND, "user", "no user '%s'", user);
    *uid = res->pw_uid;
    return 0;
}

/* A query over the jobs acct counts: ?1 since, ?2 the user (-1: all), ?3 the viewer (whose
 * private jobs count; 0: root sees all). */
static int acct_prepare(sqlite3 *db, const char *sql, int64_t uid, double since, uid_t viewer, sqlite3_stmt **st,
                        struct dashi_error *err)
{
    if (sqlite3_prepare_v2(db, sql, -1, st, NULL) != SQLITE_OK)
        return dashi_fail(err, DASHI_E_DB, "", "acct: %s", sqlite3_errmsg(db));
    sqlite3_bind_double(*st, 1, since);
    sqlite3_bind_int64(*st, 2, uid);
    sqlite3_bind_int64(*st, 3, viewer);
    return 0;
}

static int acct_query(sqlite3 *db, int64_t uid, double since, uid_t viewer, struct acct_user *users, size_t *n,
                      struct dashi_error *err)
{
    static const char sql[] =
        "SELECT uid, MAX(user), state, COUNT(*), TOTAL(gpu_seconds) FROM jobs "
        "WHERE submitted_at >= ?1 AND (?2 < 0 OR uid = ?2) AND (private = 0 OR uid = ?3 OR ?3 = 0) "
        "GROUP BY uid, state ORDER BY uid";
    sqlite3_stmt *st;
    if (acct_prepare(db, sql, uid, since, viewer, &st, err) != 0)
        return -1;
    int rc;
    *n = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t u = sqlite3_column_int64(st, 0);
        if (*n == 0 || users[*n - 1].uid != u) {
            if (*n == ACCT_MAX_USERS)
                break;
            struct acct_user *a = &users[(*n)++];
            memset(a, 0, sizeof *a);
            a->uid = u;
            const unsigned char *name = sqlite3_column_text(st, 1);
            snprintf(a->user, sizeof a->user, "%s", name ? (const char *)name : "");
        }
        struct acct_user *a = &users[*n - 1];
        const unsigned char *state = sqlite3_column_text(st, 2);
        int s = job_state_from_name(state ? (const char *)state : "");
        uint64_t count = (uint64_t)sqlite3_column_int64(st, 3);
        if (s >= 0)
            a->by_state[s] += count;
        a->jobs += count;
        a->gpu_seconds += sqlite3_column_double(st, 4);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return dashi_fail(err, DASHI_E_DB, "", "acct: %s", sqlite3_errmsg(db));
    return 0;
}

/* The users' GPU seconds per device, over the same jobs as acct_query (jobs that ran
 * before the pool was recorded, or elsewhere, have no devices: their seconds count only
 * in the users' totals). */
static int acct_devices(sqlite3 *db, int64_t uid, double since, uid_t viewer, struct acct_device *devs, size_t *n,
                        struct dashi_error *err)
{
    static const char sql[] =
        "SELECT j.uid, d.device, MAX(d.name), TOTAL(d.gpu_seconds) FROM job_devices d JOIN jobs j ON j.id = d.job "
        "WHERE j.submitted_at >= ?1 AND (?2 < 0 OR j.uid = ?2) AND (j.private = 0 OR j.uid = ?3 OR ?3 = 0) "
        "GROUP BY j.uid, d.device ORDER BY j.uid, d.device";
    sqlite3_stmt *st;
    if (acct_prepare(db, sql, uid, since, viewer, &st, err) != 0)
        return -1;
    int rc;
    *n = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW && *n < ACCT_MAX_USERS) {
        struct acct_device *a = &devs[(*n)++];
        a->uid = sqlite3_column_int64(st, 0);
        a->index = sqlite3_column_int(st, 1);
        const unsigned char *name = sqlite3_column_text(st, 2);
        snprintf(a->name, sizeof a->name, "%s", name ? (const char *)name : "");
        a->gpu_seconds = sqlite3_column_double(st, 3);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW)
        return dashi_fail(err, DASHI_E_DB, "", "acct: %s", sqlite3_errmsg(db));
    return 0;
}

/* The devices of user uid (devs is sorted by user). */
static void pack_user_devices(msgpack_packer *pk, const struct acct_device *devs, size_t n, int64_t uid)
{
    size_t first = 0, count = 0;
    while (first < n && devs[first].uid != uid)
        first++;
    while (first + count < n && devs[first + count].uid == uid)
        count++;
    pk_key(pk, "devices");
    msgpack_pack_array(pk, count);
    for (size_t k = first; k < first + count; k++) {
        msgpack_pack_map(pk, 3);
        pk_kv_i64(pk, "index", devs[k].index);
        pk_kv_str(pk, "name", devs[k].name);
        pk_kv_f64(pk, "gpu_seconds", devs[k].gpu_seconds);
    }
}

int op_acct(struct conn *c, const struct request *req, msgpack_packer *pk, struct dashi_error *err)
{
    static const char *const allowed[] = {"user", "since", NULL};
    char user[64];
    double since;
    int64_t uid = -1;
    if (args_only(req->args, allowed, err) || arg_str(req->args, "user", false, "", user, sizeof user, err) ||
        arg_f64(req->args, "since", false, 0, 0, 1e12, &since, err))
        return -1;
    if (user[0] && resolve_user(user, &uid, err) != 0)
        return -1;
    struct acct_user *users = malloc(ACCT_MAX_USERS * sizeof *users);
    struct acct_device *devs = malloc(ACCT_MAX_USERS * sizeof *devs);
    size_t n = 0, ndevs = 0;
    int rc = users && devs ? 0 : dashi_fail(err, DASHI_E_INTERNAL, "", "out of memory");
    if (rc == 0)
        rc = acct_query(c->d->store.db, uid, since, c->uid, users, &n, err) ||
             acct_devices(c->d->store.db, uid, since, c->uid, devs, &ndevs, err);
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = store_user_bytes(&c->d->store, users[i].uid, &users[i].output_bytes, &users[i].upload_bytes, err);
    if (rc != 0) {
        free(users);
        free(devs);
        return -1;
    }
    pack_ok_begin(pk, req->id);
    msgpack_pack_map(pk, 2);
    pk_kv_f64(pk, "since", since);
    pk_key(pk, "users");
    msgpack_pack_array(pk, n);
    for (size_t i = 0; i < n; i++) {
        const struct acct_user *a = &users[i];
        msgpack_pack_map(pk, 8);
        pk_kv_i64(pk, "uid", a->uid);
        pk_kv_u64(pk, "output_bytes", a->output_bytes);
        pk_kv_u64(pk, "upload_bytes", a->upload_bytes);
        pk_kv_str(pk, "user", a->user);
        pk_kv_u64(pk, "jobs", a->jobs);
        pk_kv_f64(pk, "gpu_seconds", a->gpu_seconds);
        pack_user_devices(pk, devs, ndevs, a->uid);
        pk_key(pk, "states");
        msgpack_pack_map(pk, JOB_STATE_COUNT);
        for (int s = 0; s < JOB_STATE_COUNT; s++)
            pk_kv_u64(pk, job_state_name((enum job_state)s), a->by_state[s]);
    }
    free(users);
    free(devs);
    return 0;
}
