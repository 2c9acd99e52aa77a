/* SPDX-License-Identifier: MIT */
/* `dashi study SUBCOMMAND`: the research studies as one command each (docs/cli.md
 * "Studies"). Each study submits ordinary jobs, waits for them and prints a table from
 * their stored records; rerunning it reuses the jobs that succeeded. */
#ifndef DASHI_CMD_STUDY_H
#define DASHI_CMD_STUDY_H

#include "cli.h"

/* Dispatches on the first word (cmd_study.c's table); the subcommand sees the words after it. */
int cmd_study(struct dashi_client *c, struct cli_opts *o, struct dashi_error *err);

/* study generalization (cmd_study_generalization.c): operator classes trained on 1..S
 * seeds, scored on a held-out seed and on perturbed nu0, cs and dt (docs/numerics.md). */
int cmd_study_generalization(struct dashi_client *c, struct cli_opts *o, struct dashi_error *err);

/* study closure (cmd_study_closure.c): the closure depth K of LES and decoded fields and the
 * filament survival curve over seeds × N (docs/numerics.md "Closure depth across runs"). */
int cmd_study_closure(struct dashi_client *c, struct cli_opts *o, struct dashi_error *err);

/* study slider (cmd_study_slider.c): the v5 fidelity slider against LES at coarser N. */
int cmd_study_slider(struct dashi_client *c, struct cli_opts *o, struct dashi_error *err);

#endif
