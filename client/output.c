/* SPDX-License-Identifier: MIT */
#include "output.h"

#include <string.h>
#include <unistd.h>

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
    if (v->type == MSGPACK_OBJECT_MAP && v->via.map.size == 0)
        return;
    fprintf(f, "  %-10s ", label);
    print_value(f, v);
    fputc('\n', f);
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
    field(f, rec, "metrics", "metrics");
    field(f, rec, "error", "error");
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
