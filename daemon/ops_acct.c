/* SPDX-License-Identifier: MIT */
/* acct: per-user accounting over the jobs table, like sacct: jobs by state and GPU
 * seconds, for jobs submitted since a time, and the bytes each user's jobs and uploads
 * hold in the store now (store_user_bytes). Private jobs of other users count only for
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

static int acct_query(sqlite3 *db, int64_t uid, double since, uid_t viewer, struct acct_user *users, size_t *n,
                      struct dashi_error *err)
{
    static const char sql[] =
        "SELECT uid, MAX(user), state, COUNT(*), TOTAL(gpu_seconds) FROM jobs "
        "WHERE submitted_at >= ?1 AND (?2 < 0 OR uid = ?2) AND (private = 0 OR uid = ?3 OR ?3 = 0) "
        "GROUP BY uid, state ORDER BY uid";
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return dashi_fail(err, DASHI_E_DB, "", "acct: %s", sqlite3_errmsg(db));
    sqlite3_bind_double(st, 1, since);
    sqlite3_bind_int64(st, 2, uid);
    sqlite3_bind_int64(st, 3, viewer);
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
    if (!users)
        return dashi_fail(err, DASHI_E_INTERNAL, "", "out of memory");
    size_t n = 0;
    if (acct_query(c->d->store.db, uid, since, c->uid, users, &n, err) != 0) {
        free(users);
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        if (store_user_bytes(&c->d->store, users[i].uid, &users[i].output_bytes, &users[i].upload_bytes, err) != 0) {
            free(users);
            return -1;
        }
    pack_ok_begin(pk, req->id);
    msgpack_pack_map(pk, 2);
    pk_kv_f64(pk, "since", since);
    pk_key(pk, "users");
    msgpack_pack_array(pk, n);
    for (size_t i = 0; i < n; i++) {
        const struct acct_user *a = &users[i];
        msgpack_pack_map(pk, 7);
        pk_kv_i64(pk, "uid", a->uid);
        pk_kv_u64(pk, "output_bytes", a->output_bytes);
        pk_kv_u64(pk, "upload_bytes", a->upload_bytes);
        pk_kv_str(pk, "user", a->user);
        pk_kv_u64(pk, "jobs", a->jobs);
        pk_kv_f64(pk, "gpu_seconds", a->gpu_seconds);
        pk_key(pk, "states");
        msgpack_pack_map(pk, JOB_STATE_COUNT);
        for (int s = 0; s < JOB_STATE_COUNT; s++)
            pk_kv_u64(pk, job_state_name((enum job_state)s), a->by_state[s]);
    }
    free(users);
    return 0;
}
