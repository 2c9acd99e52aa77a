/* SPDX-License-Identifier: MIT */
#include "output.h"

#include <string.h>
#include <time.h>
#include <unistd.h>

#include "answer_text.h"
#include "client.h"
#include "json.h"

void print_json(const msgpack_object *o)
{
    json_write(stdout, o, 2);
    fputc('\n', stdout);
}

static void print_value(FILE *f, const msgpack_object *v)
{
    if (v->type == MSGPACK_OBJECT_STR)
        fprintf(f, "%.*s", (int)v->via.str.size, v->via.str.ptr);
    else
        json_write(f, v, -1);
}

void print_map_text(FILE *f, const msgpack_object *m)
{
    if (!m || m->type != MSGPACK_OBJECT_MAP) {
        if (m)
            print_value(f, m);
        fputc('\n', f);
        return;
    }
    for (uint32_t i = 0; i < m->via.map.size; i++) {
        print_value(f, &m->via.map.ptr[i].key);
        fputs(": ", f);
        print_value(f, &m->via.map.ptr[i].val);
        fputc('\n', f);
    }
}

static void field(FILE *f, const msgpack_object *rec, const char *label, const char *key)
{
    const msgpack_object *v = map_get(rec, key);
    if (!v || v->type == MSGPACK_OBJECT_NIL)
        return;
    if ((v->type == MSGPACK_OBJECT_MAP && v->via.map.size == 0) ||
        (v->type == MSGPACK_OBJECT_ARRAY && v->via.array.size == 0))
        return;
    fprintf(f, "  %-10s ", label);
    print_value(f, v);
    fputc('\n', f);
}

/* One line per output a keep rule released: "NAME: released (RULE; consumed by job N)". */
static void released_lines(FILE *f, const msgpack_object *released)
{
    for (uint32_t i = 0; released && released->type == MSGPACK_OBJECT_MAP && i < released->via.map.size; i++) {
        const msgpack_object *r = &released->via.map.ptr[i].val;
        fprintf(f, "  %-10s ", i ? "" : "released");
        print_value(f, &released->via.map.ptr[i].key);
        fputs(": released (", f);
        print_value(f, map_get(r, "keep"));
        fputs("; consumed by job ", f);
        print_value(f, map_get(r, "consumed_by"));
        fputs(")\n", f);
    }
}

/* show's notes, one per line: when (UTC) and who, then the text. */
static void print_notes(FILE *f, const msgpack_object *notes)
{
    for (uint32_t i = 0; notes && notes->type == MSGPACK_OBJECT_ARRAY && i < notes->via.array.size; i++) {
        const msgpack_object *n = &notes->via.array.ptr[i], *text = map_get(n, "text");
        time_t at = (time_t)obj_number(map_get(n, "at"), 0);
        struct tm tm;
        char when[32] = "?";
        if (gmtime_r(&at, &tm))
            strftime(when, sizeof when, "%Y-%m-%d %H:%M", &tm);
        fprintf(f, "  note       %s (uid %lld): %.*s\n", when, (long long)obj_i64(map_get(n, "uid")),
                text && text->type == MSGPACK_OBJECT_STR ? (int)text->via.str.size : 0,
                text && text->type == MSGPACK_OBJECT_STR ? text->via.str.ptr : "");
    }
}

void print_record_text(FILE *f, const msgpack_object *rec)
{
    fputs("job ", f);
    print_value(f, map_get(rec, "id"));
    fputs("  ", f);
    print_value(f, map_get(rec, "kind"));
    fputs("  ", f);
    print_value(f, map_get(rec, "state"));
    fputs("  (user ", f);
    print_value(f, map_get(rec, "user"));
    fputs(")\n", f);
    field(f, rec, "name", "name");
    field(f, rec, "tags", "tags");
    field(f, rec, "group", "group");
    field(f, rec, "waiting", "reason");
    field(f, rec, "device", "device");
    field(f, rec, "backend", "backend");
    field(f, rec, "precision", "precision");
    field(f, rec, "mode", "mode");
    field(f, rec, "progress", "progress");
    field(f, rec, "reused from", "reused_from");
    field(f, rec, "params", "params");
    field(f, rec, "inputs", "inputs");
    field(f, rec, "outputs", "outputs");
    released_lines(f, map_get(rec, "released"));
    field(f, rec, "metrics", "metrics");
    field(f, rec, "error", "error");
    print_record_times(f, rec);
    print_record_events(f, rec);
    print_notes(f, map_get(rec, "notes"));
}

void print_dashi_error(bool json, const struct dashi_error *err)
{
    if (json) {
        fputs("{\"error\": {\"code\": ", stdout);
        json_write_string(stdout, dashi_code_name(err->code), strlen(dashi_code_name(err->code)));
        fputs(", \"message\": ", stdout);
        json_write_string(stdout, err->message, strlen(err->message));
        fputs(", \"field\": ", stdout);
        if (err->field[0])
            json_write_string(stdout, err->field, strlen(err->field));
        else
            fputs("null", stdout);
        fputs("}}\n", stdout);
    }
    fprintf(stderr, "dashi: %s%s%s: %s\n", dashi_code_name(err->code), err->field[0] ? " " : "", err->field,
            err->message);
}

void print_progress(const char *state, uint64_t step, uint64_t total)
{
    print_progress_rate(state, step, total, 0, -1);
}

/* "41.2 steps/s, ETA 1m05s" into out, or "" while the rate is unknown. */
void format_rate(char *out, size_t size, double rate, double eta)
{
    out[0] = '\0';
    if (!(rate > 0))
        return;
    int used = snprintf(out, size, "%.3g steps/s", rate);
    if (eta < 0 || used < 0 || (size_t)used >= size)
        return;
    long s = (long)(eta + 0.5);
    if (s >= 3600)
        snprintf(out + used, size - (size_t)used, ", ETA %ldh%02ldm", s / 3600, s / 60 % 60);
    else if (s >= 60)
        snprintf(out + used, size - (size_t)used, ", ETA %ldm%02lds", s / 60, s % 60);
    else
        snprintf(out + used, size - (size_t)used, ", ETA %lds", s);
}

void print_progress_rate(const char *state, uint64_t step, uint64_t total, double rate, double eta)
{
    if (!isatty(2))
        return;
    int width = 30, filled = total ? (int)((double)step / (double)total * width) : 0;
    if (filled > width)
        filled = width;
    char speed[64];
    format_rate(speed, sizeof speed, rate, eta);
    /* \033[K clears what a longer line before it left. */
    fprintf(stderr, "\r%-9s [%.*s%*s] %llu/%llu%s%s\033[K", state, filled, "##############################",
            width - filled, "", (unsigned long long)step, (unsigned long long)total, speed[0] ? "  " : "", speed);
    fflush(stderr);
}

void end_progress(void)
{
    if (isatty(2))
        fputc('\n', stderr);
}
