/* SPDX-License-Identifier: MIT */
/* The fsck op: root or the daemon's own user checks the whole store. Reading every blob
 * takes as long as the store is large, so it runs on libuv's thread pool (fsck.c touches
 * only files and a read-only database connection of its own); the answer is sent from the
 * loop thread when it is done. One fsck at a time; it stops if its connection closes. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "fsck.h"
#include "ops.h"

struct fsck_run {
    uv_work_t work;
    struct daemon *d;
    struct conn *conn; /* NULL once the connection closed */
    uint64_t req_id;
    char db_path[4200];
    atomic_bool cancel;
    int rc;
    struct dashi_error err;
    struct fsck_report report;
};

static void fsck_work(uv_work_t *w)
{
    struct fsck_run *run = w->data;
    run->rc = fsck_store(&run->d->blobs, run->db_path, &run->cancel, &run->report, &run->err);
}

static void pack_report(msgpack_packer *pk, const struct fsck_report *r)
{
    uint64_t problems = 0;
    for (int k = 0; k < FSCK_KIND_COUNT; k++)
        problems += r->count[k];
    msgpack_pack_map(pk, 6);
    pk_kv_bool(pk, "clean", problems == 0);
    pk_kv_u64(pk, "blobs_checked", r->blobs_checked);
    pk_kv_u64(pk, "bytes_checked", r->bytes_checked);
    pk_key(pk, "counts");
    msgpack_pack_map(pk, FSCK_KIND_COUNT);
    for (int k = 0; k < FSCK_KIND_COUNT; k++)
        pk_kv_u64(pk, fsck_kind_name((enum fsck_kind)k), r->count[k]);
    pk_kv_bool(pk, "truncated", problems > r->listed);
    pk_key(pk, "problems");
    msgpack_pack_array(pk, r->listed);
    for (size_t i = 0; i < r->listed; i++) {
        msgpack_pack_map(pk, 3);
        pk_kv_str(pk, "kind", fsck_kind_name(r->problems[i].kind));
        pk_kv_str(pk, "what", r->problems[i].what);
        pk_kv_str(pk, "detail", r->problems[i].detail);
    }
}

static void fsck_done(uv_work_t *w, int status)
{
    struct fsck_run *run = w->data;
    run->d->fsck = NULL;
    if (run->conn && !run->conn->closing) {
        msgpack_sbuffer sb;
        msgpack_sbuffer_init(&sb);
        msgpack_packer pk;
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
        frame_begin(&sb);
        if (status != 0)
            dashi_fail(&run->err, DASHI_E_INTERNAL, "", "fsck could not run: %s", uv_strerror(status));
        if (status != 0 || run->rc != 0) {
            pack_error(&pk, run->req_id, &run->err);
        } else {
            pack_ok_begin(&pk, run->req_id);
            pack_report(&pk, &run->report);
        }
        frame_finish(&sb);
        conn_send(run->conn, &sb);
        msgpack_sbuffer_destroy(&sb);
    }
    free(run);
}

int op_fsck(struct conn *c, const struct request *req, msgpack_packer *pk, struct dashi_error *err)
{
    (void)pk;
    static const char *const allowed[] = {NULL};
    if (args_only(req->args, allowed, err) != 0)
        return -1;
    if (c->uid != 0 && c->uid != getuid())
        return dashi_fail(err, DASHI_E_PERMISSION, "", "only root or the daemon's user may check the store");
    if (c->d->fsck)
        return dashi_fail(err, DASHI_E_STATE, "", "an fsck is already running");
    const char *db = sqlite3_db_filename(c->d->store.db, "main");
    struct fsck_run *run = calloc(1, sizeof *run);
    if (!run || !db || strlen(db) >= sizeof run->db_path) {
        free(run);
        return dashi_fail(err, DASHI_E_INTERNAL, "", "cannot start fsck");
    }
    run->d = c->d;
    run->conn = c;
    run->req_id = req->id;
    snprintf(run->db_path, sizeof run->db_path, "%s", db);
    atomic_init(&run->cancel, false);
    run->work.data = run;
    if (uv_queue_work(&c->d->loop, &run->work, fsck_work, fsck_done) != 0) {
        free(run);
        return dashi_fail(err, DASHI_E_INTERNAL, "", "cannot start fsck");
    }
    c->d->fsck = run;
    return OP_DEFERRED;
}

void fsck_conn_released(struct conn *c)
{
    struct fsck_run *run = c->d->fsck;
    if (run && run->conn == c) {
        run->conn = NULL;
        atomic_store(&run->cancel, true);
    }
}
