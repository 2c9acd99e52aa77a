/* SPDX-License-Identifier: MIT */
/* `dashi log ID [--follow]` and `dashi watch [ID]` (docs/cli.md): a job's stored events,
 * and the live state of one job or all of the caller's, as the daemon pushes them. */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "json.h"
#include "output.h"

/* One document per line: what --json streams. */
static void print_json_line(const msgpack_object *o)
{
    json_write(stdout, o, -1);
    fputc('\n', stdout);
    fflush(stdout);
}

static void print_str(const msgpack_object *s, const char *otherwise)
{
    if (s && s->type == MSGPACK_OBJECT_STR)
        printf("%.*s", (int)s->via.str.size, s->via.str.ptr);
    else
        fputs(otherwise, stdout);
}

/* ---- log ---- */

/* "2026-12-07 13:30:01.250  running  detail" (local time). */
static void print_event_text(const msgpack_object *ev)
{
    double at = obj_number(map_get(ev, "at"), 0);
    time_t secs = (time_t)at;
    struct tm tm;
    char when[32] = "?";
    if (localtime_r(&secs, &tm))
        strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &tm);
    printf("%s.%03d  ", when, (int)((at - (double)secs) * 1000));
    print_str(map_get(ev, "state"), "?");
    const msgpack_object *detail = map_get(ev, "detail");
    if (detail && detail->type == MSGPACK_OBJECT_STR) {
        fputs("  ", stdout);
        print_str(detail, "");
    }
    fputc('\n', stdout);
    fflush(stdout);
}

static int on_log_event(const msgpack_object *ev, void *ctx)
{
    const struct cli_opts *o = ctx;
    if (o->args.json)
        print_json_line(ev);
    else
        print_event_text(ev);
    return 0;
}

static void pack_log_args(msgpack_packer *pk, void *ctx)
{
    const struct cli_opts *o = ctx;
    bool follow = cli_opt(o, "follow") != NULL;
    msgpack_pack_map(pk, follow ? 2 : 1);
    pk_kv_i64(pk, "id", o->job);
    if (follow)
        pk_kv_bool(pk, "follow", true);
}

int cmd_log(struct dashi_client *c, struct cli_opts *o, struct dashi_error *err)
{
    msgpack_unpacked resp;
    msgpack_unpacked_init(&resp);
    const msgpack_object *result;
    bool follow = cli_opt(o, "follow") != NULL;
    int rc = follow ? client_call(c, "log", pack_log_args, o, on_log_event, o, &resp, &result, err)
                    : client_call_all(c, "log", pack_log_args, o, "events", 0, &resp, &result, err);
    if (rc == 0 && follow && o->args.json) {
        print_json_line(result); /* the end: the job's final state */
    } else if (rc == 0 && !follow) {
        const msgpack_object *events = map_get(result, "events");
        if (o->args.json)
            print_json(result);
        for (uint32_t i = 0; !o->args.json && events && events->type == MSGPACK_OBJECT_ARRAY &&
                             i < events->via.array.size; i++)
            print_event_text(&events->via.array.ptr[i]);
    }
    msgpack_unpacked_destroy(&resp);
    return rc;
}

/* ---- watch ---- */

#define WATCH_TRACKED 64   /* jobs whose last line is remembered, for the text's pace */
#define WATCH_LINE_MS 1000 /* a running job's line at most once a second */

struct watch_line {
    int64_t job;
    uint64_t printed_ms;
    char state[16];
};

struct watch_view {
    const struct cli_opts *o;
    bool bar; /* one job on a terminal: a progress bar in place */
    struct watch_line lines[WATCH_TRACKED];
    size_t n;
};

static uint64_t monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Whether job's line is due: its state changed, or a second passed since the last one. */
static bool line_due(struct watch_view *v, int64_t job, const char *state)
{
    uint64_t now = monotonic_ms();
    struct watch_line *l = NULL;
    for (size_t i = 0; i < v->n && !l; i++)
        if (v->lines[i].job == job)
            l = &v->lines[i];
    if (!l && v->n < WATCH_TRACKED) {
        l = &v->lines[v->n++];
        memset(l, 0, sizeof *l);
        l->job = job;
    }
    if (!l)
        return true; /* more jobs than remembered: every line is shown */
    bool changed = strcmp(l->state, state) != 0;
    if (!changed && now - l->printed_ms < WATCH_LINE_MS)
        return false;
    snprintf(l->state, sizeof l->state, "%s", state);
    l->printed_ms = now;
    return true;
}

/* "job 12  running  120/300  41.2 steps/s, ETA 4s" or "job 13  queued  fair share: uid 1001 first". */
static void print_watch_line(const msgpack_object *ev, const char *state)
{
    double rate = obj_number(map_get(ev, "rate"), 0), eta = obj_number(map_get(ev, "eta"), -1);
    printf("job %lld  %s  %lld/%lld", (long long)obj_i64(map_get(ev, "job")), state,
           (long long)obj_i64(map_get(ev, "step")), (long long)obj_i64(map_get(ev, "total")));
    char speed[64];
    format_rate(speed, sizeof speed, rate, eta);
    if (speed[0])
        printf("  %s", speed);
    const msgpack_object *reason = map_get(ev, "reason"), *error = map_get(map_get(ev, "error"), "code");
    if (reason && reason->type == MSGPACK_OBJECT_STR) {
        fputs("  ", stdout);
        print_str(reason, "");
    }
    if (error && error->type == MSGPACK_OBJECT_STR) {
        fputs("  ", stdout);
        print_str(error, "");
    }
    fputc('\n', stdout);
    fflush(stdout);
}

static int on_watch_event(const msgpack_object *ev, void *ctx)
{
    struct watch_view *v = ctx;
    if (v->o->args.json) {
        print_json_line(ev);
        return 0;
    }
    char state[16] = "?";
    const msgpack_object *st = map_get(ev, "state");
    if (st && st->type == MSGPACK_OBJECT_STR)
        snprintf(state, sizeof state, "%.*s", (int)st->via.str.size, st->via.str.ptr);
    bool active = strcmp(state, "queued") == 0 || strcmp(state, "running") == 0;
    if (v->bar && active && strcmp(state, "running") == 0) {
        print_progress_rate(state, (uint64_t)obj_i64(map_get(ev, "step")), (uint64_t)obj_i64(map_get(ev, "total")),
                            obj_number(map_get(ev, "rate"), 0), obj_number(map_get(ev, "eta"), -1));
        return 0;
    }
    if (v->bar)
        end_progress();
    if (line_due(v, obj_i64(map_get(ev, "job")), state))
        print_watch_line(ev, state);
    return 0;
}

static void pack_watch_args(msgpack_packer *pk, void *ctx)
{
    const struct cli_opts *o = ctx;
    msgpack_pack_map(pk, o->job ? 1 : 0);
    if (o->job)
        pk_kv_i64(pk, "id", o->job);
}

/* The exit status of a watch: the first job that did not succeed decides, as with wait. */
static int watch_exit_status(const msgpack_object *answer)
{
    const msgpack_object *jobs = map_get(answer, "jobs");
    for (uint32_t i = 0; jobs && jobs->type == MSGPACK_OBJECT_ARRAY && i < jobs->via.array.size; i++) {
        int s = job_exit_status(&jobs->via.array.ptr[i]);
        if (s)
            return s;
    }
    return 0;
}

int cmd_watch(struct dashi_client *c, struct cli_opts *o, struct dashi_error *err)
{
    o->job = 0;
    if (o->args.npos > 1)
        return dashi_fail(err, DASHI_E_BAD_VALUE, "id", "watch takes at most one job id (none: all of yours)");
    if (o->args.npos == 1 && cmd_parse_id(o->pos[0], &o->job, err) != 0)
        return -1;
    struct watch_view v = {.o = o};
    v.bar = o->job && !o->args.json && isatty(2);
    msgpack_unpacked resp;
    msgpack_unpacked_init(&resp);
    const msgpack_object *result;
    int rc = client_call(c, "watch", pack_watch_args, o, on_watch_event, &v, &resp, &result, err);
    if (v.bar)
        end_progress();
    int status = -1;
    if (rc == 0) {
        if (o->args.json)
            print_json_line(result);
        const msgpack_object *jobs = map_get(result, "jobs");
        if (!o->args.json && (!jobs || jobs->type != MSGPACK_OBJECT_ARRAY || jobs->via.array.size == 0))
            puts("no active jobs");
        status = watch_exit_status(result);
    }
    msgpack_unpacked_destroy(&resp);
    return status;
}
