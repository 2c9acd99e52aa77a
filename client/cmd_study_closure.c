/* SPDX-License-Identifier: MIT */
/* `dashi study closure` (docs/numerics.md "Closure depth across runs"): the closure depth K of
 * LES and of decoded fields over seeds × N, and the filaments' survival curve, from one
 * command, so the notes' "about six fining layers" is measured.
 *
 * --topk and --decode-every pass to the pipelines (fewer anchors, fewer decoded states: cheaper).
 *
 * Jobs, all as sweeps (stored, grouped, queryable): per N one group NAME-N<N> of pipelines
 * over the seeds (les -> train -> rollout -> decode: K of the decoded fields, the decode
 * stage's closure_depth_mean/max), then one group NAME-N<N>-atoms of atoms track jobs over
 * the pipelines' LES trajectories (K of every LES frame and the pooled annihilation trace:
 * closure_depth_mean/max, closure.alive_fraction.L1..L6, annihilation_level_mean). Rows
 * N × seed and a mean row per N; every value is the stored summary of one of those jobs.
 * Identical jobs are reused, so a rerun rebuilds the table from the stored jobs. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd_study.h"
#include "study_common.h"

#define CLOSURE_MAX_N 4
#define CLOSURE_MAX_SEEDS 16
#define ALIVE_LEVELS 6 /* survival columns: alive fraction at levels 1..6 */

struct closure_opts {
    uint64_t seeds, steps, every;
    uint64_t n[CLOSURE_MAX_N];
    size_t nn;
    char name[100];
};

/* One row: the jobs and the values read from their records (a mean row: ids 0, seed -1). */
struct closure_row {
    uint64_t n;
    int64_t seed, pipeline, les, atoms, decode;
    double les_mean, les_max, dec_mean, dec_max, ann_mean;
    double alive[ALIVE_LEVELS];
};

static int parse_opts(const struct cli_opts *o, struct closure_opts *co, struct dashi_error *err)
{
    *co = (struct closure_opts){.seeds = 2, .steps = 300, .every = 1};
    if (study_opt_u64(o, "seeds", 1, CLOSURE_MAX_SEEDS, &co->seeds, err) ||
        study_opt_u64(o, "steps", 1, 1000000, &co->steps, err) ||
        study_opt_u64(o, "every", 1, 1000000, &co->every, err))
        return -1;
    const char *ns = cli_opt(o, "N");
    double v[CLOSURE_MAX_N];
    if (study_opt_list("N", ns ? ns : "64,128", 16, 4096, v, CLOSURE_MAX_N, &co->nn, err))
        return -1;
    for (size_t k = 0; k < co->nn; k++) {
        co->n[k] = (uint64_t)v[k];
        if ((double)co->n[k] != v[k] || co->n[k] % 2)
            return dashi_fail(err, DASHI_E_BAD_VALUE, "N", "--N values must be even integers (got %g)", v[k]);
    }
    const char *name = cli_opt(o, "name");
    if (name && (!*name || strlen(name) >= sizeof co->name - 16))
        return dashi_fail(err, DASHI_E_BAD_VALUE, "name", "--name takes 1 to %zu bytes", sizeof co->name - 17);
    snprintf(co->name, sizeof co->name, "%s", name ? name : "closure");
    return 0;
}

/* The pipelines of grid side n over the seeds: group NAME-N<n>. */
static int submit_pipelines(struct dashi_client *c, const struct cli_opts *o, const struct closure_opts *co,
                            uint64_t n, int64_t *ids, struct dashi_error *err)
{
    static const char *const pipeline_args[] = {"topk", "decode-every", NULL};
    struct study_line r;
    char text[128];
    int64_t group;
    study_line_init(&r, "pipeline");
    snprintf(text, sizeof text, "%llu", (unsigned long long)n);
    study_line_add(&r, "N", text);
    snprintf(text, sizeof text, "%llu", (unsigned long long)co->steps);
    study_line_add(&r, "steps", text);
    study_line_pass(&r, o, pipeline_args);
    size_t used = (size_t)snprintf(text, sizeof text, "seed=");
    for (uint64_t s = 0; s < co->seeds; s++)
        used += (size_t)snprintf(text + used, sizeof text - used, "%s%llu", s ? "," : "", (unsigned long long)s);
    study_line_add(&r, "vary", text);
    snprintf(text, sizeof text, "%s-N%llu", co->name, (unsigned long long)n);
    study_line_add(&r, "name", text);
    study_line_add(&r, "tag", "study-closure");
    return study_sweep(c, &r, ids, (int)co->seeds, &group, err);
}

/* The atoms track jobs over the LES trajectories les[0..seeds): group NAME-N<n>-atoms. */
static int submit_atoms(struct dashi_client *c, const struct closure_opts *co, uint64_t n, const int64_t *les,
                        int64_t *ids, struct dashi_error *err)
{
    struct study_line r;
    char text[128];
    int64_t group;
    study_line_init(&r, "atoms");
    size_t used = (size_t)snprintf(text, sizeof text, "from=");
    for (uint64_t s = 0; s < co->seeds; s++)
        used += (size_t)snprintf(text + used, sizeof text - used, "%s%lld", s ? "," : "", (long long)les[s]);
    study_line_add(&r, "vary", text);
    snprintf(text, sizeof text, "%llu", (unsigned long long)co->every);
    study_line_add(&r, "every", text);
    snprintf(text, sizeof text, "%s-N%llu-atoms", co->name, (unsigned long long)n);
    study_line_add(&r, "name", text);
    study_line_add(&r, "tag", "study-closure");
    return study_sweep(c, &r, ids, (int)co->seeds, &group, err);
}

/* Waits for a pipeline; its les and decode stages. */
static int pipeline_stages(struct dashi_client *c, struct closure_row *row, struct dashi_error *err)
{
    struct cmd_result r;
    int rc = study_wait(c, row->pipeline, &r, err);
    if (rc == 0) {
        const msgpack_object *stages = map_get(r.obj, "stages");
        row->les = obj_i64(map_get(stages, "les"));
        row->decode = obj_i64(map_get(stages, "decode"));
        if (row->les <= 0 || row->decode <= 0)
            rc = dashi_fail(err, DASHI_E_BAD_FRAME, "stages", "pipeline %lld answered without its stages",
                            (long long)row->pipeline);
    }
    cmd_result_free(&r);
    return rc;
}

/* The decoded fields' K from the decode stage's record. */
static void fill_decode(const msgpack_object *rec, struct closure_row *row)
{
    row->dec_mean = study_summary(rec, "closure_depth_mean");
    row->dec_max = study_summary(rec, "closure_depth_max");
}

/* The LES fields' K and the survival curve from the atoms job's record. */
static void fill_atoms(const msgpack_object *rec, struct closure_row *row)
{
    row->les_mean = study_summary(rec, "closure_depth_mean");
    row->les_max = study_summary(rec, "closure_depth_max");
    row->ann_mean = study_summary(rec, "annihilation_level_mean");
    for (int k = 0; k < ALIVE_LEVELS; k++) {
        char key[48];
        snprintf(key, sizeof key, "closure.alive_fraction.L%d", k + 1);
        row->alive[k] = study_summary(rec, key);
    }
}

/* Waits for job id and fills row from its record. */
static int read_job(struct dashi_client *c, int64_t id, struct closure_row *row,
                    void (*fill)(const msgpack_object *, struct closure_row *), struct dashi_error *err)
{
    struct cmd_result r;
    int rc = study_wait(c, id, &r, err);
    if (rc == 0)
        fill(r.obj, row);
    cmd_result_free(&r);
    return rc;
}

/* The mean over rows[0..count) of every value. */
static struct closure_row mean_row(const struct closure_row *rows, size_t count)
{
    struct closure_row m = {.n = rows[0].n, .seed = -1};
    for (size_t k = 0; k < count; k++) {
        m.les_mean += rows[k].les_mean / (double)count, m.les_max += rows[k].les_max / (double)count;
        m.dec_mean += rows[k].dec_mean / (double)count, m.dec_max += rows[k].dec_max / (double)count;
        m.ann_mean += rows[k].ann_mean / (double)count;
        for (int l = 0; l < ALIVE_LEVELS; l++)
            m.alive[l] += rows[k].alive[l] / (double)count;
    }
    return m;
}

/* ---- output ---- */

static void print_json_row(const struct closure_row *r, bool first)
{
    printf("%s{\"N\": %llu, ", first ? "" : ", ", (unsigned long long)r->n);
    if (r->seed >= 0)
        printf("\"seed\": %lld, \"pipeline\": %lld, \"les\": %lld, \"atoms\": %lld, \"decode\": %lld, ",
               (long long)r->seed, (long long)r->pipeline, (long long)r->les, (long long)r->atoms,
               (long long)r->decode);
    printf("\"les.closure_depth_mean\": %.17g, \"les.closure_depth_max\": %.17g, "
           "\"decoded.closure_depth_mean\": %.17g, \"decoded.closure_depth_max\": %.17g, ",
           r->les_mean, r->les_max, r->dec_mean, r->dec_max);
    for (int k = 0; k < ALIVE_LEVELS; k++)
        printf("\"closure.alive_fraction.L%d\": %.17g, ", k + 1, r->alive[k]);
    printf("\"annihilation_level_mean\": %.17g}", r->ann_mean);
}

static void print_json(const struct closure_opts *co, const struct closure_row *rows, const struct closure_row *means)
{
    printf("{\"name\": \"%s\", \"seeds\": %llu, \"steps\": %llu, \"every\": %llu, \"rows\": [", co->name,
           (unsigned long long)co->seeds, (unsigned long long)co->steps, (unsigned long long)co->every);
    for (size_t k = 0; k < co->nn * co->seeds; k++)
        print_json_row(&rows[k], k == 0);
    printf("], \"means\": [");
    for (size_t k = 0; k < co->nn; k++)
        print_json_row(&means[k], k == 0);
    printf("]}\n");
}

/* One line of the text table or of the CSV (sep ","). */
static void print_line(const struct closure_row *r, bool csv)
{
    char seed[24], ids[64] = "";
    snprintf(seed, sizeof seed, r->seed >= 0 ? "%lld" : "mean", (long long)r->seed);
    if (r->seed >= 0)
        snprintf(ids, sizeof ids, csv ? "%lld,%lld,%lld" : "%7lld %7lld %7lld", (long long)r->les,
                 (long long)r->atoms, (long long)r->decode);
    if (csv)
        printf("%llu,%s,%s,%.17g,%.17g,%.17g,%.17g", (unsigned long long)r->n, seed, ids, r->les_mean, r->les_max,
               r->dec_mean, r->dec_max);
    else
        printf("%5llu %5s %23s %10.3f %9.1f %10.3f %9.1f", (unsigned long long)r->n, seed, ids, r->les_mean,
               r->les_max, r->dec_mean, r->dec_max);
    for (int k = 0; k < ALIVE_LEVELS; k++)
        printf(csv ? ",%.17g" : " %8.4f", r->alive[k]);
    printf(csv ? ",%.17g\n" : " %9.3f\n", r->ann_mean);
}

static void print_table(const struct closure_opts *co, const struct closure_row *rows, const struct closure_row *means,
                        bool csv)
{
    if (csv) {
        printf("N,seed,les,atoms,decode,les.closure_depth_mean,les.closure_depth_max,decoded.closure_depth_mean,"
               "decoded.closure_depth_max");
        for (int k = 0; k < ALIVE_LEVELS; k++)
            printf(",closure.alive_fraction.L%d", k + 1);
        printf(",annihilation_level_mean\n");
    } else {
        printf("study closure %s: seeds 0..%llu, LES steps %llu, atoms every %llu frame(s)\n", co->name,
               (unsigned long long)co->seeds - 1, (unsigned long long)co->steps, (unsigned long long)co->every);
        printf("%5s %5s %7s %7s %7s %10s %9s %10s %9s", "N", "seed", "les", "atoms", "decode", "K_les", "K_les_max",
               "K_dec", "K_dec_max");
        for (int k = 0; k < ALIVE_LEVELS; k++)
            printf(" %7s%d", "alive_L", k + 1);
        printf(" %9s\n", "ann_level");
    }
    for (size_t i = 0; i < co->nn; i++) {
        for (size_t s = 0; s < co->seeds; s++)
            print_line(&rows[i * co->seeds + s], csv);
        print_line(&means[i], csv);
    }
    if (csv)
        return;
    printf("K mean per N (the notes: \"about six fining layers\"):");
    for (size_t i = 0; i < co->nn; i++)
        printf("%s N=%llu: LES %.2f, decoded %.2f", i ? ";" : "", (unsigned long long)means[i].n, means[i].les_mean,
               means[i].dec_mean);
    printf("\n");
}

/* Submits and reads everything into rows (N-major, then seed). */
static int run_study(struct dashi_client *c, const struct cli_opts *o, const struct closure_opts *co,
                     struct closure_row *rows, struct dashi_error *err)
{
    size_t S = co->seeds;
    int64_t ids[CLOSURE_MAX_SEEDS];
    for (size_t i = 0; i < co->nn; i++) {
        if (submit_pipelines(c, o, co, co->n[i], ids, err) != 0)
            return -1;
        for (size_t s = 0; s < S; s++)
            rows[i * S + s] = (struct closure_row){.n = co->n[i], .seed = (int64_t)s, .pipeline = ids[s]};
    }
    for (size_t i = 0; i < co->nn; i++) {
        int64_t les[CLOSURE_MAX_SEEDS];
        for (size_t s = 0; s < S; s++) {
            struct closure_row *row = &rows[i * S + s];
            if (pipeline_stages(c, row, err) != 0 || read_job(c, row->decode, row, fill_decode, err) != 0)
                return -1;
            les[s] = row->les;
        }
        if (submit_atoms(c, co, co->n[i], les, ids, err) != 0)
            return -1;
        for (size_t s = 0; s < S; s++)
            rows[i * S + s].atoms = ids[s];
    }
    for (size_t k = 0; k < co->nn * S; k++)
        if (read_job(c, rows[k].atoms, &rows[k], fill_atoms, err) != 0)
            return -1;
    return 0;
}

int cmd_study_closure(struct dashi_client *c, struct cli_opts *o, struct dashi_error *err)
{
    struct closure_opts co;
    if (parse_opts(o, &co, err) != 0)
        return -1;
    struct closure_row rows[CLOSURE_MAX_N * CLOSURE_MAX_SEEDS], means[CLOSURE_MAX_N];
    if (run_study(c, o, &co, rows, err) != 0)
        return -1;
    for (size_t i = 0; i < co.nn; i++)
        means[i] = mean_row(&rows[i * co.seeds], co.seeds);
    if (o->args.json)
        print_json(&co, rows, means);
    else
        print_table(&co, rows, means, cli_opt(o, "csv") != NULL);
    return 0;
}
