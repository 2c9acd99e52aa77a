/* SPDX-License-Identifier: MIT */
/* `dashi submit | wait | list | status | show | cancel | resume | metrics | hashes`:
 * submitting jobs and looking at them (docs/cli.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
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

/* Waits for job id (a progress bar on a terminal) and prints its final record. */
static int wait_job(struct dashi_client *c, const struct cli_opts *o, int64_t id, struct dashi_error *err)
{
    msgpack_unpacked resp;
    msgpack_unpacked_init(&resp);
    const msgpack_object *result;
    struct cmd_id_key a = {id, NULL};
    int rc = client_call(c, "wait", cmd_pack_id_key, &a, on_wait_event, NULL, &resp, &result, err);
    end_progress();
    int status = -1;
    if (rc == 0) {
        cli_print_result(o, result, true);
        status = job_exit_status(result);
    }
    msgpack_unpacked_destroy(&resp);
    return status;
}

int cmd_wait(struct dashi_client *c, struct cli_opts *o, struct dashi_error *err)
{
    return wait_job(c, o, o->job, err);
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
static const char *const submit_envelope[] = {"wait", "priority", "private", "time-limit", "no-reuse", NULL};

static void pack_submit(msgpack_packer *pk, void *ctx)
{
    const struct cli_opts *o = ctx;
    const char *prio = cli_opt(o, "priority");
    bool priv = cli_opt(o, "private") != NULL;
    const char *limit = cli_opt(o, "time-limit");
    bool no_reuse = cli_opt(o, "no-reuse") != NULL;
    msgpack_pack_map(pk, 2 + (prio ? 1 : 0) + (priv ? 1 : 0) + (limit ? 1 : 0) + (no_reuse ? 1 : 0));
    pk_kv_str(pk, "kind", o->pos[0]);
    pk_key(pk, "args");
    struct cli_optmap m = {o, submit_envelope, NULL};
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
        return wait_job(c, o, jid, err);
    }
    cli_print_result(o, result, true);
    msgpack_unpacked_destroy(&resp);
    return 0;
}

int cmd_submit(struct dashi_client *c, struct cli_opts *o, struct dashi_error *err)
{
    if (o->args.npos < 1)
        return dashi_fail(err, DASHI_E_MISSING_FIELD, "kind", "submit needs a job kind (e.g. rollout)");
    if (strcmp(o->pos[0], "pipeline") == 0)
        return cmd_pipeline(c, &o->args, err);
    char(*hashes)[DASHI_HASH_HEX + 1] = calloc(CLI_MAX_OPTS, DASHI_HASH_HEX + 1);
    if (!hashes)
        return 7; /* the exit status of an internal error, with nothing left to say it */
    int status = upload_file_args(c, o, hashes, err) != 0 ? -1 : submit_job(c, o, err);
    free(hashes);
    return status;
}

/* ---- list ---- */

struct list_page {
    struct cli_optmap *filters;
    long long page;
};

static void pack_filters(msgpack_packer *pk, void *ctx)
{
    cli_pack_optmap(pk, ((const struct list_page *)ctx)->filters);
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

static void print_jobs_text(const msgpack_object *result)
{
    const msgpack_object *jobs = map_get(result, "jobs");
    printf("%-6s %-9s %-11s %-10s %-12s %s\n", "ID", "KIND", "STATE", "USER", "PROGRESS", "REASON");
    for (uint32_t i = 0; jobs && jobs->type == MSGPACK_OBJECT_ARRAY && i < jobs->via.array.size; i++) {
        const msgpack_object *j = &jobs->via.array.ptr[i];
        const msgpack_object *id = map_get(j, "id"), *kind = map_get(j, "kind"), *state = map_get(j, "state"),
                             *user = map_get(j, "user"), *prog = map_get(j, "progress"),
                             *reused = map_get(j, "reused_from"), *reason = map_get(j, "reason");
        const msgpack_object *step = map_get(prog, "step"), *total = map_get(prog, "total");
        char from[40] = "";
        if (reused && reused->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
            snprintf(from, sizeof from, " (reused from %llu)", (unsigned long long)reused->via.u64);
        char progress[48];
        snprintf(progress, sizeof progress, "%llu/%llu", (unsigned long long)(step ? step->via.u64 : 0),
                 (unsigned long long)(total ? total->via.u64 : 0));
        bool has_reason = reason && reason->type == MSGPACK_OBJECT_STR;
        printf("%-6llu %-9.*s %-11.*s %-10.*s %-12s %.*s%s\n", (unsigned long long)id->via.u64,
               (int)kind->via.str.size, kind->via.str.ptr, (int)state->via.str.size, state->via.str.ptr,
               (int)user->via.str.size, user->via.str.ptr, progress, has_reason ? (int)reason->via.str.size : 1,
               has_reason ? reason->via.str.ptr : "-", from);
    }
}

int cmd_list(struct dashi_client *c, struct cli_opts *o, struct dashi_error *err)
{
    /* --limit is the number of jobs shown; the daemon's pages hold at most DASHI_PAGE_JOBS. */
    static const char *const only[] = {"state", "kind", "user", NULL};
    struct cli_optmap m = {o, NULL, only};
    const char *limit_opt = cli_opt(o, "limit");
    long long limit = limit_opt ? atoll(limit_opt) : 50;
    if (limit < 1)
        return dashi_fail(err, DASHI_E_BAD_VALUE, "limit", "--limit must be a positive integer, got %s", limit_opt);
    struct list_page lp = {&m, limit < DASHI_PAGE_JOBS ? limit : DASHI_PAGE_JOBS};
    msgpack_unpacked resp;
    msgpack_unpacked_init(&resp);
    const msgpack_object *result;
    if (client_call_all(c, "list", pack_list_page, &lp, "jobs", (uint64_t)limit, &resp, &result, err) != 0) {
        msgpack_unpacked_destroy(&resp);
        return -1;
    }
    if (o->args.json)
        print_json(result);
    else
        print_jobs_text(result);
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
    struct cmd_id_key a = {o->job, NULL};
    return cli_call_print(c, o, "show", cmd_pack_id_key, &a, false, true, err);
}

int cmd_metrics(struct dashi_client *c, struct cli_opts *o, struct dashi_error *err)
{
    struct cmd_id_key a = {o->job, cli_opt(o, "key")};
    return cli_call_print(c, o, "metrics", cmd_pack_id_key, &a, true, false, err);
}

int cmd_hashes(struct dashi_client *c, struct cli_opts *o, struct dashi_error *err)
{
    struct cmd_id_key a = {o->job, NULL};
    return cli_call_print(c, o, "hashes", cmd_pack_id_key, &a, true, false, err);
}
