/* SPDX-License-Identifier: MIT */
/* The describe op: every job kind's parameter tables (or one kind's), generated from the
 * kinds' struct param_spec tables like `dashid --describe-params markdown`
 * (docs/protocol.md "describe"). */
#include "ops.h"

#include "job.h"

int op_describe(struct conn *c, const struct request *req, msgpack_packer *pk, struct dashi_error *err)
{
    (void)c;
    static const char *const allowed[] = {"kind", NULL};
    char name[64];
    if (args_only(req->args, allowed, err) || arg_str(req->args, "kind", false, "", name, sizeof name, err))
        return -1;
    const msgpack_object *given = args_find(req->args, "kind");
    bool one = given && given->type != MSGPACK_OBJECT_NIL;
    const struct job_kind *kind = one ? job_kind_find(name) : NULL;
    if (one && !kind)
        return job_kind_unknown(name, DASHI_E_BAD_VALUE, err);
    pack_ok_begin(pk, req->id);
    msgpack_pack_map(pk, 1);
    pk_key(pk, "tables");
    job_kinds_describe(kind, pk);
    return 0;
}
