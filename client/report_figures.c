/* SPDX-License-Identifier: MIT */
/* The figures of `dashi report` (docs/cli.md "Report"): for one job, each figure its kind
 * has, drawn by the figure commands' own handlers (figure, render, plot, lineage --png)
 * with the words the report builds for them, so a report shows exactly what those
 * commands draw. What they print goes wherever stdout is (the report points it at stderr). */
#include "report_figures.h"

#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "cmd_atoms.h"
#include "report_html.h"

enum { REPORT_MAX_KEYS = 8, REPORT_NAME_MAX = 64 };

static bool str_is(const msgpack_object *o, const char *s)
{
    return o && o->type == MSGPACK_OBJECT_STR && o->via.str.size == strlen(s) &&
           memcmp(o->via.str.ptr, s, o->via.str.size) == 0;
}

/* The words of one figure command, as if typed: dashi CMD WORD [--NAME VALUE]... */
struct sub_command {
    struct cli_opts o;
    char word[32];
};

static void sub_init(struct sub_command *s, const char *cmd, int64_t id)
{
    memset(s, 0, sizeof *s);
    s->o.cmd = cmd;
    s->o.args.pos = s->o.pos;
    s->o.args.names = s->o.names;
    s->o.args.values = s->o.values;
    snprintf(s->word, sizeof s->word, "%lld", (long long)id);
    s->o.pos[0] = s->word;
    s->o.args.npos = 1;
}

static void sub_opt(struct sub_command *s, const char *name, const char *value)
{
    int n = s->o.args.nopts;
    if (n < CLI_MAX_OPTS) {
        s->o.names[n] = name;
        s->o.values[n] = value;
        s->o.args.nopts++;
    }
}

/* A figure's drawing: 0 drawn to path, 1 when the job has no such figure, -1 with err. */
typedef int (*draw_fn)(struct dashi_client *c, int64_t id, const msgpack_object *rec, const char *path,
                       struct dashi_error *err);

/* The decode job whose canonical figure stands for rec: itself, or a pipeline's decode
 * stage (its record's stages.decode); 0 when there is none. */
static int64_t canonical_decode(const msgpack_object *rec, int64_t id)
{
    if (str_is(map_get(rec, "kind"), "decode"))
        return map_get(map_get(rec, "outputs"), "omega_hat") ? id : 0;
    if (str_is(map_get(rec, "kind"), "pipeline"))
        return obj_i64(map_get(map_get(rec, "stages"), "decode"));
    return 0;
}

static int draw_canonical(struct dashi_client *c, int64_t id, const msgpack_object *rec, const char *path,
                          struct dashi_error *err)
{
    int64_t decode = canonical_decode(rec, id);
    if (decode <= 0)
        return 1;
    struct sub_command s;
    sub_init(&s, "figure", decode);
    sub_opt(&s, "o", path);
    return cmd_figure(c, &s.o, err);
}

static int draw_field(struct dashi_client *c, int64_t id, const msgpack_object *rec, const char *path,
                      struct dashi_error *err)
{
    if (!str_is(map_get(rec, "kind"), "les") || !map_get(map_get(rec, "outputs"), "trajectory"))
        return 1;
    struct sub_command s;
    sub_init(&s, "render", id);
    sub_opt(&s, "o", path);
    return cmd_render(c, &s.o, err);
}

/* The names of the job's metric series (two points or more; summary scalars are the
 * table's), at most REPORT_MAX_KEYS. */
static size_t series_keys(const msgpack_object *metrics, char keys[REPORT_MAX_KEYS][REPORT_NAME_MAX])
{
    size_t n = 0;
    for (uint32_t i = 0; metrics && metrics->type == MSGPACK_OBJECT_MAP && i < metrics->via.map.size; i++) {
        const msgpack_object_kv *kv = &metrics->via.map.ptr[i];
        const msgpack_object *steps = map_get(&kv->val, "steps");
        uint32_t points = 0;
        for (uint32_t k = 0; steps && steps->type == MSGPACK_OBJECT_ARRAY && k < steps->via.array.size; k++)
            points += steps->via.array.ptr[k].type == MSGPACK_OBJECT_POSITIVE_INTEGER;
        if (points >= 2 && kv->key.type == MSGPACK_OBJECT_STR && kv->key.via.str.size < REPORT_NAME_MAX &&
            n < REPORT_MAX_KEYS) {
            memcpy(keys[n], kv->key.via.str.ptr, kv->key.via.str.size);
            keys[n++][kv->key.via.str.size] = 0;
        }
    }
    return n;
}

static int draw_metrics(struct dashi_client *c, int64_t id, const msgpack_object *rec, const char *path,
                        struct dashi_error *err)
{
    (void)rec;
    struct cmd_result m;
    char keys[REPORT_MAX_KEYS][REPORT_NAME_MAX];
    int rc = cmd_call_id(c, "metrics", id, NULL, &m, err);
    size_t n = rc == 0 ? series_keys(map_get(m.obj, "metrics"), keys) : 0;
    cmd_result_free(&m);
    if (rc != 0 || n == 0)
        return rc != 0 ? -1 : 1;
    struct sub_command s;
    sub_init(&s, "plot", id);
    for (size_t k = 0; k < n; k++)
        sub_opt(&s, "key", keys[k]);
    sub_opt(&s, "o", path);
    return cmd_plot(c, &s.o.args, err);
}

/* The options of the lineage command the report runs. */
struct lineage_words {
    char atom[48];
    const char *png;
};

static const char *lineage_opt(const void *ctx, const char *name)
{
    const struct lineage_words *w = ctx;
    if (strcmp(name, "atom") == 0)
        return w->atom;
    if (strcmp(name, "png") == 0)
        return w->png;
    if (strcmp(name, "depth") == 0)
        return "8";
    return strcmp(name, "limit") == 0 ? "400" : NULL;
}

static void pack_first_atom(msgpack_packer *pk, void *ctx)
{
    msgpack_pack_map(pk, 2);
    pk_kv_i64(pk, "id", *(const int64_t *)ctx);
    pk_kv_i64(pk, "limit", 1);
}

/* The descendants of the atoms job's first atom (the strongest at its first tracked step). */
static int draw_lineage(struct dashi_client *c, int64_t id, const msgpack_object *rec, const char *path,
                        struct dashi_error *err)
{
    if (!str_is(map_get(rec, "kind"), "atoms") || !str_is(map_get(rec, "state"), "succeeded"))
        return 1;
    msgpack_unpacked resp;
    msgpack_unpacked_init(&resp);
    const msgpack_object *result;
    struct lineage_words w = {.png = path};
    int rc = client_call(c, "atoms", pack_first_atom, &id, NULL, NULL, &resp, &result, err);
    const msgpack_object *atoms = rc == 0 ? map_get(result, "atoms") : NULL;
    if (rc == 0 && (!atoms || atoms->type != MSGPACK_OBJECT_ARRAY || atoms->via.array.size == 0))
        rc = 1; /* no atom to follow */
    if (rc == 0)
        snprintf(w.atom, sizeof w.atom, "%lld:%lld", (long long)obj_i64(map_get(atoms->via.array.ptr, "step")),
                 (long long)obj_i64(map_get(atoms->via.array.ptr, "idx")));
    msgpack_unpacked_destroy(&resp);
    return rc == 0 ? cmd_atoms_run(c, "lineage", id, false, lineage_opt, &w, err) : rc;
}

static const struct {
    const char *suffix, *caption;
    draw_fn draw;
} FIGURES[] = {
    {"figure.svg", "truth | decoded | error on one scale, and the metrics against time (dashi figure)",
     draw_canonical},
    {"field.svg", "the trajectory's last frame (dashi render)", draw_field},
    {"metrics.svg", "metric series against time (dashi plot)", draw_metrics},
    {"lineage.png", "lineage of the first atom, 8 generations of descendants (dashi lineage --png)", draw_lineage},
};

void report_figures(FILE *f, struct dashi_client *c, const char *dir, int64_t id, const msgpack_object *rec,
                    struct report_figure_count *count)
{
    for (size_t k = 0; k < sizeof FIGURES / sizeof FIGURES[0]; k++) {
        char name[96], path[4096];
        snprintf(name, sizeof name, "job-%lld-%s", (long long)id, FIGURES[k].suffix);
        snprintf(path, sizeof path, "%s/%s", dir, name);
        struct dashi_error err;
        dashi_error_clear(&err);
        int rc = FIGURES[k].draw(c, id, rec, path, &err);
        if (rc == 0) {
            html_figure(f, name, FIGURES[k].caption);
            count->drawn++;
        } else if (rc < 0) {
            fprintf(stderr, "dashi: report: job %lld: no %s: %s\n", (long long)id, FIGURES[k].suffix, err.message);
            fprintf(f, "<p class=\"missing\">No %s: ", FIGURES[k].suffix);
            html_cstr(f, err.message);
            fputs("</p>\n", f);
            count->missing++;
        }
    }
}
