/* SPDX-License-Identifier: MIT */
/* The dashi command line's words: parsing them, and turning options into argument maps
 * (docs/cli.md "Job arguments"). */
#include "cli.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "output.h"

/* Adds --name (or -o) at argv[*i] and the value after it, if the next word is not
 * another option. */
static int add_option(struct cli_opts *o, int argc, char **argv, int *i)
{
    const char *a = argv[*i];
    int n = o->args.nopts;
    if (n == CLI_MAX_OPTS)
        return -1;
    o->names[n] = a[1] == '-' ? a + 2 : "o";
    if (strncmp(a, "--slurm-arg=", 12) == 0) { /* sbatch's words start with --: --slurm-arg=--time=10 */
        o->names[n] = "slurm-arg";
        o->values[n] = a + 12;
    } else if (*i + 1 < argc && strncmp(argv[*i + 1], "--", 2) != 0)
        o->values[n] = argv[++*i];
    o->args.nopts++;
    return 0;
}

/* A usage error: --json given anywhere still makes it a JSON document. */
__attribute__((format(printf, 7, 8))) static int usage_error(int argc, char **argv, struct cli_opts *o,
                                                             struct dashi_error *err, dashi_code code,
                                                             const char *field, const char *fmt, ...)
{
    for (int i = 1; i < argc; i++)
        o->args.json = o->args.json || strcmp(argv[i], "--json") == 0;
    char text[96];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    return dashi_fail(err, code, field, "%s (dashi help lists the commands)", text);
}

int cli_parse(int argc, char **argv, struct cli_opts *o, struct dashi_error *err)
{
    memset(o, 0, sizeof *o);
    o->autostart = true;
    o->args.pos = o->pos;
    o->args.names = o->names;
    o->args.values = o->values;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--json") == 0) {
            o->args.json = true;
        } else if (strcmp(a, "--no-autostart") == 0) {
            o->autostart = false;
        } else if (strcmp(a, "--socket") == 0 && i + 1 < argc) {
            setenv("DASHI_SOCKET", argv[++i], 1);
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            o->help = true;
            return 0;
        } else if (strcmp(a, "--version") == 0 && !o->cmd) {
            o->version = true;
            return 0;
        } else if (strncmp(a, "--", 2) == 0 || strcmp(a, "-o") == 0) {
            if (add_option(o, argc, argv, &i) != 0)
                return usage_error(argc, argv, o, err, DASHI_E_TOO_LARGE, "", "more than %d options", CLI_MAX_OPTS);
        } else if (!o->cmd) {
            o->cmd = a;
        } else if (o->args.npos < CLI_MAX_POS) {
            o->pos[o->args.npos++] = a;
        } else {
            return usage_error(argc, argv, o, err, DASHI_E_TOO_LARGE, "", "more than %d words after the command",
                               CLI_MAX_POS);
        }
    }
    return o->cmd ? 0 : usage_error(argc, argv, o, err, DASHI_E_MISSING_FIELD, "command", "no command given");
}

const char *cli_opt(const struct cli_opts *o, const char *name) { return cmd_opt(&o->args, name); }

static bool is_hex64(const char *s)
{
    if (strlen(s) != DASHI_HASH_HEX)
        return false;
    for (const char *p = s; *p; p++)
        if (!isxdigit((unsigned char)*p))
            return false;
    return true;
}

/* A 64-hex blob hash or other text stays a string; integers and decimals become
 * numbers; true/false booleans; a bare flag (v NULL) is true. */
void cli_pack_value(msgpack_packer *pk, const char *v)
{
    if (!v) {
        msgpack_pack_true(pk);
        return;
    }
    if (is_hex64(v)) {
        pk_str(pk, v);
        return;
    }
    char *end;
    errno = 0;
    long long i = strtoll(v, &end, 10);
    if (*v && !*end && !errno) {
        if (i >= 0)
            msgpack_pack_uint64(pk, (uint64_t)i);
        else
            msgpack_pack_int64(pk, i);
        return;
    }
    double d = strtod(v, &end);
    if (*v && !*end && (isfinite(d) || strpbrk(v, "nN") != NULL)) {
        msgpack_pack_double(pk, d); /* nan/inf are sent as such so the daemon can name them */
        return;
    }
    if (strcmp(v, "true") == 0 || strcmp(v, "false") == 0) {
        if (v[0] == 't')
            msgpack_pack_true(pk);
        else
            msgpack_pack_false(pk);
        return;
    }
    pk_str(pk, v);
}

/* An option name as an argument key: dashes become underscores. */
static void pack_key(msgpack_packer *pk, const char *name)
{
    char key[64];
    snprintf(key, sizeof key, "%s", name);
    for (char *p = key; *p; p++)
        if (*p == '-')
            *p = '_';
    pk_str(pk, key);
}

static bool in_list(const char *const *l, const char *s)
{
    for (; l && *l; l++)
        if (strcmp(*l, s) == 0)
            return true;
    return false;
}

static bool in_map(const struct cli_optmap *m, const char *name)
{
    return !in_list(m->skip, name) && (!m->only || in_list(m->only, name));
}

void cli_pack_optmap(msgpack_packer *pk, void *optmap)
{
    const struct cli_optmap *m = optmap;
    const struct cmd_args *a = &m->o->args;
    size_t n = 0;
    for (int i = 0; i < a->nopts; i++)
        n += in_map(m, a->names[i]);
    msgpack_pack_map(pk, n);
    for (int i = 0; i < a->nopts; i++)
        if (in_map(m, a->names[i])) {
            pack_key(pk, a->names[i]);
            cli_pack_value(pk, a->values[i]);
        }
}

void cli_print_result(const struct cli_opts *o, const msgpack_object *result, bool record)
{
    if (o->args.json)
        print_json(result);
    else if (record)
        print_record_text(stdout, result);
    else
        print_map_text(stdout, result);
}

int cli_call_print(struct dashi_client *c, const struct cli_opts *o, const char *op, pack_args_fn pack, void *ctx,
                   bool paged, bool record, struct dashi_error *err)
{
    msgpack_unpacked resp;
    msgpack_unpacked_init(&resp);
    const msgpack_object *result;
    int rc = paged ? client_call_all(c, op, pack, ctx, NULL, 0, &resp, &result, err)
                   : client_call(c, op, pack, ctx, NULL, NULL, &resp, &result, err);
    if (rc == 0)
        cli_print_result(o, result, record);
    msgpack_unpacked_destroy(&resp);
    return rc;
}
