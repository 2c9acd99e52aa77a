/* SPDX-License-Identifier: MIT */
/* `dashi fsck`: asks the daemon to check its whole store (blobs against their names and
 * recorded metadata, references to absent blobs, PRAGMA integrity_check) and prints the
 * report. Exit 0 when the store is clean, 6 (E_CORRUPT) when anything is damaged. */
#include "cmd_fsck.h"

#include <stdio.h>

#include "output.h"

static uint64_t u64_of(const msgpack_object *o)
{
    return o && o->type == MSGPACK_OBJECT_POSITIVE_INTEGER ? o->via.u64 : 0;
}

static void print_str(const msgpack_object *o)
{
    if (o && o->type == MSGPACK_OBJECT_STR)
        fwrite(o->via.str.ptr, 1, o->via.str.size, stdout);
}

static void print_report(const msgpack_object *r)
{
    printf("checked %llu blobs (%llu bytes)\n", (unsigned long long)u64_of(map_get(r, "blobs_checked")),
           (unsigned long long)u64_of(map_get(r, "bytes_checked")));
    const msgpack_object *problems = map_get(r, "problems");
    for (uint32_t i = 0; problems && problems->type == MSGPACK_OBJECT_ARRAY && i < problems->via.array.size; i++) {
        const msgpack_object *p = &problems->via.array.ptr[i];
        print_str(map_get(p, "kind"));
        fputs(": ", stdout);
        print_str(map_get(p, "what"));
        fputs(": ", stdout);
        print_str(map_get(p, "detail"));
        fputc('\n', stdout);
    }
    const msgpack_object *counts = map_get(r, "counts");
    if (counts && counts->type == MSGPACK_OBJECT_MAP) {
        fputs("problems:", stdout);
        for (uint32_t i = 0; i < counts->via.map.size; i++) {
            fputc(' ', stdout);
            print_str(&counts->via.map.ptr[i].key);
            printf(" %llu", (unsigned long long)u64_of(&counts->via.map.ptr[i].val));
        }
        fputc('\n', stdout);
    }
    const msgpack_object *truncated = map_get(r, "truncated");
    if (truncated && truncated->type == MSGPACK_OBJECT_BOOLEAN && truncated->via.boolean)
        puts("(only the first problems are listed; the counts cover all)");
}

int cmd_fsck(struct dashi_client *c, bool json, bool *clean, struct dashi_error *err)
{
    msgpack_unpacked resp;
    msgpack_unpacked_init(&resp);
    const msgpack_object *result;
    if (client_call(c, "fsck", NULL, NULL, NULL, NULL, &resp, &result, err) != 0) {
        msgpack_unpacked_destroy(&resp);
        return -1;
    }
    const msgpack_object *ok = map_get(result, "clean");
    *clean = ok && ok->type == MSGPACK_OBJECT_BOOLEAN && ok->via.boolean;
    if (json)
        print_json(result);
    else
        print_report(result);
    if (!json)
        puts(*clean ? "store is clean" : "store is DAMAGED");
    msgpack_unpacked_destroy(&resp);
    return 0;
}
