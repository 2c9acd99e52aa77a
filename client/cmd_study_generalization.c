/* SPDX-License-Identifier: MIT */
/* `dashi study generalization` (docs/numerics.md "Generalization study"): the question of
 * issue 20 as one command. It submits everything as sweeps, so every job is stored, grouped
 * and queryable like any other (list --group, table), waits for the trains and prints the
 * table of their groups:
 *   LES: seeds 0..S (S training seeds, seed S held out) and seed S again with nu0, cs and
 *        dt perturbed (one group each);
 *   train: for s = 1..S, one sweep over the operator classes on the trajectories of seeds
 *        0..s-1, evaluated on [held-out seed, nu0, cs, dt] (eval.traj1..4).
 * Rows: operator class x number of training trajectories (the table's varied parameters
 * `operator` and `traj`). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd_study.h"
#include "json.h"
#include "study_common.h"

#define STUDY_MAX_SEEDS 4 /* training trajectories of one train job */
#define STUDY_HELD_OUT 4  /* the held-out seed and its three perturbations: eval.traj1..4 */
#define STUDY_TAG "study-generalization" /* on every job of the study */

static void id_list(const int64_t *ids, int n, char *buf, size_t cap)
{
    size_t used = 0;
    buf[0] = 0;
    for (int i = 0; i < n && used < cap; i++)
        used += (size_t)snprintf(buf + used, cap - used, "%s%lld", i ? "," : "", (long long)ids[i]);
}

/* The LES trajectories: seeds 0..S in one group, then the held-out seed S perturbed
 * (nu0, cs, dt), one group each; held[] = {seed S, nu0, cs, dt}. */
static int submit_les(struct dashi_client *c, const struct cli_opts *o, int S, const char *name, int64_t *train,
                      int64_t *held, struct dashi_error *err)
{
    static const char *const les_args[] = {"N", "steps", NULL};
    static const char *const perturbed[][2] = {{"nu0", "nu0-eval"}, {"cs", "cs-eval"}, {"dt", "dt-eval"}};
    static const char *const defaults[] = {"0.0002", "0.2", "0.008"};
    struct study_line r;
    char text[128], seeds[96] = "seed=";
    int64_t group, ids[STUDY_MAX_SEEDS + 1];
    for (int s = 0; s <= S; s++)
        snprintf(seeds + strlen(seeds), sizeof seeds - strlen(seeds), "%s%d", s ? "," : "", s);
    study_line_init(&r, "les");
    study_line_pass(&r, o, les_args);
    study_line_add(&r, "vary", seeds);
    snprintf(text, sizeof text, "%s-les", name);
    study_line_add(&r, "name", text);
    study_line_add(&r, "tag", STUDY_TAG);
    if (study_sweep(c, &r, ids, S + 1, &group, err) != 0)
        return -1;
    memcpy(train, ids, (size_t)S * sizeof *train);
    held[0] = ids[S];
    for (int k = 0; k < 3; k++) {
        const char *v = cli_opt(o, perturbed[k][1]);
        study_line_init(&r, "les");
        study_line_pass(&r, o, les_args);
        snprintf(text, sizeof text, "%d", S);
        study_line_add(&r, "seed", text);
        snprintf(text, sizeof text, "%s=%s", perturbed[k][0], v && *v ? v : defaults[k]);
        study_line_add(&r, "vary", text);
        snprintf(text, sizeof text, "%s-les-%s", name, perturbed[k][0]);
        study_line_add(&r, "name", text);
        study_line_add(&r, "tag", STUDY_TAG);
        if (study_sweep(c, &r, &held[1 + k], 1, &group, err) != 0)
            return -1;
    }
    return 0;
}

static int generalization(struct dashi_client *c, struct cli_opts *o, struct dashi_error *err)
{
    const char *seeds_opt = cli_opt(o, "seeds"), *ops = cli_opt(o, "operators"), *name = cli_opt(o, "name");
    int S = seeds_opt ? atoi(seeds_opt) : 2;
    if (S < 1 || S > STUDY_MAX_SEEDS)
        return dashi_fail(err, DASHI_E_BAD_VALUE, "seeds", "--seeds takes 1 to %d training seeds", STUDY_MAX_SEEDS);
    if (!ops || !*ops)
        ops = "full,banded:4,lowrank:8";
    if (!name || !*name)
        name = "generalization";
    int64_t train[STUDY_MAX_SEEDS], held[STUDY_HELD_OUT], groups[STUDY_MAX_SEEDS], jobs[STUDY_MAX_SEEDS][16];
    if (submit_les(c, o, S, name, train, held, err) != 0)
        return -1;
    static const char *const train_args[] = {"topk", "frames", "ridge", "stabilize", NULL};
    int n_ops = 1;
    for (const char *p = ops; *p; p++)
        n_ops += *p == ',';
    if (n_ops > 16)
        return dashi_fail(err, DASHI_E_BAD_VALUE, "operators", "--operators: at most 16 classes");
    for (int s = 1; s <= S; s++) {
        struct study_line r;
        char text[128];
        study_line_init(&r, "train");
        study_line_pass(&r, o, train_args);
        id_list(train, s, text, sizeof text);
        study_line_add(&r, "traj", text);
        id_list(held, STUDY_HELD_OUT, text, sizeof text);
        study_line_add(&r, "eval-traj", text);
        snprintf(text, sizeof text, "operator=%s", ops);
        study_line_add(&r, "vary", text);
        snprintf(text, sizeof text, "%s-train%d", name, s);
        study_line_add(&r, "name", text);
        study_line_add(&r, "tag", STUDY_TAG);
        memset(jobs[s - 1], 0, sizeof jobs[s - 1]);
        if (study_sweep(c, &r, jobs[s - 1], n_ops, &groups[s - 1], err) != 0)
            return -1;
    }
    for (int s = 0; s < S; s++)
        for (int i = 0; i < n_ops; i++)
            if (study_wait(c, jobs[s][i], NULL, err) != 0)
                return -1;
    if (!o->args.json)
        printf("held-out: seed %d (eval.traj1, job %lld); seed %d with nu0 (eval.traj2), cs (eval.traj3), "
               "dt (eval.traj4) perturbed\n", S, (long long)held[0], S);
    struct study_line t;
    study_line_init(&t, "table");
    t.o.cmd = "table";
    t.o.args.json = o->args.json;
    t.o.args.npos = 0;
    char words[STUDY_MAX_SEEDS][32];
    for (int s = 0; s < S; s++) {
        snprintf(words[s], sizeof words[s], "group:%lld", (long long)groups[s]);
        t.o.pos[t.o.args.npos++] = words[s];
    }
    static const char *const cols[] = {"eval.traj1.corr_mean", "eval.traj1.rel_l2_mean",
                                       "eval.traj1.time_to_corr_below_0.95", "eval.traj2.corr_mean",
                                       "eval.traj3.corr_mean", "eval.traj4.corr_mean", "train.spectral_radius", NULL};
    for (const char *const *col = cols; *col; col++)
        study_line_add(&t, "col", *col);
    if (cli_opt(o, "csv"))
        study_line_add(&t, "csv", NULL);
    return cmd_table(c, &t.o, err);
}

int cmd_study_generalization(struct dashi_client *c, struct cli_opts *o, struct dashi_error *err)
{
    return generalization(c, o, err);
}
