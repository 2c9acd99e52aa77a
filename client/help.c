/* SPDX-License-Identifier: MIT */
#include "help.h"

#include <string.h>

#include "cli.h"
#include "output.h"
#include "wire.h"

/* What a command's one-line summary cannot say: the longer help, one entry per command
 * that needs one (the usage line and summary come from the command table). */
static const struct {
    const char *name, *text;
} details[] = {
    {"submit", "KIND is a job kind: `dashi help KIND` (or `dashi submit KIND --help`) lists its arguments with\n"
               "their types, defaults, ranges and meaning. Options are checked against that list before\n"
               "anything is sent (an unknown one is refused with the nearest valid name); a value naming an\n"
               "existing .npy file is uploaded and replaced by its hash.\n"
               "  --wait          wait for the job and print its final record (exit status: the job's)\n"
               "  --priority N    -100..100, higher first among your own jobs\n"
               "  --private       only you (and root) see the job\n"
               "  --time-limit S  stop the job once its GPU time passes S seconds\n"
               "  --no-reuse      run even if an identical job already succeeded\n"},
    {"show", "Every ID's record with its state events and GPU time; with several IDs, --json prints\n"
             "{\"jobs\": [record, ...]}.\n"},
    {"wait", "Waits for every ID in turn; exit status 0 when all succeeded, else the worst job's status.\n"
             "With several IDs, --json prints {\"jobs\": [record, ...]}.\n"},
    {"metrics", "One row per time series (points, first, last, min, max), then the summary scalars. --key K\n"
                "shows one key; a finished job without K is an error naming the nearest key.\n"},
    {"hashes", "One line per recorded state hash: trajectory, step, hash.\n"},
    {"list", "--kind K must be a job kind, --state S one of queued, running, succeeded, failed,\n"
             "cancelled, interrupted.\n"},
    {"atoms", "--step T must be a tracked step; another is an error naming the nearest tracked steps.\n"},
    {"lineage", "STEP:IDX must name an atom the job tracked; another is an error naming what exists.\n"},
    {"help", "Without a word: every command. With a command: its usage. With a job kind: its arguments\n"
             "(from the daemon, started if needed).\n"},
};

void help_command(FILE *f, const char *name, const char *synopsis, const char *summary)
{
    fprintf(f, "usage: dashi [--json] %s%s%s\n  %s\n", name, *synopsis ? " " : "", synopsis, summary);
    for (size_t i = 0; i < sizeof details / sizeof details[0]; i++)
        if (strcmp(details[i].name, name) == 0)
            fprintf(f, "\n%s", details[i].text);
    fputs("see docs/cli.md or man dashi\n", f);
}

static void pack_kind(msgpack_packer *pk, void *ctx)
{
    msgpack_pack_map(pk, 1);
    pk_kv_str(pk, "kind", ctx);
}

int help_kind(struct dashi_client *c, const char *kind, bool json, struct dashi_error *err)
{
    msgpack_unpacked resp;
    msgpack_unpacked_init(&resp);
    const msgpack_object *result;
    int rc = client_call(c, "describe", pack_kind, (void *)kind, NULL, NULL, &resp, &result, err);
    if (rc == 0 && json) {
        print_json(result);
    } else if (rc == 0) {
        printf("usage: dashi submit %s [--ARG VALUE]... [--wait] [--priority N] [--private] [--time-limit S] "
               "[--no-reuse]\n(an ARG with underscores may be written with dashes: --save-every)\n\n",
               kind);
        describe_print_tables(result);
    }
    msgpack_unpacked_destroy(&resp);
    return rc;
}

void help_version(bool json)
{
    if (json)
        printf("{\"dashi\": \"%s\", \"protocol\": %d}\n", DASHI_RELEASE, DASHI_PROTO_VERSION);
    else
        printf("dashi %s (protocol %d)\n", DASHI_RELEASE, DASHI_PROTO_VERSION);
}
