/* SPDX-License-Identifier: MIT */
/* `dashi describe [KIND]`: the job kinds' parameter tables from the describe op, one block
 * per kind and mode with a line per parameter (--json: the op's answer); and the check of
 * a submission's options against the same tables. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "output.h"
#include "suggest.h"

static void pack_kind(msgpack_packer *pk, void *ctx)
{
    const char *kind = ctx;
    msgpack_pack_map(pk, kind ? 1 : 0);
    if (kind)
        pk_kv_str(pk, "kind", kind);
}

/* o padded to width columns: characters, not bytes (the ranges hold "–", "≥" in UTF-8). */
static void print_str(const msgpack_object *o, int width)
{
    int chars = 0;
    if (o && o->type == MSGPACK_OBJECT_STR) {
        printf("%.*s", (int)o->via.str.size, o->via.str.ptr);
        for (uint32_t i = 0; i < o->via.str.size; i++)
            chars += ((unsigned char)o->via.str.ptr[i] & 0xC0) != 0x80; /* not a continuation byte */
    }
    printf("%*s", width > chars ? width - chars : 0, "");
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

void describe_print_tables(const msgpack_object *result)
{
    const msgpack_object *tables = map_get(result, "tables");
    for (uint32_t t = 0; tables && tables->type == MSGPACK_OBJECT_ARRAY && t < tables->via.array.size; t++)
        print_table(&tables->via.array.ptr[t]);
}

/* An option name as a parameter name: dashes become underscores (cli.c packs it so). */
static void param_name_of(const char *option, char *name, size_t cap)
{
    snprintf(name, cap, "%s", option);
    for (char *p = name; *p; p++)
        if (*p == '-')
            *p = '_';
}

/* Whether name is a parameter of any of the answer's tables (every mode of the kind), each
 * offered to near on the way. */
static bool is_param(const msgpack_object *result, const char *name, struct suggestion *near)
{
    bool found = false;
    const msgpack_object *tables = map_get(result, "tables");
    for (uint32_t t = 0; tables && tables->type == MSGPACK_OBJECT_ARRAY && t < tables->via.array.size; t++) {
        const msgpack_object *params = map_get(&tables->via.array.ptr[t], "params");
        for (uint32_t i = 0; params && params->type == MSGPACK_OBJECT_ARRAY && i < params->via.array.size; i++) {
            const msgpack_object *p = map_get(&params->via.array.ptr[i], "name");
            char pname[SUGGEST_MAX_WORD + 1];
            if (!p || p->type != MSGPACK_OBJECT_STR || p->via.str.size > SUGGEST_MAX_WORD)
                continue;
            snprintf(pname, sizeof pname, "%.*s", (int)p->via.str.size, p->via.str.ptr);
            found = found || strcmp(pname, name) == 0;
            suggest_consider(near, pname);
        }
    }
    return found;
}

static int unknown_option(const char *option, const char *kind, const struct suggestion *near,
                          struct dashi_error *err)
{
    const char *best = suggest_best(near);
    char dashed[SUGGEST_MAX_WORD + 1] = "";
    snprintf(dashed, sizeof dashed, "%s", best ? best : "");
    for (char *p = dashed; *p; p++)
        if (*p == '_')
            *p = '-';
    if (best)
        return dashi_fail(err, DASHI_E_UNKNOWN_FIELD, option, "unknown option --%s for %s; did you mean --%s? (dashi help %s)",
                          option, kind, dashed, kind);
    return dashi_fail(err, DASHI_E_UNKNOWN_FIELD, option, "unknown option --%s for %s (dashi help %s lists them)", option,
                      kind, kind);
}

int describe_check_options(struct dashi_client *c, const char *kind, const struct cmd_args *a,
                           const char *const *skip, struct dashi_error *err)
{
    msgpack_unpacked resp;
    msgpack_unpacked_init(&resp);
    const msgpack_object *result;
    int rc = client_call(c, "describe", pack_kind, (void *)kind, NULL, NULL, &resp, &result, err);
    for (int i = 0; rc == 0 && i < a->nopts; i++) {
        bool envelope = false;
        for (const char *const *s = skip; s && *s; s++)
            envelope = envelope || strcmp(*s, a->names[i]) == 0;
        char name[SUGGEST_MAX_WORD + 1];
        param_name_of(a->names[i], name, sizeof name);
        struct suggestion near;
        suggest_init(&near, name);
        if (!envelope && !is_param(result, name, &near))
            rc = unknown_option(a->names[i], kind, &near, err);
    }
    msgpack_unpacked_destroy(&resp);
    return rc;
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
    if (rc == 0)
        describe_print_tables(result);
    msgpack_unpacked_destroy(&resp);
    return rc;
}
