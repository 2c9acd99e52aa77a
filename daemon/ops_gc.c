/* SPDX-License-Identifier: MIT */
/* gc: what the blob store holds that nothing needs, freed with apply (docs/protocol.md
 * "gc"). Root and the daemon's user only: the store is shared, and what one user no
 * longer references may still be another's. */
#include <unistd.h>

#include "gc.h"
#include "ops.h"

static void pack_tally(msgpack_packer *pk, const char *key, const struct gc_tally *t)
{
    pk_key(pk, key);
    msgpack_pack_map(pk, 2);
    pk_kv_u64(pk, "count", t->count);
    pk_kv_u64(pk, "bytes", t->bytes);
}

int op_gc(struct conn *c, const struct request *req, msgpack_packer *pk, struct dashi_error *err)
{
    static const char *const allowed[] = {"apply", NULL};
    bool apply;
    if (args_only(req->args, allowed, err) != 0 || arg_bool(req->args, "apply", false, false, &apply, err) != 0)
        return -1;
    if (c->uid != 0 && c->uid != getuid())
        return dashi_fail(err, DASHI_E_PERMISSION, "", "only root or the daemon's user may collect the store");
    struct gc_scope g = {&c->d->store, &c->d->blobs, c->d->cfg.gc_upload_grace_s, now_seconds()};
    struct gc_report r;
    if (gc_run(&g, apply, &r, err) != 0)
        return -1;
    pack_ok_begin(pk, req->id);
    msgpack_pack_map(pk, 7);
    pk_kv_bool(pk, "applied", r.applied);
    pk_kv_u64(pk, "freeable_bytes", r.unreferenced.bytes + r.uploads.bytes + r.partials.bytes);
    pack_tally(pk, "unreferenced", &r.unreferenced);
    pack_tally(pk, "uploads", &r.uploads);
    pack_tally(pk, "partials", &r.partials);
    pack_tally(pk, "live", &r.live);
    pack_tally(pk, "recent", &r.recent);
    return 0;
}
