/* SPDX-License-Identifier: MIT */
/* `dashi render JOB|HASH -o FILE`: fetches a field (a blob, or a job's main field output)
 * and draws one frame of it as a figure (render.h). Which output a job kind's field is,
 * the frame choice and the options: docs/cli.md "render". */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "atoms_fetch.h"
#include "cli.h"
#include "render.h"

/* The output of each kind that render draws for a job id. */
static const struct {
    const char *kind, *output;
} MAIN_FIELD[] = {{"les", "trajectory"}, {"decode", "omega_hat"}};

static bool str_is(const msgpack_object *o, const char *s)
{
    return o && o->type == MSGPACK_OBJECT_STR && o->via.str.size == strlen(s) &&
           memcmp(o->via.str.ptr, s, o->via.str.size) == 0;
}

/* What is drawn: the blob's hash and, for a job, its kind and the time between frames. */
struct render_source {
    char hash[DASHI_HASH_HEX + 1];
    char kind[16];
    const char *output;
    int64_t job;       /* 0 for a hash */
    double frame_dt;   /* time between frames; 0 when unknown */
};

static int resolve_job(struct dashi_client *c, int64_t id, struct render_source *src, struct dashi_error *err)
{
    struct cmd_result r;
    int rc = cmd_call_id(c, "show", id, NULL, &r, err);
    const msgpack_object *kind = rc == 0 ? map_get(r.obj, "kind") : NULL;
    for (size_t i = 0; rc == 0 && !src->output && i < sizeof MAIN_FIELD / sizeof MAIN_FIELD[0]; i++)
        if (str_is(kind, MAIN_FIELD[i].kind)) {
            src->output = MAIN_FIELD[i].output;
            snprintf(src->kind, sizeof src->kind, "%s", MAIN_FIELD[i].kind);
        }
    if (rc == 0 && !src->output)
        rc = dashi_fail(err, DASHI_E_BAD_VALUE, "id",
                        "job %lld is a %.*s job: render draws the fields of les (trajectory) and decode (omega_hat) "
                        "jobs, or a blob by hash",
                        (long long)id, kind && kind->type == MSGPACK_OBJECT_STR ? (int)kind->via.str.size : 1,
                        kind && kind->type == MSGPACK_OBJECT_STR ? kind->via.str.ptr : "?");
    const msgpack_object *h = rc == 0 ? map_get(map_get(r.obj, "outputs"), src->output) : NULL;
    if (rc == 0 && (!h || h->type != MSGPACK_OBJECT_STR || h->via.str.size != DASHI_HASH_HEX))
        rc = dashi_fail(err, DASHI_E_NOT_FOUND, "id", "job %lld has no output '%s' (yet%s)", (long long)id,
                        src->output, strcmp(src->output, "omega_hat") == 0 ? ", or it ran without --observer snapshots" : "");
    if (rc == 0) {
        memcpy(src->hash, h->via.str.ptr, DASHI_HASH_HEX);
        src->hash[DASHI_HASH_HEX] = 0;
        src->job = id;
        const msgpack_object *params = map_get(r.obj, "params");
        double dt, every;
        if (strcmp(src->kind, "les") == 0 && cmd_number_of(map_get(params, "dt"), &dt) &&
            cmd_number_of(map_get(params, "save_every"), &every))
            src->frame_dt = dt * every;
    }
    cmd_result_free(&r);
    return rc;
}

static int resolve_source(struct dashi_client *c, const char *word, struct render_source *src, struct dashi_error *err)
{
    memset(src, 0, sizeof *src);
    if (strlen(word) == DASHI_HASH_HEX) {
        memcpy(src->hash, word, DASHI_HASH_HEX + 1);
        return 0;
    }
    int64_t id;
    if (cmd_parse_id(word, &id, err) != 0)
        return dashi_fail(err, DASHI_E_BAD_VALUE, "id", "'%s' is neither a job id nor a %d-digit blob hash", word,
                          DASHI_HASH_HEX);
    return resolve_job(c, id, src, err);
}

static int parse_number(const char *s, const char *field, double lo, double hi, double *v, struct dashi_error *err)
{
    char *end;
    errno = 0;
    *v = strtod(s, &end);
    if (errno || !*s || *end || !(*v >= lo && *v <= hi))
        return dashi_fail(err, DASHI_E_BAD_VALUE, field, "--%s must be a number in [%g, %g], got '%s'", field, lo, hi,
                          s);
    return 0;
}

/* The frame of --frame K or --t T (nearest frame), default the last. */
static int pick_frame(const struct cli_opts *o, size_t frames, double frame_dt, size_t *frame, struct dashi_error *err)
{
    const char *frame_s = cli_opt(o, "frame"), *t_s = cli_opt(o, "t");
    *frame = frames - 1;
    if (frame_s && t_s)
        return dashi_fail(err, DASHI_E_BAD_VALUE, "t", "give --frame or --t, not both");
    if (frame_s) {
        char *end;
        errno = 0;
        long long v = strtoll(frame_s, &end, 10);
        if (errno || !*frame_s || *end)
            return dashi_fail(err, DASHI_E_BAD_VALUE, "frame", "--frame must be a frame index, got '%s'", frame_s);
        if (v < 0 || (unsigned long long)v >= frames)
            return dashi_fail(err, DASHI_E_NOT_FOUND, "frame", "--frame %s is out of range: valid frames are 0..%zu",
                              frame_s, frames - 1);
        *frame = (size_t)v;
    } else if (t_s) {
        double t;
        if (frame_dt <= 0)
            return dashi_fail(err, DASHI_E_BAD_VALUE, "t",
                              "the time of a frame is known only for an les job; use --frame K (0..%zu)", frames - 1);
        double tmax = frame_dt * (double)(frames - 1);
        if (parse_number(t_s, "t", -1e300, 1e300, &t, err) != 0)
            return -1;
        if (t < -0.5 * frame_dt || t > tmax + 0.5 * frame_dt)
            return dashi_fail(err, DASHI_E_NOT_FOUND, "t", "--t %s is out of range: the frames span t = 0..%g", t_s,
                              tmax);
        *frame = (size_t)lround(fmax(0, t / frame_dt));
        if (*frame >= frames)
            *frame = frames - 1;
    }
    return 0;
}

int cmd_fetch_field(struct dashi_client *c, const char *hash, struct render_field *f, struct dashi_error *err)
{
    char tmp[] = "/tmp/dashi-render-XXXXXX";
    int fd = mkstemp(tmp);
    if (fd < 0)
        return dashi_fail(err, DASHI_E_IO, "", "mkstemp: %s", strerror(errno));
    close(fd);
    int rc = client_get_file(c, hash, tmp, err);
    if (rc == 0)
        rc = render_load(tmp, f, err);
    unlink(tmp);
    return rc;
}

/* The options that need no daemon, checked first so a bad command line costs nothing. */
static int parse_style(const struct cli_opts *o, struct render_style *st, struct dashi_error *err)
{
    const char *out = cli_opt(o, "o"), *size_s = cli_opt(o, "size"), *vmax_s = cli_opt(o, "vmax");
    enum fig_format fmt;
    if (fig_format_of(out, "o", &fmt, err) != 0 || cmap_parse(cli_opt(o, "cmap"), &st->cmap, err) != 0)
        return -1;
    double v = 512;
    if (size_s && parse_number(size_s, "size", 16, 8192, &v, err) != 0)
        return -1;
    st->size = (int)v;
    st->vmax = 0;
    if (vmax_s && parse_number(vmax_s, "vmax", 1e-300, 1e300, &st->vmax, err) != 0)
        return -1;
    if (cli_opt(o, "step") && !cli_opt(o, "atoms"))
        return dashi_fail(err, DASHI_E_BAD_VALUE, "step", "--step picks the atoms' step: it needs --atoms ID");
    return 0;
}

static void print_result(const struct cli_opts *o, const char *out, const struct render_source *src, size_t frame,
                         const struct render_field *f, const struct render_result *res, int64_t atoms_job, int64_t atoms_step,
                         size_t nmarks)
{
    if (!o->args.json) {
        printf("%s\n", out);
        return;
    }
    printf("{\"figure\": \"%s\", \"hash\": \"%s\", \"frame\": %zu, \"frames\": %zu, \"vmax\": %.17g, "
           "\"scale\": [%.17g, %.17g], \"panel\": [%g, %g, %g], \"grid\": [%zu, %zu]",
           out, src->hash, frame, f->frames, fmax(fabs(res->lo), fabs(res->hi)), res->lo, res->hi, res->panel.x,
           res->panel.y, res->panel.side, f->nx, f->ny);
    if (src->frame_dt > 0)
        printf(", \"t\": %.17g", src->frame_dt * (double)frame);
    if (cli_opt(o, "atoms"))
        printf(", \"atoms_job\": %lld, \"atoms_step\": %lld, \"atoms\": %zu", (long long)atoms_job,
               (long long)atoms_step, nmarks);
    printf("}\n");
}

/* Downloads the blob to a scratch file and draws it; the daemon only serves bytes (and,
 * with --atoms, the atoms of one step to mark on it). */
int cmd_render(struct dashi_client *c, struct cli_opts *o, struct dashi_error *err)
{
    const char *out = cli_opt(o, "o"), *atoms_s = cli_opt(o, "atoms");
    if (o->args.npos < 1 || !out || !*out)
        return dashi_fail(err, DASHI_E_MISSING_FIELD, o->args.npos < 1 ? "id" : "o",
                          "usage: dashi render JOB|HASH -o FILE.png|.svg|.pdf [--frame K | --t T] [--size PX] "
                          "[--vmax V] [--cmap diverging|sequential] [--atoms ID [--step T]]");
    struct render_style st;
    struct render_source src;
    if (parse_style(o, &st, err) != 0 || resolve_source(c, o->pos[0], &src, err) != 0)
        return -1;
    struct render_field f = {0};
    int rc = cmd_fetch_field(c, src.hash, &f, err);
    size_t frame = 0;
    if (rc == 0)
        rc = pick_frame(o, f.frames, src.frame_dt, &frame, err);
    struct atom_mark *marks = NULL;
    size_t nmarks = 0;
    int64_t atoms_job = 0, atoms_step = 0;
    if (rc == 0 && atoms_s) {
        rc = atoms_fetch_marks(c, atoms_s, cli_opt(o, "step"), (int)frame, &atoms_job, &atoms_step, &marks, &nmarks,
                               err);
        if (rc == 0)
            fprintf(stderr, "dashi: %zu atoms of job %lld at step %lld\n", nmarks, (long long)atoms_job,
                    (long long)atoms_step);
    }
    char title[160];
    int at = src.job ? snprintf(title, sizeof title, "job %lld %s %s", (long long)src.job, src.kind, src.output)
                     : snprintf(title, sizeof title, "%.12s…", src.hash);
    at += snprintf(title + at, sizeof title - (size_t)at, ", frame %zu of %zu", frame, f.frames);
    if (src.frame_dt > 0)
        snprintf(title + at, sizeof title - (size_t)at, ", t = %.4g", src.frame_dt * (double)frame);
    st.title = title;
    struct render_result res;
    if (rc == 0)
        rc = render_figure(&f, frame, &st, marks, nmarks, out, &res, err);
    if (rc == 0)
        print_result(o, out, &src, frame, &f, &res, atoms_job, atoms_step, nmarks);
    free(marks);
    render_field_free(&f);
    return rc;
}
