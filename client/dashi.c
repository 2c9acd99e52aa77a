/* dashi: the command-line client of dashid. Commands and exit statuses: docs/cli.md. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "acct.h"
#include "atoms_fetch.h"
#include "client.h"
#include "cmd_analysis.h"
#include "cmd_atoms.h"
#include "cmd_fsck.h"
#include "output.h"
#include "render.h"

struct opts {
    bool json;
    bool autostart;
    const char *cmd;
    const char *pos[4]; /* positional arguments after the command */
    int npos;
    /* --name value pairs and bare --flags, in order (value NULL for a flag) */
    const char *names[64];
    const char *values[64];
    int nopts;
};

static void usage(FILE *f)
{
    fputs("usage: dashi [--json] [--no-autostart] [--socket PATH] COMMAND ...\n"
          "  ping                                  daemon, protocol and device\n"
          "  put FILE.npy                          upload; prints the blob hash\n"
          "  get HASH -o FILE.npy                  download a blob\n"
          "  submit KIND [--ARG VALUE|--FLAG]... [--wait] [--priority N] [--private] [--time-limit S]\n"
          "                                        e.g. submit rollout --op HASH --z0 HASH --steps 300\n"
          "  status ID | show ID | wait ID | cancel ID | resume ID\n"
          "  list [--state S] [--kind K] [--user U] [--limit N]\n"
          "  metrics ID [--key K]                  time series and summary scalars\n"
          "  hashes ID                             state hashes of a rollout\n"
          "  plot ID [ID...] --key K [--key K]... -o FILE.png|FILE.svg   metric series as a chart\n"
          "  compare ID1 ID2                       parameters, summary metrics and hashes side by side\n"
          "  export ID -o DIR                      record.json, metrics.csv and outputs as .npy\n"
          "  acct [--user U] [--since T]           per-user jobs by state and GPU seconds\n"
          "  atoms ID [--step T]                   atoms of an atoms job (one step or all; paged)\n"
          "  lineage ID --atom STEP:IDX [--ancestors|--descendants] [--depth N] [--dot | --png FILE.png]\n"
          "  events ID [--kind split|merge|birth|death|continuation]\n"
          "  audit ID                              conservation residuals per event\n"
          "  render HASH -o FILE.png [--frame K] [--cmap diverging] [--atoms ID [--step T]]\n"
          "                                        picture of an N×N field or one trajectory frame,\n"
          "                                        with the atoms of an atoms job marked\n"
          "  fsck                                  check every blob and the database (its user or root)\n"
          "  shutdown                              stop the daemon (its user or root)\n"
          "see docs/cli.md\n",
          f);
}

static const char *opt(const struct opts *o, const char *name)
{
    for (int i = 0; i < o->nopts; i++)
        if (strcmp(o->names[i], name) == 0)
            return o->values[i] ? o->values[i] : "";
    return NULL;
}

/* opt() for code outside this file (cmd_atoms.c). */
static const char *opt_lookup(const void *o, const char *name) { return opt(o, name); }

static int parse(int argc, char **argv, struct opts *o)
{
    memset(o, 0, sizeof *o);
    o->autostart = true;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--json") == 0) {
            o->json = true;
        } else if (strcmp(a, "--no-autostart") == 0) {
            o->autostart = false;
        } else if (strcmp(a, "--socket") == 0 && i + 1 < argc) {
            setenv("DASHI_SOCKET", argv[++i], 1);
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            exit(0);
        } else if (strncmp(a, "--", 2) == 0 || strcmp(a, "-o") == 0) {
            if (o->nopts == 64)
                return -1;
            o->names[o->nopts] = a[1] == '-' ? a + 2 : "o";
            /* A value follows unless the next word is another option. */
            if (i + 1 < argc && strncmp(argv[i + 1], "--", 2) != 0)
                o->values[o->nopts] = argv[++i];
            o->nopts++;
        } else if (!o->cmd) {
            o->cmd = a;
        } else if (o->npos < 4) {
            o->pos[o->npos++] = a;
        } else {
            return -1;
        }
    }
    return o->cmd ? 0 : -1;
}

static int fail(const struct opts *o, const struct dashi_error *err)
{
    print_dashi_error(o->json, err);
    return dashi_code_exit_status(err->code);
}

static int need_id(const struct opts *o, int64_t *id, struct dashi_error *err)
{
    char *end;
    if (o->npos < 1)
        return dashi_fail(err, DASHI_E_MISSING_FIELD, "id", "%s needs a job id", o->cmd);
    errno = 0;
    long long v = strtoll(o->pos[0], &end, 10);
    if (errno || *end || v < 1)
        return dashi_fail(err, DASHI_E_BAD_VALUE, "id", "'%s' is not a job id", o->pos[0]);
    *id = v;
    return 0;
}

/* ---- generic argument maps ---- */

static bool is_hex64(const char *s)
{
    if (strlen(s) != DASHI_HASH_HEX)
        return false;
    for (const char *p = s; *p; p++)
        if (!isxdigit((unsigned char)*p))
            return false;
    return true;
}

/* Packs a command-line value with the type it reads as: a 64-hex blob hash or other
 * text stays a string; integers and decimals become numbers; a bare flag is true. */
static void pack_value(msgpack_packer *pk, const char *v)
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

struct optmap {
    const struct opts *o;
    const char *const *skip; /* options that are not part of the map */
    const char *const *only; /* if set, the options that are */
};

static bool in_list(const char *const *l, const char *s)
{
    for (; l && *l; l++)
        if (strcmp(*l, s) == 0)
            return true;
    return false;
}

static void pack_optmap(msgpack_packer *pk, void *ctx)
{
    const struct optmap *m = ctx;
    size_t n = 0;
    for (int i = 0; i < m->o->nopts; i++)
        n += !in_list(m->skip, m->o->names[i]) && (!m->only || in_list(m->only, m->o->names[i]));
    msgpack_pack_map(pk, n);
    for (int i = 0; i < m->o->nopts; i++)
        if (!in_list(m->skip, m->o->names[i]) && (!m->only || in_list(m->only, m->o->names[i]))) {
            pack_key(pk, m->o->names[i]);
            pack_value(pk, m->o->values[i]);
        }
}

struct id_arg {
    int64_t id;
    const char *key; /* optional extra string argument */
    const char *value;
};

static void pack_id(msgpack_packer *pk, void *ctx)
{
    const struct id_arg *a = ctx;
    msgpack_pack_map(pk, a->key ? 2 : 1);
    pk_kv_i64(pk, "id", a->id);
    if (a->key)
        pk_kv_str(pk, a->key, a->value);
}

/* ---- commands ---- */

struct wait_ctx {
    bool json;
};

static int on_wait_event(const msgpack_object *ev, void *ctx)
{
    (void)ctx;
    const msgpack_object *st = map_get(ev, "state"), *step = map_get(ev, "step"), *total = map_get(ev, "total");
    char state[16] = "";
    if (st && st->type == MSGPACK_OBJECT_STR)
        snprintf(state, sizeof state, "%.*s", (int)st->via.str.size, st->via.str.ptr);
    print_progress(state, step && step->type == MSGPACK_OBJECT_POSITIVE_INTEGER ? step->via.u64 : 0,
                   total && total->type == MSGPACK_OBJECT_POSITIVE_INTEGER ? total->via.u64 : 0);
    return 0;
}

/* Exit status of a finished job: 0 when it succeeded, else by its error code. */
static int job_exit_status(const msgpack_object *rec)
{
    const msgpack_object *st = map_get(rec, "state");
    if (st && st->type == MSGPACK_OBJECT_STR && st->via.str.size == 9 && memcmp(st->via.str.ptr, "succeeded", 9) == 0)
        return 0;
    const msgpack_object *e = map_get(rec, "error");
    const msgpack_object *code = map_get(e, "code");
    if (code && code->type == MSGPACK_OBJECT_STR) {
        char name[32];
        snprintf(name, sizeof name, "%.*s", (int)code->via.str.size, code->via.str.ptr);
        int s = dashi_code_exit_status(dashi_code_from_name(name));
        return s ? s : 3;
    }
    return 3;
}

static int print_result(const struct opts *o, const msgpack_object *result, bool record)
{
    if (o->json)
        print_json(result);
    else if (record)
        print_record_text(stdout, result);
    else
        print_map_text(stdout, result);
    return 0;
}

static int wait_job(struct dashi_client *c, const struct opts *o, int64_t id, struct dashi_error *err)
{
    msgpack_unpacked resp;
    msgpack_unpacked_init(&resp);
    const msgpack_object *result;
    struct id_arg a = {id, NULL, NULL};
    struct wait_ctx w = {o->json};
    int rc = client_call(c, "wait", pack_id, &a, on_wait_event, &w, &resp, &result, err);
    end_progress();
    if (rc != 0) {
        msgpack_unpacked_destroy(&resp);
        return fail(o, err);
    }
    print_result(o, result, true);
    int status = job_exit_status(result);
    msgpack_unpacked_destroy(&resp);
    return status;
}

/* Values that name an existing .npy file are uploaded and replaced by their hash. */
static int upload_file_args(struct dashi_client *c, struct opts *o, char (*hashes)[DASHI_HASH_HEX + 1],
                            struct dashi_error *err)
{
    for (int i = 0; i < o->nopts; i++) {
        const char *v = o->values[i];
        size_t n = v ? strlen(v) : 0;
        if (n > 4 && strcmp(v + n - 4, ".npy") == 0 && access(v, R_OK) == 0) {
            if (client_put_file(c, v, hashes[i], err) != 0)
                return -1;
            o->values[i] = hashes[i];
        }
    }
    return 0;
}

struct submit_ctx {
    const struct opts *o;
    const char *kind;
};

static const char *const submit_envelope[] = {"wait", "priority", "private", "time-limit", NULL};

static void pack_submit(msgpack_packer *pk, void *ctx)
{
    const struct submit_ctx *s = ctx;
    const char *prio = opt(s->o, "priority");
    bool priv = opt(s->o, "private") != NULL;
    const char *limit = opt(s->o, "time-limit");
    msgpack_pack_map(pk, 2 + (prio ? 1 : 0) + (priv ? 1 : 0) + (limit ? 1 : 0));
    pk_kv_str(pk, "kind", s->kind);
    pk_key(pk, "args");
    struct optmap m = {s->o, submit_envelope, NULL};
    pack_optmap(pk, &m);
    if (prio) {
        pk_key(pk, "priority");
        pack_value(pk, prio);
    }
    if (priv)
        pk_kv_bool(pk, "private", true);
    if (limit) {
        pk_key(pk, "time_limit");
        pack_value(pk, limit);
    }
}

static int cmd_submit(struct dashi_client *c, struct opts *o, struct dashi_error *err)
{
    if (o->npos < 1) {
        dashi_fail(err, DASHI_E_MISSING_FIELD, "kind", "submit needs a job kind (e.g. rollout)");
        return fail(o, err);
    }
    if (strcmp(o->pos[0], "pipeline") == 0) {
        struct cmd_args ca = {o->pos, o->npos, o->names, o->values, o->nopts, o->json};
        return cmd_pipeline(c, &ca, err) != 0 ? fail(o, err) : 0;
    }
    char(*hashes)[DASHI_HASH_HEX + 1] = calloc(64, DASHI_HASH_HEX + 1);
    if (!hashes)
        return 7;
    int status;
    if (upload_file_args(c, o, hashes, err) != 0) {
        status = fail(o, err);
        goto done;
    }
    msgpack_unpacked resp;
    msgpack_unpacked_init(&resp);
    const msgpack_object *result;
    struct submit_ctx s = {o, o->pos[0]};
    if (client_call(c, "submit", pack_submit, &s, NULL, NULL, &resp, &result, err) != 0) {
        msgpack_unpacked_destroy(&resp);
        status = fail(o, err);
        goto done;
    }
    const msgpack_object *id = map_get(result, "id");
    if (opt(o, "wait") && id && id->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
        int64_t jid = (int64_t)id->via.u64;
        if (!o->json)
            fprintf(stderr, "submitted job %lld\n", (long long)jid);
        msgpack_unpacked_destroy(&resp);
        status = wait_job(c, o, jid, err);
        goto done;
    }
    print_result(o, result, true);
    msgpack_unpacked_destroy(&resp);
    status = 0;
done:
    free(hashes);
    return status;
}

static int simple_call(struct dashi_client *c, const struct opts *o, const char *op, pack_args_fn pack, void *ctx,
                       bool record, struct dashi_error *err)
{
    msgpack_unpacked resp;
    msgpack_unpacked_init(&resp);
    const msgpack_object *result;
    int status;
    bool paged = strcmp(op, "hashes") == 0 || strcmp(op, "metrics") == 0;
    if ((paged ? client_call_all(c, op, pack, ctx, NULL, 0, &resp, &result, err)
               : client_call(c, op, pack, ctx, NULL, NULL, &resp, &result, err)) != 0)
        status = fail(o, err);
    else
        status = print_result(o, result, record);
    msgpack_unpacked_destroy(&resp);
    return status;
}

struct list_page {
    struct optmap *filters;
    long long page;
};

static void pack_filters(msgpack_packer *pk, void *ctx)
{
    pack_optmap(pk, ((const struct list_page *)ctx)->filters);
}

static void pack_page_limit(msgpack_packer *pk, void *ctx)
{
    pk_kv_i64(pk, "limit", ((const struct list_page *)ctx)->page);
}

/* The list filters with the page size. */
static void pack_list_page(msgpack_packer *pk, void *ctx)
{
    pack_map_extended(pk, pack_filters, ctx, 1, pack_page_limit, ctx);
}

static int print_list(struct dashi_client *c, const struct opts *o, struct dashi_error *err)
{
    /* --limit is the number of jobs shown; the daemon's pages hold at most DASHI_PAGE_JOBS. */
    static const char *const only[] = {"state", "kind", "user", NULL};
    struct optmap m = {o, NULL, only};
    const char *limit_opt = opt(o, "limit");
    long long limit = limit_opt ? atoll(limit_opt) : 50;
    if (limit < 1) {
        dashi_fail(err, DASHI_E_BAD_VALUE, "limit", "--limit must be a positive integer, got %s", limit_opt);
        return fail(o, err);
    }
    struct list_page lp = {&m, limit < DASHI_PAGE_JOBS ? limit : DASHI_PAGE_JOBS};
    msgpack_unpacked resp;
    msgpack_unpacked_init(&resp);
    const msgpack_object *result;
    if (client_call_all(c, "list", pack_list_page, &lp, "jobs", (uint64_t)limit, &resp, &result, err) != 0) {
        msgpack_unpacked_destroy(&resp);
        return fail(o, err);
    }
    if (o->json) {
        print_json(result);
    } else {
        const msgpack_object *jobs = map_get(result, "jobs");
        printf("%-6s %-9s %-11s %-10s %s\n", "ID", "KIND", "STATE", "USER", "PROGRESS");
        for (uint32_t i = 0; jobs && jobs->type == MSGPACK_OBJECT_ARRAY && i < jobs->via.array.size; i++) {
            const msgpack_object *j = &jobs->via.array.ptr[i];
            const msgpack_object *id = map_get(j, "id"), *kind = map_get(j, "kind"), *state = map_get(j, "state"),
                                 *user = map_get(j, "user"), *prog = map_get(j, "progress");
            const msgpack_object *step = map_get(prog, "step"), *total = map_get(prog, "total");
            printf("%-6llu %-9.*s %-11.*s %-10.*s %llu/%llu\n", (unsigned long long)id->via.u64,
                   (int)kind->via.str.size, kind->via.str.ptr, (int)state->via.str.size, state->via.str.ptr,
                   (int)user->via.str.size, user->via.str.ptr, (unsigned long long)(step ? step->via.u64 : 0),
                   (unsigned long long)(total ? total->via.u64 : 0));
        }
    }
    msgpack_unpacked_destroy(&resp);
    return 0;
}

static int cmd_put(struct dashi_client *c, const struct opts *o, struct dashi_error *err)
{
    if (o->npos < 1) {
        dashi_fail(err, DASHI_E_MISSING_FIELD, "file", "put needs a .npy file");
        return fail(o, err);
    }
    char hash[DASHI_HASH_HEX + 1];
    if (client_put_file(c, o->pos[0], hash, err) != 0)
        return fail(o, err);
    if (o->json)
        printf("{\"hash\": \"%s\"}\n", hash);
    else
        printf("%s\n", hash);
    return 0;
}

static int cmd_get(struct dashi_client *c, const struct opts *o, struct dashi_error *err)
{
    const char *out = opt(o, "o");
    if (o->npos < 1 || !out || !*out) {
        dashi_fail(err, DASHI_E_MISSING_FIELD, o->npos < 1 ? "hash" : "o", "usage: dashi get HASH -o FILE.npy");
        return fail(o, err);
    }
    if (client_get_file(c, o->pos[0], out, err) != 0)
        return fail(o, err);
    if (o->json)
        printf("{\"hash\": \"%s\", \"path\": \"%s\"}\n", o->pos[0], out);
    else
        printf("%s\n", out);
    return 0;
}

/* Downloads the blob to a scratch file and draws it; the daemon only serves bytes (and,
 * with --atoms, the atoms of one step to mark on it). */
static int cmd_render(struct dashi_client *c, const struct opts *o, struct dashi_error *err)
{
    const char *out = opt(o, "o"), *frame_s = opt(o, "frame"), *cmap = opt(o, "cmap");
    const char *atoms_s = opt(o, "atoms"), *step_s = opt(o, "step");
    if (o->npos < 1 || !out || !*out) {
        dashi_fail(err, DASHI_E_MISSING_FIELD, o->npos < 1 ? "hash" : "o",
                   "usage: dashi render HASH -o FILE.png [--frame K] [--cmap diverging] [--atoms ID [--step T]]");
        return fail(o, err);
    }
    if (step_s && !atoms_s) {
        dashi_fail(err, DASHI_E_BAD_VALUE, "step", "--step picks the atoms' step: it needs --atoms ID");
        return fail(o, err);
    }
    int frame = 0;
    if (frame_s) {
        char *end;
        long v = strtol(frame_s, &end, 10);
        if (*frame_s == 0 || *end || v < 0 || v > 100000000) {
            dashi_fail(err, DASHI_E_BAD_VALUE, "frame", "--frame must be a frame index >= 0, got '%s'", frame_s);
            return fail(o, err);
        }
        frame = (int)v;
    }
    struct atom_mark *marks = NULL;
    size_t nmarks = 0;
    int64_t atoms_job = 0, atoms_step = 0;
    if (atoms_s) {
        if (atoms_fetch_marks(c, atoms_s, step_s, frame, &atoms_job, &atoms_step, &marks, &nmarks, err) != 0)
            return fail(o, err);
        fprintf(stderr, "dashi: %zu atoms of job %lld at step %lld\n", nmarks, (long long)atoms_job,
                (long long)atoms_step);
    }
    char tmp[] = "/tmp/dashi-render-XXXXXX";
    int fd = mkstemp(tmp);
    if (fd < 0) {
        free(marks);
        dashi_fail(err, DASHI_E_IO, "", "mkstemp: %s", strerror(errno));
        return fail(o, err);
    }
    close(fd);
    int rc = client_get_file(c, o->pos[0], tmp, err);
    if (rc == 0)
        rc = render_png_marked(tmp, out, frame, cmap && *cmap ? cmap : "diverging", marks, nmarks, err);
    unlink(tmp);
    free(marks);
    if (rc != 0)
        return fail(o, err);
    if (o->json && atoms_s)
        printf("{\"png\": \"%s\", \"frame\": %d, \"atoms_job\": %lld, \"atoms_step\": %lld, \"atoms\": %zu}\n",
               out, frame, (long long)atoms_job, (long long)atoms_step, nmarks);
    else if (o->json)
        printf("{\"png\": \"%s\", \"frame\": %d}\n", out, frame);
    else
        printf("%s\n", out);
    return 0;
}

int main(int argc, char **argv)
{
    struct opts o;
    if (parse(argc, argv, &o) != 0) {
        usage(stderr);
        return 1;
    }
    struct dashi_error err;
    dashi_error_clear(&err);
    static const char *const known[] = {"ping", "put", "get", "submit", "status", "show", "wait", "cancel",
                                        "list", "metrics", "hashes", "shutdown", "render", "acct", "resume",
                                        "atoms", "lineage", "events", "audit", "plot", "compare", "export", "fsck", NULL};
    if (!in_list(known, o.cmd)) {
        dashi_fail(&err, DASHI_E_UNKNOWN_OP, "command", "unknown command '%s' (see dashi --help)", o.cmd);
        return fail(&o, &err);
    }
    struct dashi_client c;
    if (client_open(&c, o.autostart, &err) != 0) {
        client_close(&c);
        return fail(&o, &err);
    }
    int status;
    int64_t id = 0;
    const char *cmd = o.cmd;
    if (strcmp(cmd, "ping") == 0 || strcmp(cmd, "shutdown") == 0) {
        status = simple_call(&c, &o, cmd, NULL, NULL, false, &err);
    } else if (strcmp(cmd, "put") == 0) {
        status = cmd_put(&c, &o, &err);
    } else if (strcmp(cmd, "get") == 0) {
        status = cmd_get(&c, &o, &err);
    } else if (strcmp(cmd, "submit") == 0) {
        status = cmd_submit(&c, &o, &err);
    } else if (strcmp(cmd, "render") == 0) {
        status = cmd_render(&c, &o, &err);
    } else if (strcmp(cmd, "list") == 0) {
        status = print_list(&c, &o, &err);
    } else if (strcmp(cmd, "fsck") == 0) {
        bool clean;
        status = cmd_fsck(&c, o.json, &clean, &err) != 0 ? fail(&o, &err)
                 : clean                                 ? 0
                                                         : dashi_code_exit_status(DASHI_E_CORRUPT);
    } else if (strcmp(cmd, "acct") == 0) {
        status = acct_run(&c, o.json, opt(&o, "user"), opt(&o, "since"), &err) != 0 ? fail(&o, &err) : 0;
    } else if (strcmp(cmd, "plot") == 0 || strcmp(cmd, "compare") == 0 || strcmp(cmd, "export") == 0) {
        struct cmd_args ca = {o.pos, o.npos, o.names, o.values, o.nopts, o.json};
        int rc = cmd[0] == 'p' ? cmd_plot(&c, &ca, &err) : cmd[0] == 'c' ? cmd_compare(&c, &ca, &err)
                                                                         : cmd_export(&c, &ca, &err);
        status = rc != 0 ? fail(&o, &err) : 0;
    } else if (need_id(&o, &id, &err) != 0) {
        status = fail(&o, &err);
    } else if (cmd_atoms_handles(cmd)) {
        status = cmd_atoms_run(&c, cmd, id, o.json, opt_lookup, &o, &err) != 0 ? fail(&o, &err) : 0;
    } else if (strcmp(cmd, "wait") == 0) {
        status = wait_job(&c, &o, id, &err);
    } else {
        struct id_arg a = {id, NULL, NULL};
        if (strcmp(cmd, "metrics") == 0 && opt(&o, "key")) {
            a.key = "key";
            a.value = opt(&o, "key");
        }
        status = simple_call(&c, &o, cmd, pack_id, &a, strcmp(cmd, "show") == 0, &err);
    }
    client_close(&c);
    return status;
}
