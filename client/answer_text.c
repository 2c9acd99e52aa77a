/* SPDX-License-Identifier: MIT */
#include "answer_text.h"

#include <math.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>

#include "client.h"
#include "cmd_analysis.h"

static const msgpack_object *array_at(const msgpack_object *a, uint32_t i)
{
    return a && a->type == MSGPACK_OBJECT_ARRAY && i < a->via.array.size ? &a->via.array.ptr[i] : NULL;
}

static uint32_t array_size(const msgpack_object *a)
{
    return a && a->type == MSGPACK_OBJECT_ARRAY ? a->via.array.size : 0;
}

static bool number(const msgpack_object *o, double *v) { return o && cmd_number_of(o, v); }

static bool int_of(const msgpack_object *o, int64_t *v)
{
    if (o && o->type == MSGPACK_OBJECT_POSITIVE_INTEGER && o->via.u64 <= INT64_MAX)
        *v = (int64_t)o->via.u64;
    else if (o && o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
        *v = o->via.i64;
    else
        return false;
    return true;
}

/* What a series' points come to, leaving out its summary scalar (step -1) and NaNs. */
struct series_stats {
    uint32_t points, nans;
    bool has_scalar;
    double scalar, first, last, min, max;
};

static void series_stats(const msgpack_object *series, struct series_stats *s)
{
    const msgpack_object *steps = map_get(series, "steps"), *values = map_get(series, "values");
    memset(s, 0, sizeof *s);
    s->first = s->last = s->min = s->max = NAN;
    for (uint32_t i = 0; i < array_size(steps) && i < array_size(values); i++) {
        int64_t step;
        double v;
        if (!int_of(array_at(steps, i), &step))
            continue; /* not a point of the protocol's shape */
        if (!number(array_at(values, i), &v))
            v = NAN;
        if (step < 0) {
            s->has_scalar = true;
            s->scalar = v;
            continue;
        }
        s->points++;
        if (isnan(v)) {
            s->nans++;
            continue;
        }
        if (isnan(s->first))
            s->first = v;
        s->last = v;
        s->min = isnan(s->min) || v < s->min ? v : s->min;
        s->max = isnan(s->max) || v > s->max ? v : s->max;
    }
}

static int key_width(const msgpack_object *m)
{
    int w = 6;
    for (uint32_t i = 0; m && m->type == MSGPACK_OBJECT_MAP && i < m->via.map.size; i++)
        if (m->via.map.ptr[i].key.via.str.size > (uint32_t)w)
            w = (int)m->via.map.ptr[i].key.via.str.size;
    return w;
}

void print_metrics_text(FILE *f, const msgpack_object *result)
{
    const msgpack_object *m = map_get(result, "metrics");
    uint32_t n = m && m->type == MSGPACK_OBJECT_MAP ? m->via.map.size : 0;
    int w = key_width(m);
    bool header = false, scalars = false;
    for (uint32_t i = 0; i < n; i++) {
        const msgpack_object *key = &m->via.map.ptr[i].key;
        struct series_stats s;
        series_stats(&m->via.map.ptr[i].val, &s);
        if (s.points == 0)
            continue;
        if (!header)
            fprintf(f, "%-*s %7s %13s %13s %13s %13s\n", w, "series", "points", "first", "last", "min", "max");
        header = true;
        fprintf(f, "%-*.*s %7u %13.6g %13.6g %13.6g %13.6g", w, (int)key->via.str.size, key->via.str.ptr, s.points,
                s.first, s.last, s.min, s.max);
        if (s.nans)
            fprintf(f, "  (%u NaN)", s.nans);
        fputc('\n', f);
    }
    for (uint32_t i = 0; i < n; i++) {
        const msgpack_object *key = &m->via.map.ptr[i].key;
        struct series_stats s;
        series_stats(&m->via.map.ptr[i].val, &s);
        if (!s.has_scalar)
            continue;
        if (!scalars)
            fprintf(f, "%ssummary:\n", header ? "\n" : "");
        scalars = true;
        fprintf(f, "  %-*.*s %.9g\n", w, (int)key->via.str.size, key->via.str.ptr, s.scalar);
    }
    if (!header && !scalars)
        fputs("no metrics recorded yet\n", f);
}

static void print_str(FILE *f, const msgpack_object *o)
{
    if (o && o->type == MSGPACK_OBJECT_STR)
        fprintf(f, "%.*s", (int)o->via.str.size, o->via.str.ptr);
    else
        fputc('-', f);
}

void print_hashes_text(FILE *f, const msgpack_object *result)
{
    const msgpack_object *h = map_get(result, "hashes");
    if (array_size(h) == 0) {
        fputs("no state hashes recorded\n", f);
        return;
    }
    fprintf(f, "%4s %8s  %s\n", "traj", "step", "hash");
    for (uint32_t i = 0; i < array_size(h); i++) {
        const msgpack_object *row = array_at(h, i);
        int64_t traj = 0, step = 0;
        int_of(map_get(row, "traj"), &traj);
        int_of(map_get(row, "step"), &step);
        fprintf(f, "%4lld %8lld  ", (long long)traj, (long long)step);
        print_str(f, map_get(row, "hash"));
        fputc('\n', f);
    }
}

static bool time_of(const msgpack_object *rec, const char *key, double *t)
{
    return number(map_get(rec, key), t);
}

static void print_clock(FILE *f, double t)
{
    char buf[32];
    time_t s = (time_t)t;
    struct tm tm;
    if (localtime_r(&s, &tm) && strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm))
        fputs(buf, f);
    else
        fprintf(f, "%.0f", t);
}

void print_record_times(FILE *f, const msgpack_object *rec)
{
    double submitted, started, ended, gpu;
    if (time_of(rec, "submitted_at", &submitted)) {
        fprintf(f, "  %-10s ", "submitted");
        print_clock(f, submitted);
        if (time_of(rec, "started_at", &started))
            fprintf(f, ", queued %.1f s", started - submitted);
        if (time_of(rec, "started_at", &started) && time_of(rec, "ended_at", &ended))
            fprintf(f, ", ran %.1f s", ended - started);
        fputc('\n', f);
    }
    if (number(map_get(rec, "gpu_seconds"), &gpu))
        fprintf(f, "  %-10s %.3f s\n", "gpu time", gpu);
}

void print_record_events(FILE *f, const msgpack_object *rec)
{
    const msgpack_object *ev = map_get(rec, "events");
    if (!ev || ev->type != MSGPACK_OBJECT_ARRAY)
        return;
    fputs("  events\n", f);
    double first = 0;
    for (uint32_t i = 0; i < array_size(ev); i++) {
        const msgpack_object *e = array_at(ev, i), *detail = map_get(e, "detail");
        double at = 0;
        number(map_get(e, "at"), &at);
        if (i == 0)
            first = at;
        fputs("    ", f);
        print_clock(f, at);
        fprintf(f, " %+8.2fs  ", at - first);
        print_str(f, map_get(e, "state"));
        if (detail && detail->type == MSGPACK_OBJECT_STR) {
            fputs("  ", f);
            print_str(f, detail);
        }
        fputc('\n', f);
    }
}
