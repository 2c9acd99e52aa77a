/* SPDX-License-Identifier: MIT */
/* `dashi study slider`: the v5 fidelity slider swept against LES at coarser N (docs/cli.md
 * "Studies", docs/numerics.md "Fidelity slider").
 *
 * Jobs (all named NAME and tagged study-slider): the truth, an LES at N; one group (a sweep
 * of atoms evolve from it over `fidelity`); for each coarser N', an LES at N' from the
 * truth's frame 0 spectrally truncated to N' (uploaded as its ic). The v5 rows come from the
 * evolve jobs' stored summaries. The LES rows are scored here against the truth at the same
 * frames: the coarse frame is spectrally interpolated to N (its modes |mx|, |my| < N'/2,
 * zero above) and compared by rel L2 and Pearson correlation, as the evolve job scores its
 * field. Identical jobs are reused, so a rerun rebuilds the table from the stored jobs. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd_study.h"
#include "npy.h"
#include "render.h"
#include "study_common.h"

#define SLIDER_TAG "study-slider"
#define SLIDER_MAX_ROWS 16
#define ATOM_VALUES 4 /* what the velocity and the render read of an atom: x, y, σΓ, ε */

struct slider_opts {
    uint64_t n, steps, save_every, seed, horizon;
    double dt;
    double fidelity[SLIDER_MAX_ROWS];
    size_t nfid;
    uint64_t coarse[SLIDER_MAX_ROWS];
    size_t ncoarse;
    char name[129];
};

struct slider_row {
    const char *what; /* "v5" or "les" */
    int64_t id;
    double setting;   /* fidelity, or N' */
    double atoms, modes, ms_per_frame, rel0, corr0, relT, corrT;
};

/* ---- options ---- */

static int parse_opts(const struct cli_opts *o, struct slider_opts *so, struct dashi_error *err)
{
    *so = (struct slider_opts){.n = 64, .steps = 300, .save_every = 10, .seed = 0, .horizon = 30, .dt = 0.01};
    if (study_opt_u64(o, "N", 8, 1024, &so->n, err) || study_opt_u64(o, "steps", 1, 1000000, &so->steps, err) ||
        study_opt_u64(o, "save-every", 1, 1000000, &so->save_every, err) ||
        study_opt_u64(o, "seed", 0, UINT32_MAX, &so->seed, err) ||
        study_opt_u64(o, "horizon", 1, 100000, &so->horizon, err))
        return -1;
    const char *dt = cli_opt(o, "dt");
    if (dt && (sscanf(dt, "%lf", &so->dt) != 1 || !(so->dt > 0) || !isfinite(so->dt)))
        return dashi_fail(err, DASHI_E_BAD_VALUE, "dt", "--dt must be a positive number");
    if (so->horizon > so->steps / so->save_every)
        return dashi_fail(err, DASHI_E_BAD_VALUE, "horizon", "--horizon (%llu frames) is past the truth's %llu frames",
                          (unsigned long long)so->horizon, (unsigned long long)(so->steps / so->save_every));
    const char *fid = cli_opt(o, "fidelity");
    if (study_opt_list("fidelity", fid ? fid : "0,0.25,0.5,0.75,1", 0, 1, so->fidelity, SLIDER_MAX_ROWS, &so->nfid,
                       err))
        return -1;
    double cn[SLIDER_MAX_ROWS];
    const char *les_n = cli_opt(o, "les-n");
    char def[64];
    snprintf(def, sizeof def, "%llu,%llu", (unsigned long long)so->n / 2, (unsigned long long)so->n / 4);
    if (study_opt_list("les-n", les_n ? les_n : def, 4, (double)so->n - 1, cn, SLIDER_MAX_ROWS, &so->ncoarse, err))
        return -1;
    for (size_t k = 0; k < so->ncoarse; k++) {
        so->coarse[k] = (uint64_t)cn[k];
        if ((double)so->coarse[k] != cn[k] || so->coarse[k] % 2)
            return dashi_fail(err, DASHI_E_BAD_VALUE, "les-n", "--les-n values must be even integers below N");
    }
    const char *name = cli_opt(o, "name");
    snprintf(so->name, sizeof so->name, "%s", name ? name : "");
    if (!name)
        snprintf(so->name, sizeof so->name, "slider-N%llu-seed%llu", (unsigned long long)so->n,
                 (unsigned long long)so->seed);
    return 0;
}

/* ---- jobs ---- */

struct les_job {
    const struct slider_opts *so;
    uint64_t n;
    const char *ic; /* NULL: the seed's field */
};

static void pack_envelope(msgpack_packer *pk, const struct slider_opts *so, const char *kind)
{
    pk_kv_str(pk, "kind", kind);
    pk_kv_str(pk, "name", so->name);
    pk_key(pk, "tags");
    msgpack_pack_array(pk, 1);
    pk_str(pk, SLIDER_TAG);
}

static void pack_les(msgpack_packer *pk, void *ctx)
{
    const struct les_job *j = ctx;
    msgpack_pack_map(pk, 4);
    pack_envelope(pk, j->so, "les");
    pk_key(pk, "args");
    msgpack_pack_map(pk, 5);
    pk_kv_u64(pk, "N", j->n);
    pk_kv_u64(pk, "steps", j->so->steps);
    pk_kv_u64(pk, "save_every", j->so->save_every);
    pk_kv_f64(pk, "dt", j->so->dt);
    if (j->ic)
        pk_kv_str(pk, "ic", j->ic);
    else
        pk_kv_u64(pk, "seed", j->so->seed);
}

struct sweep_job {
    const struct slider_opts *so;
    int64_t les;
};

static void pack_sweep(msgpack_packer *pk, void *ctx)
{
    const struct sweep_job *j = ctx;
    msgpack_pack_map(pk, 5);
    pack_envelope(pk, j->so, "atoms");
    pk_key(pk, "args");
    msgpack_pack_map(pk, 3);
    pk_kv_i64(pk, "from", j->les);
    pk_kv_str(pk, "mode", "evolve");
    pk_kv_u64(pk, "steps", j->so->horizon);
    pk_key(pk, "vary");
    msgpack_pack_map(pk, 1);
    pk_key(pk, "fidelity");
    msgpack_pack_array(pk, j->so->nfid);
    for (size_t k = 0; k < j->so->nfid; k++)
        msgpack_pack_double(pk, j->so->fidelity[k]);
}

static int submit_les(struct dashi_client *c, struct les_job *j, int64_t *id, struct dashi_error *err)
{
    msgpack_unpacked resp;
    msgpack_unpacked_init(&resp);
    const msgpack_object *result;
    int rc = client_call(c, "submit", pack_les, j, NULL, NULL, &resp, &result, err);
    if (rc == 0)
        *id = obj_i64(map_get(result, "id"));
    msgpack_unpacked_destroy(&resp);
    return rc;
}

static int submit_sweep(struct dashi_client *c, struct sweep_job *j, int64_t *ids, int64_t *group,
                        struct dashi_error *err)
{
    msgpack_unpacked resp;
    msgpack_unpacked_init(&resp);
    const msgpack_object *result;
    int rc = client_call(c, "sweep", pack_sweep, j, NULL, NULL, &resp, &result, err);
    if (rc == 0) {
        const msgpack_object *jobs = map_get(result, "jobs");
        *group = obj_i64(map_get(result, "group"));
        if (!jobs || jobs->type != MSGPACK_OBJECT_ARRAY || jobs->via.array.size != j->so->nfid)
            rc = dashi_fail(err, DASHI_E_BAD_FRAME, "jobs", "the sweep answered without its %zu jobs", j->so->nfid);
        for (size_t k = 0; rc == 0 && k < j->so->nfid; k++)
            ids[k] = obj_i64(&jobs->via.array.ptr[k]);
    }
    msgpack_unpacked_destroy(&resp);
    return rc;
}

static int fetch_output(struct dashi_client *c, const msgpack_object *rec, const char *out, struct render_field *f,
                        struct dashi_error *err)
{
    const msgpack_object *h = map_get(map_get(rec, "outputs"), out);
    if (!h || h->type != MSGPACK_OBJECT_STR || h->via.str.size != DASHI_HASH_HEX)
        return dashi_fail(err, DASHI_E_NOT_FOUND, out, "job %lld has no output %s", (long long)obj_i64(map_get(rec, "id")),
                          out);
    char hash[DASHI_HASH_HEX + 1];
    memcpy(hash, h->via.str.ptr, DASHI_HASH_HEX);
    hash[DASHI_HASH_HEX] = 0;
    return cmd_fetch_field(c, hash, f, err);
}

/* ---- spectral resampling and scores ---- */

/* g (m×m) = the modes |mx|, |my| < min(n, m)/2 of f (n×n), by separable direct DFTs with
 * exact integer phases (no Nyquist: the result is real and the same both ways). */
static int resample(const double *f, size_t n, double *g, size_t m, struct dashi_error *err)
{
    long K = (long)((n < m ? n : m) / 2) - 1;
    size_t M = (size_t)(2 * K + 1);
    double *ar = calloc(n * M, sizeof *ar), *ai = calloc(n * M, sizeof *ai);
    double *br = calloc(m * M, sizeof *br), *bi = calloc(m * M, sizeof *bi);
    if (!ar || !ai || !br || !bi) {
        free(ar), free(ai), free(br), free(bi);
        return dashi_fail(err, DASHI_E_INTERNAL, "", "out of memory resampling %zu -> %zu", n, m);
    }
    for (size_t i = 0; i < n; i++) /* along x: A(i, mx) */
        for (size_t q = 0; q < M; q++)
            for (size_t j = 0; j < n; j++) {
                long ph = (((long)q - K) * (long)j % (long)n + (long)n) % (long)n;
                double a = -2 * M_PI * (double)ph / (double)n, v = f[i * n + j] / ((double)n * n);
                ar[i * M + q] += v * cos(a), ai[i * M + q] += v * sin(a);
            }
    /* along y: C(my, mx), synthesised straight onto the m rows: B(i', mx) */
    for (size_t qy = 0; qy < M; qy++) {
        double cr[2 * 2048 + 1], ci[2 * 2048 + 1];
        for (size_t q = 0; q < M; q++) {
            cr[q] = ci[q] = 0;
            for (size_t i = 0; i < n; i++) {
                long ph = (((long)qy - K) * (long)i % (long)n + (long)n) % (long)n;
                double a = -2 * M_PI * (double)ph / (double)n, c = cos(a), s = sin(a);
                cr[q] += ar[i * M + q] * c - ai[i * M + q] * s;
                ci[q] += ar[i * M + q] * s + ai[i * M + q] * c;
            }
        }
        for (size_t i = 0; i < m; i++) {
            long ph = (((long)qy - K) * (long)i % (long)m + (long)m) % (long)m;
            double a = 2 * M_PI * (double)ph / (double)m, c = cos(a), s = sin(a);
            for (size_t q = 0; q < M; q++) {
                br[i * M + q] += cr[q] * c - ci[q] * s;
                bi[i * M + q] += cr[q] * s + ci[q] * c;
            }
        }
    }
    for (size_t i = 0; i < m; i++) /* back along x, real part */
        for (size_t j = 0; j < m; j++) {
            double v = 0;
            for (size_t q = 0; q < M; q++) {
                long ph = (((long)q - K) * (long)j % (long)m + (long)m) % (long)m;
                double a = 2 * M_PI * (double)ph / (double)m;
                v += br[i * M + q] * cos(a) - bi[i * M + q] * sin(a);
            }
            g[i * m + j] = v;
        }
    free(ar), free(ai), free(br), free(bi);
    return 0;
}

/* rel L2 and Pearson correlation of field against truth (n values), as the evolve job scores. */
static void score(const double *field, const double *truth, size_t n, double *rel, double *corr)
{
    double st = 0, sf = 0;
    for (size_t k = 0; k < n; k++)
        st += truth[k], sf += field[k];
    double mt = st / (double)n, mf = sf / (double)n, d2 = 0, t2 = 0, vt = 0, vf = 0, cov = 0;
    for (size_t k = 0; k < n; k++) {
        double t = truth[k], q = field[k];
        d2 += (q - t) * (q - t), t2 += t * t;
        vt += (t - mt) * (t - mt), vf += (q - mf) * (q - mf), cov += (t - mt) * (q - mf);
    }
    *rel = t2 > 0 ? sqrt(d2 / t2) : NAN;
    *corr = vt > 0 && vf > 0 ? cov / sqrt(vt * vf) : NAN;
}

/* Uploads frame 0 of the truth truncated to nc as an npy blob. */
static int put_truncated(struct dashi_client *c, const struct render_field *truth, uint64_t nc,
                         char hash[DASHI_HASH_HEX + 1], struct dashi_error *err)
{
    double *g = malloc(nc * nc * sizeof *g);
    if (!g)
        return dashi_fail(err, DASHI_E_INTERNAL, "", "out of memory");
    char tmp[] = "/tmp/dashi-slider-XXXXXX";
    int fd = -1, rc = resample(truth->data, truth->nx, g, nc, err);
    if (rc == 0 && (fd = mkstemp(tmp)) < 0)
        rc = dashi_fail(err, DASHI_E_IO, "", "mkstemp: %s", strerror(errno));
    if (fd >= 0) {
        close(fd);
        uint64_t shape[2] = {nc, nc};
        rc = npy_save(tmp, NPY_F8, 2, shape, g, err) != 0 ? -1 : client_put_file(c, tmp, hash, err);
        unlink(tmp);
    }
    free(g);
    return rc;
}

/* The coarse LES's row: its frames 0 and horizon interpolated to N and scored. */
static int les_row(struct dashi_client *c, const struct slider_opts *so, const msgpack_object *rec,
                   const struct render_field *truth, struct slider_row *row, struct dashi_error *err)
{
    struct render_field f = {0};
    size_t nn = so->n * so->n;
    double *up = malloc(nn * sizeof *up);
    int rc = up ? fetch_output(c, rec, "trajectory", &f, err) : dashi_fail(err, DASHI_E_INTERNAL, "", "out of memory");
    if (rc == 0 && f.frames <= so->horizon)
        rc = dashi_fail(err, DASHI_E_BAD_VALUE, "horizon", "the coarse LES has %zu frames", f.frames);
    for (int pass = 0; rc == 0 && pass < 2; pass++) {
        size_t fr = pass ? so->horizon : 0;
        rc = resample(f.data + fr * f.nx * f.nx, f.nx, up, so->n, err);
        if (rc == 0)
            score(up, truth->data + fr * nn, nn, pass ? &row->relT : &row->rel0, pass ? &row->corrT : &row->corr0);
    }
    double frames = (double)so->steps / (double)so->save_every;
    row->ms_per_frame = study_summary(rec, "gpu_thread_ms") / frames;
    row->modes = (double)(f.nx * f.nx);
    row->atoms = 0;
    render_field_free(&f);
    free(up);
    return rc;
}

static void v5_row(const msgpack_object *rec, struct slider_row *row)
{
    row->rel0 = study_summary(rec, "relL2_0"), row->corr0 = study_summary(rec, "corr_0");
    row->relT = study_summary(rec, "relL2_T"), row->corrT = study_summary(rec, "corr_T");
    row->atoms = study_summary(rec, "atoms_final"), row->modes = study_summary(rec, "residual_modes");
    row->ms_per_frame = study_summary(rec, "ms_per_step");
}

/* ---- output ---- */

/* Real values a row carries: an LES its N'² grid values, v5 4 per atom and one per residual
 * mode (the disc is closed under m → −m, so its complex modes hold |D| real values). */
static double carried(const struct slider_row *r) { return ATOM_VALUES * r->atoms + r->modes; }

static void print_rows(const struct slider_opts *so, const struct slider_row *rows, size_t n, int64_t truth,
                       int64_t group, bool json)
{
    double t = (double)(so->horizon * so->save_every) * so->dt;
    if (json) {
        printf("{\"name\": \"%s\", \"truth\": %lld, \"group\": %lld, \"horizon_t\": %.17g, \"rows\": [", so->name,
               (long long)truth, (long long)group, t);
        for (size_t k = 0; k < n; k++)
            printf("%s{\"model\": \"%s\", \"id\": %lld, \"setting\": %.17g, \"atoms\": %.17g, \"modes\": %.17g, "
                   "\"ms_per_frame\": %.17g, \"relL2_0\": %.17g, \"corr_0\": %.17g, \"relL2_T\": %.17g, \"corr_T\": %.17g}",
                   k ? ", " : "", rows[k].what, (long long)rows[k].id, rows[k].setting, rows[k].atoms, rows[k].modes,
                   rows[k].ms_per_frame, rows[k].rel0, rows[k].corr0, rows[k].relT, rows[k].corrT);
        printf("]}\n");
        return;
    }
    printf("study slider %s: truth LES job %lld (N %llu, seed %llu), v5 group %lld, horizon t = %g\n", so->name,
           (long long)truth, (unsigned long long)so->n, (unsigned long long)so->seed, (long long)group, t);
    printf("%-5s %7s %8s %6s %8s %10s %8s %8s %8s %8s\n", "model", "id", "setting", "atoms", "modes", "ms/frame",
           "relL2_0", "corr_0", "relL2_T", "corr_T");
    for (size_t k = 0; k < n; k++)
        printf("%-5s %7lld %8g %6.0f %8.0f %10.3f %8.4f %8.4f %8.4f %8.4f\n", rows[k].what, (long long)rows[k].id,
               rows[k].setting, rows[k].atoms, rows[k].modes, rows[k].ms_per_frame, rows[k].rel0, rows[k].corr0,
               rows[k].relT, rows[k].corrT);
    /* Equal fidelity: for each LES, the cheapest v5 setting at least as good at the horizon. */
    for (size_t l = 0; l < n; l++) {
        if (strcmp(rows[l].what, "les") != 0)
            continue;
        const struct slider_row *best = NULL;
        for (size_t k = 0; k < n; k++)
            if (strcmp(rows[k].what, "v5") == 0 && rows[k].relT <= rows[l].relT &&
                (!best || carried(&rows[k]) < carried(best)))
                best = &rows[k];
        if (best)
            printf("equal fidelity: LES N=%g (relL2_T %.4f, %.0f values, %.3f ms/frame) <- v5 fidelity %g "
                   "(relL2_T %.4f, %.0f atoms + %.0f modes = %.0f values, %.3f ms/frame): v5 carries %s\n",
                   rows[l].setting, rows[l].relT, carried(&rows[l]), rows[l].ms_per_frame, best->setting, best->relT,
                   best->atoms, best->modes, carried(best), best->ms_per_frame,
                   carried(best) < carried(&rows[l]) ? "fewer values" : "as many values or more");
        else
            printf("equal fidelity: LES N=%g (relL2_T %.4f): no v5 setting of the sweep reaches it\n", rows[l].setting,
                   rows[l].relT);
    }
}

int cmd_study_slider(struct dashi_client *c, struct cli_opts *o, struct dashi_error *err)
{
    struct slider_opts so;
    if (parse_opts(o, &so, err) != 0)
        return -1;
    struct slider_row rows[2 * SLIDER_MAX_ROWS] = {0};
    size_t nrows = so.nfid + so.ncoarse;
    int64_t truth_id = 0, group = 0, ids[2 * SLIDER_MAX_ROWS];
    struct les_job truth_job = {&so, so.n, NULL};
    struct sweep_job sweep = {&so, 0};
    struct cmd_result r;
    struct render_field truth = {0};
    cmd_result_init(&r);
    int rc = submit_les(c, &truth_job, &truth_id, err);
    sweep.les = truth_id;
    if (rc == 0)
        rc = submit_sweep(c, &sweep, ids, &group, err);
    if (rc == 0)
        rc = study_wait(c, truth_id, &r, err);
    if (rc == 0)
        rc = fetch_output(c, r.obj, "trajectory", &truth, err);
    for (size_t k = 0; rc == 0 && k < so.ncoarse; k++) {
        char hash[DASHI_HASH_HEX + 1];
        struct les_job j = {&so, so.coarse[k], hash};
        rc = put_truncated(c, &truth, so.coarse[k], hash, err);
        if (rc == 0)
            rc = submit_les(c, &j, &ids[so.nfid + k], err);
    }
    for (size_t k = 0; rc == 0 && k < nrows; k++) {
        cmd_result_free(&r);
        cmd_result_init(&r);
        rows[k].id = ids[k];
        rc = study_wait(c, ids[k], &r, err);
        if (rc != 0)
            break;
        if (k < so.nfid) {
            rows[k].what = "v5", rows[k].setting = so.fidelity[k];
            v5_row(r.obj, &rows[k]);
        } else {
            rows[k].what = "les", rows[k].setting = (double)so.coarse[k - so.nfid];
            rc = les_row(c, &so, r.obj, &truth, &rows[k], err);
        }
    }
    if (rc == 0)
        print_rows(&so, rows, nrows, truth_id, group, o->args.json);
    cmd_result_free(&r);
    render_field_free(&truth);
    return rc;
}
