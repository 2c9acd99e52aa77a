/* SPDX-License-Identifier: MIT */
/* gc: what the blob store holds that nothing needs, freed with apply (docs/protocol.md
 * "gc"). Root and the daemon's user only: the store is shared, and what one user no
 * longer references may still be another's. The walk needs the loop thread's database
 * connection (it frees records too), so it runs there in batches of GC_BATCH files, one
 * per turn of the loop (an idle handle), and the loop serves every other connection in
 * between; the answer is sent when it is done. One gc at a time; it stops if its
 * connection closes or the daemon stops. */
#include <stdlib.h>
#include <unistd.h>

#include "gc.h"
#include "ops.h"

#define GC_BATCH 64 /* blob files judged per turn of the loop: about a stat and a query each */

struct gc_run {
    uv_idle_t idle;
    struct daemon *d;
    struct conn *conn; /* NULL once the connection closed */
    uint64_t req_id;
    struct gc_walk *walk;
};

static void pack_tally(msgpack_packer *pk, const char *key, const struct gc_tally *t)
{
    pk_key(pk, key);
    msgpack_pack_map(pk, 2);
    pk_kv_u64(pk, "count", t->count);
    pk_kv_u64(pk, "bytes", t->bytes);
}

static void pack_report(msgpack_packer *pk, const struct gc_report *r)
{
    msgpack_pack_map(pk, 7);
    pk_kv_bool(pk, "applied", r->applied);
    pk_kv_u64(pk, "freeable_bytes", r->unreferenced.bytes + r->uploads.bytes + r->partials.bytes);
    pack_tally(pk, "unreferenced", &r->unreferenced);
    pack_tally(pk, "uploads", &r->uploads);
    pack_tally(pk, "partials", &r->partials);
    pack_tally(pk, "live", &r->live);
    pack_tally(pk, "recent", &r->recent);
}

static void run_closed(uv_handle_t *h)
{
    struct gc_run *run = h->data;
    gc_end(run->walk);
    free(run);
}

/* The answer (err when rc != 0) to a connection still open, then the run goes. */
static void finish(struct gc_run *run, int rc, const struct dashi_error *err)
{
    run->d->gc = NULL;
    if (run->conn && !run->conn->closing) {
        msgpack_sbuffer sb;
        msgpack_sbuffer_init(&sb);
        msgpack_packer pk;
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
        frame_begin(&sb);
        if (rc != 0) {
            pack_error(&pk, run->req_id, err);
        } else {
            pack_ok_begin(&pk, run->req_id);
            pack_report(&pk, gc_walk_report(run->walk));
        }
        frame_finish(&sb);
        conn_send(run->conn, &sb);
        msgpack_sbuffer_destroy(&sb);
    }
    uv_idle_stop(&run->idle);
    uv_close((uv_handle_t *)&run->idle, run_closed);
}

static void gc_turn(uv_idle_t *h)
{
    struct gc_run *run = h->data;
    struct dashi_error err;
    dashi_error_clear(&err);
    if (!run->conn || run->d->stopping) { /* nobody to answer, or the loop is ending */
        run->conn = NULL;
        finish(run, 0, &err);
        return;
    }
    bool done = false;
    int rc = gc_step(run->walk, GC_BATCH, &done, &err);
    if (rc != 0 || done)
        finish(run, rc, &err);
}

int op_gc(struct conn *c, const struct request *req, msgpack_packer *pk, struct dashi_error *err)
{
    (void)pk;
    static const char *const allowed[] = {"apply", NULL};
    bool apply;
    if (args_only(req->args, allowed, err) != 0 || arg_bool(req->args, "apply", false, false, &apply, err) != 0)
        return -1;
    if (c->uid != 0 && c->uid != getuid())
        return dashi_fail(err, DASHI_E_PERMISSION, "", "only root or the daemon's user may collect the store");
    if (c->d->gc)
        return dashi_fail(err, DASHI_E_STATE, "", "a gc is already running");
    struct gc_scope g = {&c->d->store, &c->d->blobs, c->d->cfg.gc_upload_grace_s, now_seconds()};
    struct gc_run *run = calloc(1, sizeof *run);
    if (!run)
        return dashi_fail(err, DASHI_E_INTERNAL, "", "out of memory");
    if (gc_begin(&g, apply, &run->walk, err) != 0) {
        free(run);
        return -1;
    }
    run->d = c->d;
    run->conn = c;
    run->req_id = req->id;
    run->idle.data = run;
    if (uv_idle_init(&c->d->loop, &run->idle) != 0) {
        gc_end(run->walk);
        free(run);
        return dashi_fail(err, DASHI_E_INTERNAL, "", "cannot start gc");
    }
    if (uv_idle_start(&run->idle, gc_turn) != 0) {
        uv_close((uv_handle_t *)&run->idle, run_closed);
        return dashi_fail(err, DASHI_E_INTERNAL, "", "cannot start gc");
    }
    c->d->gc = run;
    return OP_DEFERRED;
}

void gc_conn_released(struct conn *c)
{
    struct gc_run *run = c->d->gc;
    if (run && run->conn == c)
        run->conn = NULL;
}
