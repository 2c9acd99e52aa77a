/* SPDX-License-Identifier: MIT */
/* dashi: the command-line client of dashid. One row of the command table per command
 * drives both the dispatch and the usage text, so the help lists exactly the commands
 * there are. Commands and exit statuses: docs/cli.md. */
#include <stdio.h>
#include <string.h>

#include "acct.h"
#include "cli.h"
#include "cmd_atoms.h"
#include "cmd_bundle.h"
#include "cmd_fsck.h"
#include "cmd_store.h"
#include "cmd_study.h"
#include "help.h"
#include "output.h"
#include "suggest.h"

/* ---- commands handled elsewhere, adapted to the table's handler type ---- */

/* ping and shutdown: the op of the same name, without arguments. */
static int cmd_daemon_op(struct dashi_client *c, struct cli_opts *o, struct dashi_error *err)
{
    return cli_call_print(c, o, o->cmd, NULL, NULL, false, false, err);
}

static int cmd_fsck_store(struct dashi_client *c, struct cli_opts *o, struct dashi_error *err)
{
    bool clean;
    if (cmd_fsck(c, o->args.json, &clean, err) != 0)
        return -1;
    return clean ? 0 : dashi_code_exit_status(DASHI_E_CORRUPT);
}

static int cmd_acct(struct dashi_client *c, struct cli_opts *o, struct dashi_error *err)
{
    return acct_run(c, o->args.json, cli_opt(o, "user"), cli_opt(o, "since"), err);
}

static int cmd_plot_series(struct dashi_client *c, struct cli_opts *o, struct dashi_error *err)
{
    return cmd_plot(c, &o->args, err);
}

static int cmd_compare_jobs(struct dashi_client *c, struct cli_opts *o, struct dashi_error *err)
{
    return cmd_compare(c, &o->args, err);
}

static int cmd_export_job(struct dashi_client *c, struct cli_opts *o, struct dashi_error *err)
{
    if (cli_opt(o, "bundle"))
        return cmd_export_bundle(c, o, err);
    return cmd_export(c, &o->args, err);
}

static const char *opt_lookup(const void *o, const char *name) { return cli_opt(o, name); }

/* atoms, lineage, events, audit (cmd_atoms.c) */
static int cmd_atoms_query(struct dashi_client *c, struct cli_opts *o, struct dashi_error *err)
{
    return cmd_atoms_run(c, o->cmd, o->job, o->args.json, opt_lookup, o, err);
}

static int cmd_help(struct dashi_client *c, struct cli_opts *o, struct dashi_error *err);

/* ---- the table ---- */

#define CMD_JOB_ID 1u /* the first word is a job id, checked before the handler runs */
#define CMD_LOCAL 2u  /* runs without a daemon (its handler gets no connection) */

struct command {
    const char *name;
    const char *synopsis; /* the arguments, as the usage text shows them */
    const char *summary;  /* one line of what it does */
    cli_command_fn run;
    unsigned flags;
};

static const struct command commands[] = {
    {"ping", "", "daemon, protocol and device", cmd_daemon_op, 0},
    {"devices", "", "the daemon's devices: state, memory, running job, pins", cmd_devices, 0},
    {"put", "FILE.npy", "upload; prints the blob hash", cmd_put, 0},
    {"get", "HASH -o FILE.npy", "download a blob", cmd_get, 0},
    {"submit", "KIND [--ARG VALUE|--FLAG]... [--wait] [--priority N] [--private] [--time-limit S] [--no-reuse] "
     "[--name NAME] [--tag T]... [--device NAME|INDEX]",
     "submit a job, e.g. submit rollout --op HASH --z0 HASH --steps 300", cmd_submit, 0},
    {"status", "ID", "state and progress", cmd_job_op, CMD_JOB_ID},
    {"show", "ID [ID...]", "the whole record with its state events and GPU time", cmd_show, CMD_JOB_ID},
    {"wait", "ID [ID...]", "waits for the jobs, prints their final records", cmd_wait, CMD_JOB_ID},
    {"cancel", "ID", "cancels a job (owner or root)", cmd_job_op, CMD_JOB_ID},
    {"resume", "ID", "an interrupted job continues from its checkpoint", cmd_job_op, CMD_JOB_ID},
    {"list", "[--state S] [--kind K] [--user U] [--name GLOB] [--tag T]... [--param K=V]... [--group G] [--all] [--limit N]",
     "jobs, newest first (--all: pipelines' stages too)", cmd_list, 0},
    {"metrics", "ID [--key K]", "a table of the time series, then the summary scalars", cmd_metrics, CMD_JOB_ID},
    {"hashes", "ID", "state hashes of a rollout, one per line", cmd_hashes, CMD_JOB_ID},
    {"plot", "ID [ID...] --key K [--key K]... -o FILE.png|.svg|.pdf", "metric series, one panel per key", cmd_plot_series, 0},
    {"compare", "ID1 ID2 [ID...]", "parameters, summary metrics and hashes side by side", cmd_compare_jobs, 0},
    {"tag", "ID TAG... [--rm]", "add (or remove) tags of a job (owner or root)", cmd_tag, CMD_JOB_ID},
    {"note", "ID TEXT", "add a note to a job, listed by show (owner or root)", cmd_note, CMD_JOB_ID},
    {"sweep", "KIND --vary K=V1,V2... [--vary ...] [--ARG VALUE]... [--name N] [--tag T]...",
     "submit the product of the values as one group", cmd_sweep, 0},
    {"table", "GROUP|ID... [--col KEY[.T|.0|.min|.max|@STEP]]... [--csv]",
     "one row per run: varied parameters and metrics", cmd_table, 0},
    {"export", "ID -o DIR | --bundle DIR ID", "record.json, metrics.csv and outputs as .npy; or a result bundle",
     cmd_export_job, 0},
    {"import", "DIR", "a result bundle as a job of yours; prints its id", cmd_import, 0},
    {"acct", "[--user U] [--since T]", "per-user jobs by state and GPU seconds", cmd_acct, 0},
    {"atoms", "ID [--step T]", "atoms of an atoms job (one step or all; paged)", cmd_atoms_query, CMD_JOB_ID},
    {"lineage", "ID --atom STEP:IDX [--ancestors|--descendants] [--depth N] [--dot | --png FILE.png]",
     "lineage edges from one atom", cmd_atoms_query, CMD_JOB_ID},
    {"events", "ID [--kind split|merge|birth|death|continuation]", "event totals and the edges of one kind",
     cmd_atoms_query, CMD_JOB_ID},
    {"audit", "ID", "conservation residuals per event", cmd_atoms_query, CMD_JOB_ID},
    {"render", "JOB|HASH -o FILE.png|.svg|.pdf [--frame K|--t T] [--size PX] [--vmax V] [--cmap diverging|sequential] "
     "[--atoms ID [--step T]]", "figure of a field (default its last frame), atoms of an atoms job marked", cmd_render, 0},
    {"figure", "PIPELINE|DECODE_JOB -o FILE.png|.svg|.pdf [--step S]",
     "truth | decoded | error on one scale, and the metrics against time", cmd_figure, 0},
    {"report", "ID [ID...] | --group G -o DIR", "an HTML page of the runs: figures, parameters, summary",
     cmd_report, 0},
    {"study", "closure [--seeds S] [--N 64,128] [--steps K] [--every E] [--name NAME] [--csv] | "
     "generalization [--seeds S] [--operators C1,C2...] [--N N] [--steps K] [--topk K] [--frames A:B] "
     "[--ridge R] [--stabilize] [--nu0-eval V] [--cs-eval V] [--dt-eval V] [--name NAME] [--csv] | "
     "slider [--N 64] [--steps 300] [--save-every 10] [--dt 0.01] [--seed 0] [--horizon 30] "
     "[--fidelity 0,0.25,0.5,0.75,1] [--les-n N/2,N/4] [--name NAME]",
     "a study from one command: closure depth and filament survival over seeds x N; "
     "generalization of operator classes to held-out runs; "
     "slider sweeps v5's fidelity against LES at coarser N", cmd_study, 0},
    {"describe", "[KIND]", "the job kinds' parameters: type, default, range, meaning", cmd_describe, 0},
    {"fsck", "", "check every blob and the database (its user or root)", cmd_fsck_store, 0},
    {"rm", "ID [ID...]", "remove finished jobs and their records (owner or root)", cmd_rm, 0},
    {"gc", "[--apply]", "what the store holds that nothing needs; --apply frees it (its user or root)", cmd_gc, 0},
    {"log", "ID [--follow]", "the job's events in time order; --follow until it ends", cmd_log, CMD_JOB_ID},
    {"watch", "[ID]", "live state, progress, rate, ETA and queue reason of a job or all yours", cmd_watch, 0},
    {"shutdown", "", "stop the daemon (its user or root)", cmd_daemon_op, 0},
    {"help", "[COMMAND|KIND]", "the commands, one command's usage, or a job kind's arguments", cmd_help, CMD_LOCAL},
};

#define NCOMMANDS (sizeof commands / sizeof commands[0])
#define SUMMARY_COLUMN 40

static void usage(FILE *f)
{
    fputs("usage: dashi [--json] [--no-autostart] [--socket PATH] COMMAND ...\n", f);
    for (size_t i = 0; i < NCOMMANDS; i++) {
        const struct command *cmd = &commands[i];
        int width = fprintf(f, "  %s%s%s", cmd->name, *cmd->synopsis ? " " : "", cmd->synopsis);
        if (width >= SUMMARY_COLUMN) /* a long synopsis: the summary goes below it */
            width = fprintf(f, "\n") - 1;
        fprintf(f, "%*s%s\n", SUMMARY_COLUMN - width, "", cmd->summary);
    }
    fputs("dashi help COMMAND or KIND for more; see docs/cli.md\n", f);
}

static const struct command *find_command(const char *name)
{
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

/* The job id of a CMD_JOB_ID command: its first positional word. */
static int parse_job_id(struct cli_opts *o, struct dashi_error *err)
{
    if (o->args.npos < 1)
        return dashi_fail(err, DASHI_E_MISSING_FIELD, "id", "%s needs a job id", o->cmd);
    return cmd_parse_id(o->pos[0], &o->job, err);
}

/* The command nearest to word, if word looks like a typo of one (NULL otherwise). */
static const char *nearest_command(const char *word, char *buf, size_t cap)
{
    const char *names[NCOMMANDS + 1];
    for (size_t i = 0; i < NCOMMANDS; i++)
        names[i] = commands[i].name;
    names[NCOMMANDS] = NULL;
    return suggest_among(word, names, buf, cap);
}

static int unknown_command(const char *word, struct dashi_error *err)
{
    char near[SUGGEST_MAX_WORD + 1];
    if (nearest_command(word, near, sizeof near))
        return dashi_fail(err, DASHI_E_UNKNOWN_OP, "command", "unknown command '%s'; did you mean %s? (dashi help)",
                          word, near);
    return dashi_fail(err, DASHI_E_UNKNOWN_OP, "command", "unknown command '%s' (dashi help lists the commands)",
                      word);
}

/* A job kind's arguments, from the daemon (`help KIND`, `submit KIND --help`). */
static int kind_help(const struct cli_opts *o, const char *kind, struct dashi_error *err)
{
    struct dashi_client c;
    int status = client_open(&c, o->autostart, err) == 0 ? help_kind(&c, kind, o->args.json, err) : -1;
    client_close(&c);
    return status;
}

/* help [COMMAND|KIND]: a command's usage needs no daemon; any other word is taken for a
 * job kind unless it is a typo of a command. */
static int cmd_help(struct dashi_client *c, struct cli_opts *o, struct dashi_error *err)
{
    (void)c;
    if (o->args.npos == 0) {
        usage(stdout);
        return 0;
    }
    const struct command *cmd = find_command(o->pos[0]);
    if (cmd) {
        help_command(stdout, cmd->name, cmd->synopsis, cmd->summary);
        return 0;
    }
    char near[SUGGEST_MAX_WORD + 1];
    if (nearest_command(o->pos[0], near, sizeof near))
        return unknown_command(o->pos[0], err);
    return kind_help(o, o->pos[0], err);
}

/* COMMAND --help, and submit KIND --help for the kind's arguments. */
static int command_help(const struct command *cmd, const struct cli_opts *o, struct dashi_error *err)
{
    if (cmd->run == cmd_submit && o->args.npos > 0)
        return kind_help(o, o->pos[0], err);
    help_command(stdout, cmd->name, cmd->synopsis, cmd->summary);
    return 0;
}

static int run_command(const struct command *cmd, struct cli_opts *o, struct dashi_error *err)
{
    if (o->help)
        return command_help(cmd, o, err);
    if (cmd->flags & CMD_LOCAL)
        return cmd->run(NULL, o, err);
    struct dashi_client c;
    int status = -1;
    if (client_open(&c, o->autostart, err) == 0 && (!(cmd->flags & CMD_JOB_ID) || parse_job_id(o, err) == 0))
        status = cmd->run(&c, o, err);
    client_close(&c);
    return status;
}

int main(int argc, char **argv)
{
    struct cli_opts o;
    struct dashi_error err;
    dashi_error_clear(&err);
    if (cli_parse(argc, argv, &o, &err) != 0) {
        print_dashi_error(o.args.json, &err);
        if (!o.args.json)
            usage(stderr);
        return dashi_code_exit_status(err.code);
    }
    if (o.version) {
        help_version(o.args.json);
        return 0;
    }
    if (o.help && !o.cmd) {
        usage(stdout);
        return 0;
    }
    const struct command *cmd = find_command(o.cmd);
    int status = cmd ? run_command(cmd, &o, &err) : unknown_command(o.cmd, &err);
    if (status < 0) {
        print_dashi_error(o.args.json, &err);
        return dashi_code_exit_status(err.code);
    }
    return status;
}
