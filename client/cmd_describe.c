/* SPDX-License-Identifier: MIT */
/* `dashi describe [KIND]`: the job kinds' parameter tables from the describe op, one block
 * per kind and mode with a line per parameter (--json: the op's answer). */
#include <stdio.h>

#include "cli.h"
#include "output.h"

static void pack_kind(msgpack_packer *pk, void *ctx)
{
    const char *kind = ctx;
    msgpack_pack_map(pk, kind ? 1 : 0);
    if (kind)
        pk_kv_str(pk, "kind", kind);
}

static void print_str(const msgpack_object *o, int width)
{
    if (o && o->type == MSGPACK_OBJECT_STR)
        printf("%-*.*s", width, (int)o->via.str.size, o->via.str.ptr);
    else
        printf("%-*s", width, "");
}

static void print_table(const msgpack_object *table)
{
    print_str(map_get(table, "title"), 0);
    printf(":\n");
    const msgpack_object *params = map_get(table, "params");
    for (uint32_t i = 0; params && params->type == MSGPACK_OBJECT_ARRAY && i < params->via.array.size; i++) {
        const msgpack_object *p = &params->via.array.ptr[i];
        printf("  ");
        print_str(map_get(p, "name"), 16);
        printf(" ");
        print_str(map_get(p, "type"), 24);
        printf(" default ");
        print_str(map_get(p, "default"), 10);
        printf(" ");
        print_str(map_get(p, "range"), 14);
        printf(" ");
        print_str(map_get(p, "meaning"), 0);
        printf("\n");
    }
}

int cmd_describe(struct dashi_client *c, struct cli_opts *o, struct dashi_error *err)
{
    void *kind = o->args.npos > 0 ? (void *)o->pos[0] : NULL;
    if (o->args.json)
        return cli_call_print(c, o, "describe", pack_kind, kind, false, false, err);
    msgpack_unpacked resp;
    msgpack_unpacked_init(&resp);
    const msgpack_object *result;
    int rc = client_call(c, "describe", pack_kind, kind, NULL, NULL, &resp, &result, err);
    const msgpack_object *tables = rc == 0 ? map_get(result, "tables") : NULL;
    for (uint32_t t = 0; tables && tables->type == MSGPACK_OBJECT_ARRAY && t < tables->via.array.size; t++)
        print_table(&tables->via.array.ptr[t]);
    msgpack_unpacked_destroy(&resp);
    return rc;
}
