/* SPDX-License-Identifier: MIT */
/* `dashi figure ID -o FILE`: the canonical evaluation figure of a pipeline (docs/cli.md
 * "figure"), given as the pipeline job or its decode stage. From the decode job the chain is followed through its params (truth: the les
 * job, op: the train job); the figure shows truth | decoded | error at one decoded step on
 * ONE colour scale ±V, V = max(|truth|, |decoded|, |error|), printed as `scale: +-V`, and
 * under them energy, enstrophy, relL2 and corr against t = step·dt with the end of the
 * training frames marked. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "axes.h"
#include "cli.h"
#include "figure.h"
#include "npy.h"
#include "render.h"

/* The pipeline's jobs and what the figure needs of their records. */
struct chain {
    int64_t decode, les, train;
    char truth_hash[DASHI_HASH_HEX + 1], decoded_hash[DASHI_HASH_HEX + 1], steps_hash[DASHI_HASH_HEX + 1];
    double dt, truth_every, train_end_frame; /* train_end_frame < 0: unknown */
};

static int id_param(const msgpack_object *record, const char *name, int64_t *id)
{
    double v;
    if (!cmd_number_of(map_get(map_get(record, "params"), name), &v) || v < 1)
        return -1;
    *id = (int64_t)v;
    return 0;
}

static int copy_hash(const msgpack_object *outputs, const char *name, char out[DASHI_HASH_HEX + 1])
{
    const msgpack_object *h = map_get(outputs, name);
    if (!h || h->type != MSGPACK_OBJECT_STR || h->via.str.size != DASHI_HASH_HEX)
        return -1;
    memcpy(out, h->via.str.ptr, DASHI_HASH_HEX);
    out[DASHI_HASH_HEX] = 0;
    return 0;
}

static bool kind_is(const msgpack_object *record, const char *kind)
{
    const msgpack_object *k = map_get(record, "kind");
    return k && k->type == MSGPACK_OBJECT_STR && k->via.str.size == strlen(kind) &&
           memcmp(k->via.str.ptr, kind, k->via.str.size) == 0;
}

static int read_decode(struct dashi_client *c, struct chain *ch, struct dashi_error *err)
{
    struct cmd_result r;
    int rc = cmd_call_id(c, "show", ch->decode, NULL, &r, err);
    if (rc == 0 && !kind_is(r.obj, "decode"))
        rc = dashi_fail(err, DASHI_E_BAD_VALUE, "id",
                        "job %lld is not a decode job: give a pipeline or its decode job (the last of les -> "
                        "train -> rollout -> decode)",
                        (long long)ch->decode);
    const msgpack_object *out = rc == 0 ? map_get(r.obj, "outputs") : NULL;
    double every = 1;
    if (rc == 0 && (copy_hash(out, "omega_hat", ch->decoded_hash) != 0 || copy_hash(out, "steps", ch->steps_hash) != 0))
        rc = dashi_fail(err, DASHI_E_NOT_FOUND, "id",
                        "decode job %lld has no omega_hat: run the pipeline with --observer snapshots",
                        (long long)ch->decode);
    if (rc == 0 && (id_param(r.obj, "truth", &ch->les) != 0 || id_param(r.obj, "op", &ch->train) != 0))
        rc = dashi_fail(err, DASHI_E_NOT_FOUND, "id",
                        "decode job %lld names no les job (truth) and train job (op) by id", (long long)ch->decode);
    if (rc == 0 && cmd_number_of(map_get(map_get(r.obj, "params"), "truth_every"), &every))
        ch->truth_every = every;
    cmd_result_free(&r);
    return rc;
}

static int read_les(struct dashi_client *c, struct chain *ch, struct dashi_error *err)
{
    struct cmd_result r;
    int rc = cmd_call_id(c, "show", ch->les, NULL, &r, err);
    if (rc == 0 && copy_hash(map_get(r.obj, "outputs"), "trajectory", ch->truth_hash) != 0)
        rc = dashi_fail(err, DASHI_E_NOT_FOUND, "id", "les job %lld has no trajectory", (long long)ch->les);
    if (rc == 0 && !cmd_number_of(map_get(map_get(r.obj, "params"), "dt"), &ch->dt))
        rc = dashi_fail(err, DASHI_E_NOT_FOUND, "id", "les job %lld has no dt", (long long)ch->les);
    cmd_result_free(&r);
    return rc;
}

/* The end of the training frames "A:B" (frame B - 1); -1 when the train job says none. */
static int read_train(struct dashi_client *c, struct chain *ch, struct dashi_error *err)
{
    struct cmd_result r;
    int rc = cmd_call_id(c, "show", ch->train, NULL, &r, err);
    const msgpack_object *f = rc == 0 ? map_get(map_get(r.obj, "params"), "frames") : NULL;
    ch->train_end_frame = -1;
    if (f && f->type == MSGPACK_OBJECT_STR) {
        char buf[64];
        snprintf(buf, sizeof buf, "%.*s", (int)f->via.str.size, f->via.str.ptr);
        const char *colon = strchr(buf, ':');
        if (colon && colon[1])
            ch->train_end_frame = strtod(colon + 1, NULL) - 1;
    }
    cmd_result_free(&r);
    return rc;
}

/* The decoded steps (i8) of the decode job. */
static int fetch_steps(struct dashi_client *c, const char *hash, int64_t **steps, size_t *n, struct dashi_error *err)
{
    char tmp[] = "/tmp/dashi-figure-XXXXXX";
    int fd = mkstemp(tmp);
    if (fd < 0)
        return dashi_fail(err, DASHI_E_IO, "", "mkstemp failed");
    close(fd);
    struct npy_info info;
    void *data = NULL;
    int rc = client_get_file(c, hash, tmp, err);
    if (rc == 0)
        rc = npy_load(tmp, &info, &data, err);
    unlink(tmp);
    if (rc == 0 && (info.dtype != NPY_I8 || info.ndim != 1)) {
        free(data);
        return dashi_fail(err, DASHI_E_BAD_VALUE, "steps", "the decode job's steps are not an i8 vector");
    }
    *steps = data;
    *n = rc == 0 ? info.shape[0] : 0;
    return rc;
}

/* Which decoded frame to show: --step S (a decoded step), default the last. */
static int pick_step(const struct cli_opts *o, const int64_t *steps, size_t n, size_t *k, struct dashi_error *err)
{
    const char *s = cli_opt(o, "step");
    if (n == 0)
        return dashi_fail(err, DASHI_E_NOT_FOUND, "step", "the decode job decoded no step");
    *k = n - 1;
    if (!s)
        return 0;
    char *end;
    long long v = strtoll(s, &end, 10);
    for (size_t i = 0; *s && !*end && i < n; i++)
        if (steps[i] == v) {
            *k = i;
            return 0;
        }
    return dashi_fail(err, DASHI_E_NOT_FOUND, "step", "--step %s is not a decoded step: they run %lld..%lld", s,
                      (long long)steps[0], (long long)steps[n - 1]);
}

enum { SIDE = 300, METRIC_W = 430, METRIC_H = 150 };

static const char *const METRICS[4] = {"energy", "enstrophy", "rel_l2", "corr"};

/* The four metric panels in a 2×2 grid from y0. */
static int draw_metrics(struct dashi_client *c, cairo_t *cr, const struct chain *ch, double y0,
                        struct dashi_error *err)
{
    double t_end = ch->train_end_frame >= 0 ? ch->train_end_frame * ch->truth_every * ch->dt : NAN;
    for (int m = 0; m < 4; m++) {
        struct cmd_series s = {0};
        if (cmd_fetch_series(c, ch->decode, METRICS[m], &s, err) != 0) {
            free(s.x);
            free(s.y);
            return -1;
        }
        for (size_t i = 0; i < s.n; i++)
            s.x[i] *= ch->dt;
        struct axes_series a = {s.x, s.y, s.n, m};
        double lo, hi;
        axes_x_range(&a, 1, &lo, &hi);
        if (isfinite(t_end))
            lo = fmin(lo, t_end), hi = fmax(hi, t_end);
        struct axes_panel p = {AXES_LEFT + (m % 2) * (METRIC_W + AXES_LEFT + AXES_RIGHT),
                               y0 + AXES_TOP + (m / 2) * (METRIC_H + AXES_TOP + AXES_BOTTOM), METRIC_W, METRIC_H,
                               "t", METRICS[m], t_end, "end of training"};
        axes_draw(cr, &p, lo, hi, &a, 1);
        free(s.x);
        free(s.y);
    }
    return 0;
}

/* Where field panel i (truth, decoded, error) lies. */
enum { PANEL_Y = FIG_PANEL_TOP + 20 };
static int panel_x(int i)
{
    return FIG_PANEL_LEFT + i * (FIG_PANEL_LEFT + SIDE + FIG_PANEL_RIGHT);
}

/* The three field panels on the shared scale ±v. */
static int draw_fields(struct fig *fig, const double *const fields[3], size_t nx, size_t ny, double v,
                       const char *const titles[3], struct dashi_error *err)
{
    for (int i = 0; i < 3; i++) {
        uint8_t *rgb = render_colours(fields[i], nx * ny, CMAP_DIVERGING, -v, v);
        if (!rgb)
            return dashi_fail(err, DASHI_E_TOO_LARGE, "", "out of memory for a %zux%zu image", nx, ny);
        struct fig_panel p = {panel_x(i), PANEL_Y, SIDE,
                              2 * M_PI, CMAP_DIVERGING, -v, v, titles[i], 1};
        struct fig_image img = {rgb, (int)nx, (int)ny};
        int rc = fig_field_panel(fig, &img, &p, err);
        free(rgb);
        if (rc != 0)
            return -1;
    }
    return 0;
}

static double max_abs(const double *a, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++)
        if (isfinite(a[i]))
            m = fmax(m, fabs(a[i]));
    return m;
}

static int draw(struct dashi_client *c, const struct cli_opts *o, const struct chain *ch,
                const struct render_field *truth, const struct render_field *dec, size_t k, int64_t step,
                struct dashi_error *err)
{
    size_t n = dec->nx * dec->ny, tf = (size_t)llround((double)step / ch->truth_every);
    if (truth->nx != dec->nx || truth->ny != dec->ny || tf >= truth->frames)
        return dashi_fail(err, DASHI_E_BAD_VALUE, "step", "step %lld has no truth frame of the decoded size",
                          (long long)step);
    const double *t = truth->data + tf * n, *d = dec->data + k * n;
    double *e = malloc(n * sizeof *e);
    if (!e)
        return dashi_fail(err, DASHI_E_TOO_LARGE, "", "out of memory");
    for (size_t i = 0; i < n; i++)
        e[i] = d[i] - t[i];
    double v = fmax(max_abs(t, n), fmax(max_abs(d, n), max_abs(e, n)));
    char tt[96], td[96], te[96], head[160];
    double time = (double)step * ch->dt;
    snprintf(tt, sizeof tt, "truth (les job %lld)", (long long)ch->les);
    snprintf(td, sizeof td, "decoded (decode job %lld)", (long long)ch->decode);
    snprintf(te, sizeof te, "error = decoded - truth");
    snprintf(head, sizeof head, "pipeline of decode job %lld at step %lld, t = %.4g; shared scale ±%.4g",
             (long long)ch->decode, (long long)step, time, v);
    const double *const fields[3] = {t, d, e};
    const char *const titles[3] = {tt, td, te};
    double fields_h = PANEL_Y + SIDE + FIG_PANEL_BOTTOM;
    struct fig fig;
    int w = 3 * (FIG_PANEL_LEFT + SIDE + FIG_PANEL_RIGHT);
    int rc = fig_open(&fig, cli_opt(o, "o"), "o", w, (int)(fields_h + 2 * (AXES_TOP + METRIC_H + AXES_BOTTOM)), err);
    if (rc == 0) {
        cairo_set_source_rgb(fig.cr, 0, 0, 0);
        fig_text(fig.cr, w / 2.0, 8, 0.5, 0, 14, head);
        rc = draw_fields(&fig, fields, dec->nx, dec->ny, v, titles, err);
        if (rc == 0)
            rc = draw_metrics(c, fig.cr, ch, fields_h, err);
        if (fig_close(&fig, rc == 0 ? err : NULL) != 0)
            rc = -1;
    }
    free(e);
    if (rc == 0 && o->args.json)
        printf("{\"figure\": \"%s\", \"decode\": %lld, \"les\": %lld, \"train\": %lld, \"step\": %lld, \"t\": %.17g, "
               "\"truth_frame\": %zu, \"scale\": %.17g, \"panels\": [[%d, %d, %d], [%d, %d, %d], [%d, %d, %d]]}\n",
               cli_opt(o, "o"), (long long)ch->decode, (long long)ch->les, (long long)ch->train, (long long)step, time,
               tf, v, panel_x(0), PANEL_Y, SIDE, panel_x(1), PANEL_Y, SIDE, panel_x(2), PANEL_Y, SIDE);
    else if (rc == 0)
        printf("scale: +-%.9g\n%s\n", v, cli_opt(o, "o"));
    return rc;
}

int cmd_figure(struct dashi_client *c, struct cli_opts *o, struct dashi_error *err)
{
    const char *out = cli_opt(o, "o");
    if (o->args.npos < 1 || !out || !*out)
        return dashi_fail(err, DASHI_E_MISSING_FIELD, o->args.npos < 1 ? "id" : "o",
                          "usage: dashi figure PIPELINE|DECODE_JOB -o FILE.png|.svg|.pdf [--step S]");
    enum fig_format fmt;
    struct chain ch = {.truth_every = 1};
    if (fig_format_of(out, "o", &fmt, err) != 0 || cmd_parse_id(o->pos[0], &ch.decode, err) != 0 ||
        pipeline_stage_of(c, ch.decode, "decode", &ch.decode, err) != 0 || read_decode(c, &ch, err) != 0 || read_les(c, &ch, err) != 0 || read_train(c, &ch, err) != 0)
        return -1;
    int64_t *steps = NULL;
    size_t nsteps = 0, k = 0;
    struct render_field truth = {0}, dec = {0};
    int rc = fetch_steps(c, ch.steps_hash, &steps, &nsteps, err);
    if (rc == 0)
        rc = pick_step(o, steps, nsteps, &k, err);
    if (rc == 0)
        rc = cmd_fetch_field(c, ch.truth_hash, &truth, err);
    if (rc == 0)
        rc = cmd_fetch_field(c, ch.decoded_hash, &dec, err);
    if (rc == 0 && dec.frames != nsteps)
        rc = dashi_fail(err, DASHI_E_BAD_VALUE, "id", "omega_hat has %zu frames for %zu decoded steps", dec.frames,
                        nsteps);
    if (rc == 0)
        rc = draw(c, o, &ch, &truth, &dec, k, steps[k], err);
    free(steps);
    render_field_free(&truth);
    render_field_free(&dec);
    return rc;
}
