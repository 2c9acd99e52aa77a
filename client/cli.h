/* SPDX-License-Identifier: MIT */
/* The dashi command line: the parsed words (cli.c) and the commands that dashi.c's
 * command table dispatches to (cmd_jobs.c, cmd_blobs.c). Commands and exit statuses:
 * docs/cli.md. */
#ifndef DASHI_CLI_H
#define DASHI_CLI_H

#include <stdbool.h>
#include <stdint.h>

#include "client.h"
#include "cmd_analysis.h"

#define CLI_MAX_POS 32  /* positional words after the command (compare, table: CMD_MAX_RUNS; show, wait, rm, plot ids) */
#define CLI_MAX_OPTS 64 /* --name value pairs and bare --flags */

struct cli_opts {
    bool autostart;
    bool help;       /* -h or --help: print the usage (of the command, if one came first) and run nothing */
    bool version;    /* --version: print the versions and run nothing */
    const char *cmd; /* the command word; NULL when there is none */
    int64_t job;     /* the job id of a command that takes one (set by the dispatcher) */
    /* The words after the command (args.json: --json), pointing into the arrays below. */
    struct cmd_args args;
    const char *pos[CLI_MAX_POS];
    const char *names[CLI_MAX_OPTS];  /* --name (or "o" for -o), in command-line order */
    const char *values[CLI_MAX_OPTS]; /* each one's value, NULL for a bare flag */
};

/* Parses argv: global options anywhere (--json, --no-autostart, --socket PATH, which
 * sets $DASHI_SOCKET, -h/--help, --version), the command, its positional words and its
 * options. -1 with err on a usage error (no command, too many words; --json is still
 * noted wherever it was, so that the error is one JSON document); stops at -h/--help. */
int cli_parse(int argc, char **argv, struct cli_opts *o, struct dashi_error *err);
/* The value of the first --name: "" for a bare flag, NULL if absent. */
const char *cli_opt(const struct cli_opts *o, const char *name);

/* A command's handler: returns the exit status, or -1 with err filled (the dispatcher
 * prints it and exits with the status of its code). */
typedef int (*cli_command_fn)(struct dashi_client *c, struct cli_opts *o, struct dashi_error *err);

/* Packs the command's --name value options as an argument map (names with dashes as
 * underscores, values typed as docs/cli.md "Job arguments" says), leaving out the names
 * in skip (NULL-terminated, may be NULL) and, when only is set, all but those in it. */
struct cli_optmap {
    const struct cli_opts *o;
    const char *const *skip;
    const char *const *only;
};
void cli_pack_optmap(msgpack_packer *pk, void *optmap);
/* Packs a command-line value with the type it reads as. */
void cli_pack_value(msgpack_packer *pk, const char *v);

/* Prints an answer: JSON with --json, else a job record (record) or any map as text. */
void cli_print_result(const struct cli_opts *o, const msgpack_object *result, bool record);
/* Calls op with the arguments pack makes (paged: following its pages) and prints the
 * answer as cli_print_result does. */
int cli_call_print(struct dashi_client *c, const struct cli_opts *o, const char *op, pack_args_fn pack, void *ctx,
                   bool paged, bool record, struct dashi_error *err);

/* cmd_jobs.c: submitting, waiting for and looking at jobs */
/* Packs submit's (and sweep's) request: kind (the first word), args (the options not in
 * envelope), priority, private, time_limit, reuse, name and tags, in a map with nextra
 * more entries that the caller packs next. */
void cli_pack_submission(msgpack_packer *pk, const struct cli_opts *o, const char *const *envelope, uint32_t nextra);
int cmd_submit(struct dashi_client *c, struct cli_opts *o, struct dashi_error *err);
int cmd_wait(struct dashi_client *c, struct cli_opts *o, struct dashi_error *err);
int cmd_list(struct dashi_client *c, struct cli_opts *o, struct dashi_error *err);
int cmd_job_op(struct dashi_client *c, struct cli_opts *o, struct dashi_error *err); /* status, cancel, resume */
int cmd_show(struct dashi_client *c, struct cli_opts *o, struct dashi_error *err);
int cmd_metrics(struct dashi_client *c, struct cli_opts *o, struct dashi_error *err);
int cmd_hashes(struct dashi_client *c, struct cli_opts *o, struct dashi_error *err);
/* Exit status of a finished job's record (or status): 0 when it succeeded, else by its
 * error code (docs/cli.md "Exit status"). */
int job_exit_status(const msgpack_object *rec);

/* cmd_watch.c: a job's events (log [--follow]) and the live state of jobs (watch) */
int cmd_log(struct dashi_client *c, struct cli_opts *o, struct dashi_error *err);
int cmd_watch(struct dashi_client *c, struct cli_opts *o, struct dashi_error *err);
int cmd_devices(struct dashi_client *c, struct cli_opts *o, struct dashi_error *err); /* cmd_devices.c */

/* cmd_runs.c: tags and notes of a run, sweeps and the table of runs (docs/cli.md) */
int cmd_tag(struct dashi_client *c, struct cli_opts *o, struct dashi_error *err);
int cmd_note(struct dashi_client *c, struct cli_opts *o, struct dashi_error *err);
int cmd_sweep(struct dashi_client *c, struct cli_opts *o, struct dashi_error *err);
/* The sweep op of a sweep command line o (KIND --vary ... [--ARG VALUE]...), its answer in
 * *result (held by resp, which the caller destroys); nothing printed. */
int sweep_call(struct dashi_client *c, const struct cli_opts *o, msgpack_unpacked *resp, const msgpack_object **result,
               struct dashi_error *err);
int cmd_table(struct dashi_client *c, struct cli_opts *o, struct dashi_error *err);

/* cmd_describe.c: the job kinds' parameters */
int cmd_describe(struct dashi_client *c, struct cli_opts *o, struct dashi_error *err);
/* The describe answer's tables as text, a line per parameter. */
void describe_print_tables(const msgpack_object *result);
/* E_UNKNOWN_FIELD naming the first option of a that is no parameter of kind (as the
 * describe op lists them; skip: options that are not the job's, NULL-terminated), with the
 * nearest parameter when it looks like a typo; the daemon's E_BAD_VALUE for no such kind. */
int describe_check_options(struct dashi_client *c, const char *kind, const struct cmd_args *a,
                           const char *const *skip, struct dashi_error *err);

/* cmd_blobs.c: moving and drawing blobs */
int cmd_put(struct dashi_client *c, struct cli_opts *o, struct dashi_error *err);
int cmd_get(struct dashi_client *c, struct cli_opts *o, struct dashi_error *err);
int cmd_render(struct dashi_client *c, struct cli_opts *o, struct dashi_error *err);
/* cmd_render.c: downloads blob hash and loads it as a field (render.h). */
struct render_field;
int cmd_fetch_field(struct dashi_client *c, const char *hash, struct render_field *f, struct dashi_error *err);
/* cmd_figure.c: the canonical evaluation figure of a pipeline (docs/cli.md "figure") */
int cmd_figure(struct dashi_client *c, struct cli_opts *o, struct dashi_error *err);
/* cmd_report.c: an HTML page about a few runs, with their figures (docs/cli.md "report") */
int cmd_report(struct dashi_client *c, struct cli_opts *o, struct dashi_error *err);

#endif
