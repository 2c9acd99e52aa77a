/* SPDX-License-Identifier: MIT */
#include "cmd_store.h"

#include <stdio.h>

#include "output.h"

struct rm_ids {
    int64_t ids[CLI_MAX_POS];
    int n;
};

static void pack_rm(msgpack_packer *pk, void *ctx)
{
    const struct rm_ids *r = ctx;
    msgpack_pack_map(pk, 1);
    pk_key(pk, "ids");
    msgpack_pack_array(pk, (size_t)r->n);
    for (int i = 0; i < r->n; i++)
        msgpack_pack_int64(pk, r->ids[i]);
}

int cmd_rm(struct dashi_client *c, struct cli_opts *o, struct dashi_error *err)
{
    if (o->args.npos < 1)
        return dashi_fail(err, DASHI_E_MISSING_FIELD, "ids", "rm needs at least one job id");
    struct rm_ids r = {.n = o->args.npos};
    for (int i = 0; i < r.n; i++)
        if (cmd_parse_id(o->pos[i], &r.ids[i], err) != 0)
            return -1;
    return cli_call_print(c, o, "rm", pack_rm, &r, false, false, err);
}

static void pack_gc(msgpack_packer *pk, void *ctx)
{
    const bool *apply = ctx;
    msgpack_pack_map(pk, 1);
    pk_kv_bool(pk, "apply", *apply);
}

int cmd_gc(struct dashi_client *c, struct cli_opts *o, struct dashi_error *err)
{
    bool apply = cli_opt(o, "apply") != NULL;
    return cli_call_print(c, o, "gc", pack_gc, &apply, false, false, err);
}
