/* SPDX-License-Identifier: MIT */
/* `dashi submit | wait | list | status | show | cancel | resume | metrics | hashes`:
 * submitting jobs and looking at them (docs/cli.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "answer_text.h"
#include "cli.h"
#include "json.h"
#include "output.h"

/* ---- wait ---- */

static int on_wait_event(const msgpack_object *ev, void *ctx)
{
    (void)ctx;
    const msgpack_object *st = map_get(ev, "state"), *step = map_get(ev, "step"), *total = map_get(ev, "total");
    char state[16] = "";
    if (st && st->type == MSGPACK_OBJECT_STR)
        snprintf(state, sizeof state, "%.*s", (int)st->via.str.size, st->via.str.ptr);
    print_progress_rate(state, step && step->type == MSGPACK_OBJECT_POSITIVE_INTEGER ? step->via.u64 : 0,
                        total && total->type == MSGPACK_OBJECT_POSITIVE_INTEGER ? total->via.u64 : 0,
                        obj_number(map_get(ev, "rate"), 0), obj_number(map_get(ev, "eta"), -1));
    return 0;
}

int job_exit_status(const msgpack_object *rec)
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

/* Waits for job id (a progress bar on a terminal) and prints its final record; with
 * summary, a pipeline that succeeded prints its summary instead (`submit pipeline --wait`). */
static int wait_job(struct dashi_client *c, const struct cli_opts *o, int64_t id, bool summary,
                    struct dashi_error *err)
{
    msgpack_unpacked resp;
    msgpack_unpacked_init(&resp);
    const msgpack_object *result;
    struct cmd_id_key a = {id, NULL};
    int rc = client_call(c, "wait", cmd_pack_id_key, &a, on_wait_event, NULL, &resp, &result, err);
    end_progress();
    int status = -1;
    if (rc == 0) {
        status = job_exit_status(result);
        if (summary && status == 0 && pipeline_is(result))
            pipeline_print_summary(result, o->args.json);
        else
            cli_print_result(o, result, true);
    }
    msgpack_unpacked_destroy(&resp);
    return status;
}

/* ---- show and wait of several jobs ---- */

/* The answers of op (show or wait) for every job id on the command line, in order, or -1
 * at the first that fails (nothing printed then). */
static int call_each_id(struct dashi_client *c, const struct cli_opts *o, const char *op, struct cmd_result *r,
                        struct dashi_error *err)
{
    for (int i = 0; i < o->args.npos; i++)
        cmd_result_init(&r[i]);
    for (int i = 0; i < o->args.npos; i++) {
        int64_t id;
        if (cmd_parse_id(o->pos[i], &id, err) != 0 || cmd_call_id(c, op, id, NULL, &r[i], err) != 0)
            return -1;
    }
    return 0;
}

/* Prints the records: one document with --json ({"jobs": [...]}), else a blank line between. */
static void print_records(const struct cli_opts *o, const struct cmd_result *r, int n)
{
    if (o->args.json)
        fputs("{\"jobs\": [\n", stdout);
    for (int i = 0; i < n; i++) {
        if (o->args.json) {
            json_write(stdout, r[i].obj, 2);
            fputs(i + 1 < n ? ",\n" : "\n", stdout);
        } else {
            fputs(i ? "\n" : "", stdout);
            print_record_text(stdout, r[i].obj);
        }
    }
    if (o->args.json)
        fputs("]}\n", stdout);
}

/* show/wait ID ID...: every job's record; wait's status is the worst of the jobs'. */
static int several_jobs(struct dashi_client *c, const struct cli_opts *o, const char *op, struct dashi_error *err)
{
    struct cmd_result r[CLI_MAX_POS];
    int status = call_each_id(c, o, op, r, err);
    if (status == 0)
        print_records(o, r, o->args.npos);
    for (int i = 0; i < o->args.npos; i++) {
        if (status >= 0 && strcmp(op, "wait") == 0 && job_exit_status(r[i].obj) > status)
            status = job_exit_status(r[i].obj);
        cmd_result_free(&r[i]);
    }
    return status;
}

int cmd_wait(struct dashi_client *c, struct cli_opts *o, struct dashi_error *err)
{
    return o->args.npos > 1 ? several_jobs(c, o, "wait", err) : wait_job(c, o, o->job, false, err);
}

/* ---- submit ---- */

/* Values that name an existing .npy file are uploaded and replaced by their hash. */
static int upload_file_args(struct dashi_client *c, struct cli_opts *o, char (*hashes)[DASHI_HASH_HEX + 1],
                            struct dashi_error *err)
{
    for (int i = 0; i < o->args.nopts; i++) {
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

/* The options of submit that are part of the request's envelope, not the job's args. */
static const char *const submit_envelope[] = {"wait", "priority", "private", "time-limit", "no-reuse", "name", "tag",
                                              "device", "executor", "slurm-arg", NULL};

/* Packs every --name (skipped by the envelope: the job's args never hold them) as an
 * array of strings, typed as text whatever they look like. */
static void pack_repeated(msgpack_packer *pk, const struct cli_opts *o, const char *name)
{
    uint32_t n = 0;
    for (int i = 0; i < o->args.nopts; i++)
        n += strcmp(o->names[i], name) == 0;
    msgpack_pack_array(pk, n);
    for (int i = 0; i < o->args.nopts; i++)
        if (strcmp(o->names[i], name) == 0)
            pk_str(pk, o->values[i] ? o->values[i] : "");
}

void cli_pack_submission(msgpack_packer *pk, const struct cli_opts *o, const char *const *envelope, uint32_t nextra)
{
    const char *prio = cli_opt(o, "priority");
    bool priv = cli_opt(o, "private") != NULL;
    const char *limit = cli_opt(o, "time-limit");
    bool no_reuse = cli_opt(o, "no-reuse") != NULL;
    const char *name = cli_opt(o, "name");
    bool tags = cli_opt(o, "tag") != NULL;
    const char *executor = cli_opt(o, "executor");
    bool slurm_args = cli_opt(o, "slurm-arg") != NULL;
    bool pinnable = false; /* only where the envelope takes --device (submit): else it is a job arg */
    for (const char *const *e = envelope; *e && !pinnable; e++)
        pinnable = strcmp(*e, "device") == 0;
    const char *device = pinnable ? cli_opt(o, "device") : NULL;
    msgpack_pack_map(pk, 2 + nextra + (prio ? 1 : 0) + (priv ? 1 : 0) + (limit ? 1 : 0) + (no_reuse ? 1 : 0) +
                             (name ? 1 : 0) + (tags ? 1 : 0) + (device ? 1 : 0) + (executor ? 1 : 0) +
                             (slurm_args ? 1 : 0));
    pk_kv_str(pk, "kind", o->pos[0]);
    pk_key(pk, "args");
    struct cli_optmap m = {o, envelope, NULL};
    cli_pack_optmap(pk, &m);
    if (prio) {
        pk_key(pk, "priority");
        cli_pack_value(pk, prio);
    }
    if (priv)
        pk_kv_bool(pk, "private", true);
    if (limit) {
        pk_key(pk, "time_limit");
        cli_pack_value(pk, limit);
    }
    if (no_reuse)
        pk_kv_bool(pk, "reuse", false);
    if (name)
        pk_kv_str(pk, "name", name); /* text even when it reads as a number */
    if (tags) {
        pk_key(pk, "tags");
        pack_repeated(pk, o, "tag");
    }
    if (device)
        pk_kv_str(pk, "device", device); /* a name or an index, as text: the daemon resolves it */
    if (executor)
        pk_kv_str(pk, "executor", executor);
    if (slurm_args) { /* each word to sbatch as it is (docs/cluster.md) */
        pk_key(pk, "slurm_args");
        pack_repeated(pk, o, "slurm-arg");
    }
}

static void pack_submit(msgpack_packer *pk, void *ctx)
{
    cli_pack_submission(pk, ctx, submit_envelope, 0);
}

/* Submits (the files uploaded) and prints the record, or with --wait waits for the job. */
static int submit_job(struct dashi_client *c, struct cli_opts *o, struct dashi_error *err)
{
    msgpack_unpacked resp;
    msgpack_unpacked_init(&resp);
    const msgpack_object *result;
    if (client_call(c, "submit", pack_submit, o, NULL, NULL, &resp, &result, err) != 0) {
        msgpack_unpacked_destroy(&resp);
        return -1;
    }
    const msgpack_object *id = map_get(result, "id");
    if (cli_opt(o, "wait") && id && id->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
        int64_t jid = (int64_t)id->via.u64;
        if (!o->args.json)
            fprintf(stderr, "submitted job %lld\n", (long long)jid);
        msgpack_unpacked_destroy(&resp);
        return wait_job(c, o, jid, true, err);
    }
    cli_print_result(o, result, true);
    if (!o->args.json && pipeline_is(result)) /* which jobs its stages are */
        pipeline_print_text(result);
    msgpack_unpacked_destroy(&resp);
    return 0;
}

int cmd_submit(struct dashi_client *c, struct cli_opts *o, struct dashi_error *err)
{
    if (o->args.npos < 1)
        return dashi_fail(err, DASHI_E_MISSING_FIELD, "kind", "submit needs a job kind (e.g. rollout)");
    if (describe_check_options(c, o->pos[0], &o->args, submit_envelope, err) != 0)
        return -1;
    char(*hashes)[DASHI_HASH_HEX + 1] = calloc(CLI_MAX_OPTS, DASHI_HASH_HEX + 1);
    if (!hashes)
        return 7; /* the exit status of an internal error, with nothing left to say it */
    int status = upload_file_args(c, o, hashes, err) != 0 ? -1 : submit_job(c, o, err);
    free(hashes);
    return status;
}

/* ---- the columns of list's text ---- */

static void cell_str(char *out, size_t cap, const msgpack_object *v)
{
    if (v && v->type == MSGPACK_OBJECT_STR)
        snprintf(out, cap, "%.*s", (int)v->via.str.size, v->via.str.ptr);
    else
        snprintf(out, cap, "-");
}

static void col_id(const msgpack_object *j, char *out, size_t cap) { snprintf(out, cap, "%lld", (long long)obj_i64(map_get(j, "id"))); }
static void col_kind(const msgpack_object *j, char *out, size_t cap) { cell_str(out, cap, map_get(j, "kind")); }
static void col_state(const msgpack_object *j, char *out, size_t cap) { cell_str(out, cap, map_get(j, "state")); }
static void col_user(const msgpack_object *j, char *out, size_t cap) { cell_str(out, cap, map_get(j, "user")); }
static void col_name(const msgpack_object *j, char *out, size_t cap) { cell_str(out, cap, map_get(j, "name")); }

static void col_progress(const msgpack_object *j, char *out, size_t cap)
{
    const msgpack_object *prog = map_get(j, "progress"), *reused = map_get(j, "reused_from");
    int len = snprintf(out, cap, "%lld/%lld", (long long)obj_i64(map_get(prog, "step")),
                       (long long)obj_i64(map_get(prog, "total")));
    const msgpack_object *parent = map_get(j, "parent");
    if (reused && reused->type == MSGPACK_OBJECT_POSITIVE_INTEGER && len > 0 && (size_t)len < cap)
        len += snprintf(out + len, cap - (size_t)len, " (reused from %llu)", (unsigned long long)reused->via.u64);
    if (parent && parent->type == MSGPACK_OBJECT_POSITIVE_INTEGER && len > 0 && (size_t)len < cap)
        snprintf(out + len, cap - (size_t)len, " (stage of pipeline %llu)", /* shown with --all or --kind */
                 (unsigned long long)parent->via.u64);
}

/* Wall time since it started (to its end when it ended); "-" before it starts. */
static void col_elapsed(const msgpack_object *j, char *out, size_t cap)
{
    double started = obj_number(map_get(j, "started_at"), 0), ended = obj_number(map_get(j, "ended_at"), 0);
    if (started <= 0) {
        snprintf(out, cap, "-");
        return;
    }
    double s = (ended > 0 ? ended : (double)time(NULL)) - started;
    s = s > 0 ? s : 0;
    if (s < 60)
        snprintf(out, cap, "%.1fs", s);
    else if (s < 3600)
        snprintf(out, cap, "%dm%02ds", (int)(s / 60), (int)s % 60);
    else
        snprintf(out, cap, "%dh%02dm", (int)(s / 3600), (int)(s / 60) % 60);
}

/* Why a queued job does not run yet (the scheduler's reason; for a Slurm job its Slurm
 * job id and node while it is there), "-" when none; an ended Slurm job: where it ran. */
static void col_reason(const msgpack_object *j, char *out, size_t cap)
{
    const msgpack_object *reason = map_get(j, "reason"), *id = map_get(j, "slurm_job_id"), *node = map_get(j, "node");
    if ((!reason || reason->type != MSGPACK_OBJECT_STR) && id && id->type == MSGPACK_OBJECT_STR) {
        char where[64];
        cell_str(where, sizeof where, node);
        snprintf(out, cap, "slurm %.*s on %s", (int)id->via.str.size, id->via.str.ptr, where);
        return;
    }
    cell_str(out, cap, reason);
}

struct list_column {
    const char *title;
    int width; /* 0: the last column, unpadded */
    void (*cell)(const msgpack_object *job, char *out, size_t cap);
};

/* One line per column: a column is a title, a width and how to fill a cell. */
static const struct list_column list_columns[] = {
    {"ID", 6, col_id},         {"KIND", 9, col_kind},       {"STATE", 11, col_state}, {"USER", 10, col_user},
    {"ELAPSED", 8, col_elapsed}, {"NAME", 16, col_name},    {"PROGRESS", 12, col_progress},
    {"REASON", 0, col_reason},
};

static void print_cell(const struct list_column *col, const char *text)
{
    if (col->width)
        printf("%-*s ", col->width, text);
    else
        printf("%s\n", text);
}

static void print_jobs_text(const msgpack_object *result)
{
    const size_t ncols = sizeof list_columns / sizeof list_columns[0];
    for (size_t k = 0; k < ncols; k++)
        print_cell(&list_columns[k], list_columns[k].title);
    const msgpack_object *jobs = map_get(result, "jobs");
    for (uint32_t i = 0; jobs && jobs->type == MSGPACK_OBJECT_ARRAY && i < jobs->via.array.size; i++) {
        for (size_t k = 0; k < ncols; k++) {
            char cell[160];
            list_columns[k].cell(&jobs->via.array.ptr[i], cell, sizeof cell);
            print_cell(&list_columns[k], cell);
        }
    }
}

/* "50 of 312 shown", when the filter matches more than the rows shown. */
static void print_more_rows(const msgpack_object *result)
{
    const msgpack_object *jobs = map_get(result, "jobs");
    int64_t total = obj_i64(map_get(result, "total"));
    uint32_t shown = jobs && jobs->type == MSGPACK_OBJECT_ARRAY ? jobs->via.array.size : 0;
    if (total > (int64_t)shown)
        printf("%u of %lld shown; --limit N for more\n", shown, (long long)total);
}

/* --param KEY=VALUE (repeatable): the list op's param map, each value typed. */
static int count_params(const struct cli_opts *o, struct dashi_error *err)
{
    int n = 0;
    for (int i = 0; i < o->args.nopts; i++) {
        if (strcmp(o->names[i], "param") != 0)
            continue;
        const char *v = o->values[i];
        if (!v || !strchr(v, '=') || v[0] == '=')
            return dashi_fail(err, DASHI_E_BAD_VALUE, "param", "--param takes KEY=VALUE (e.g. --param cs=0.2), got %s",
                              v ? v : "nothing");
        n++;
    }
    return n;
}

static void pack_params_filter(msgpack_packer *pk, const struct cli_opts *o, int n)
{
    msgpack_pack_map(pk, (size_t)n);
    for (int i = 0; i < o->args.nopts; i++) {
        if (strcmp(o->names[i], "param") != 0)
            continue;
        const char *eq = strchr(o->values[i], '=');
        msgpack_pack_str(pk, (size_t)(eq - o->values[i]));
        msgpack_pack_str_body(pk, o->values[i], (size_t)(eq - o->values[i]));
        cli_pack_value(pk, eq + 1);
    }
}

/* ---- list ---- */

struct list_page {
    const struct cli_opts *o;
    long long page;
    int nparams; /* --param filters */
};

/* What list's options add to the filters cli_pack_optmap packs: the page size, --name
 * as text, every --tag and the --param map. */
static void pack_list_extra(msgpack_packer *pk, void *ctx)
{
    const struct list_page *lp = ctx;
    const char *name = cli_opt(lp->o, "name");
    pk_kv_i64(pk, "limit", lp->page);
    if (name)
        pk_kv_str(pk, "name", name);
    if (cli_opt(lp->o, "tag")) {
        pk_key(pk, "tag");
        pack_repeated(pk, lp->o, "tag");
    }
    if (lp->nparams) {
        pk_key(pk, "param");
        pack_params_filter(pk, lp->o, lp->nparams);
    }
}

static void pack_list_page(msgpack_packer *pk, void *ctx)
{
    static const char *const only[] = {"state", "kind", "user", "group", "all", NULL}; /* typed: group 3 is an id */
    const struct list_page *lp = ctx;
    struct cli_optmap m = {lp->o, NULL, only};
    uint32_t nextra = 1 + (cli_opt(lp->o, "name") ? 1 : 0) + (cli_opt(lp->o, "tag") ? 1 : 0) + (lp->nparams ? 1 : 0);
    pack_map_extended(pk, cli_pack_optmap, &m, nextra, pack_list_extra, ctx);
}

int cmd_list(struct dashi_client *c, struct cli_opts *o, struct dashi_error *err)
{
    /* --limit is the number of jobs shown; the daemon's pages hold at most DASHI_PAGE_JOBS. */
    const char *limit_opt = cli_opt(o, "limit");
    long long limit = limit_opt ? atoll(limit_opt) : 50;
    if (limit < 1)
        return dashi_fail(err, DASHI_E_BAD_VALUE, "limit", "--limit must be a positive integer, got %s", limit_opt);
    int nparams = count_params(o, err);
    if (nparams < 0)
        return -1;
    struct list_page lp = {o, limit < DASHI_PAGE_JOBS ? limit : DASHI_PAGE_JOBS, nparams};
    msgpack_unpacked resp;
    msgpack_unpacked_init(&resp);
    const msgpack_object *result;
    if (client_call_all(c, "list", pack_list_page, &lp, "jobs", (uint64_t)limit, &resp, &result, err) != 0) {
        msgpack_unpacked_destroy(&resp);
        return -1;
    }
    if (o->args.json) {
        print_json(result);
    } else {
        print_jobs_text(result);
        print_more_rows(result);
    }
    msgpack_unpacked_destroy(&resp);
    return 0;
}

/* ---- one job's record, metrics and hashes ---- */

int cmd_job_op(struct dashi_client *c, struct cli_opts *o, struct dashi_error *err)
{
    struct cmd_id_key a = {o->job, NULL};
    return cli_call_print(c, o, o->cmd, cmd_pack_id_key, &a, false, false, err);
}

int cmd_show(struct dashi_client *c, struct cli_opts *o, struct dashi_error *err)
{
    if (o->args.npos > 1)
        return several_jobs(c, o, "show", err);
    struct cmd_id_key a = {o->job, NULL};
    msgpack_unpacked resp;
    msgpack_unpacked_init(&resp);
    const msgpack_object *result;
    int rc = client_call(c, "show", cmd_pack_id_key, &a, NULL, NULL, &resp, &result, err);
    if (rc == 0)
        cli_print_result(o, result, true);
    if (rc == 0 && !o->args.json && pipeline_is(result)) { /* its summary under the record */
        printf("\n");
        pipeline_print_text(result);
    }
    msgpack_unpacked_destroy(&resp);
    return rc;
}

/* A paged answer about one job: --json as it is, else as text prints it. */
static int call_paged_text(struct dashi_client *c, const struct cli_opts *o, const char *op, const char *key,
                           void (*text)(FILE *f, const msgpack_object *result), struct dashi_error *err)
{
    struct cmd_result r;
    int rc = cmd_call_id(c, op, o->job, key, &r, err);
    if (rc == 0 && o->args.json)
        print_json(r.obj);
    else if (rc == 0)
        text(stdout, r.obj);
    cmd_result_free(&r);
    return rc;
}

int cmd_metrics(struct dashi_client *c, struct cli_opts *o, struct dashi_error *err)
{
    return call_paged_text(c, o, "metrics", cli_opt(o, "key"), print_metrics_text, err);
}

int cmd_hashes(struct dashi_client *c, struct cli_opts *o, struct dashi_error *err)
{
    return call_paged_text(c, o, "hashes", NULL, print_hashes_text, err);
}
