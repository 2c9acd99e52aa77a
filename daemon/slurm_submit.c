/* SPDX-License-Identifier: MIT */
/* Submitting to Slurm (slurm_submit.h). */
#include "slurm_submit.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon.h"
#include "ops.h"
#include "queue_reason.h"
#include "slurm_cmd.h"
#include "slurm_state.h"
#include "slurm_track.h"
#include "slurm_workdir.h"
#include "store_origin.h"

#define SBATCH_OUT_MAX 4096

/* ---- the request's fields ---- */

/* Options sbatch takes from dashid, never from the user: --array, --wrap, --parsable, an
 * abbreviation of one (getopt_long takes those) and -a. dashid's own options also come
 * after the user's, so a later one wins whatever the spelling. */
static bool reserved_word(const char *w)
{
    static const char *const reserved[] = {"array", "wrap", "parsable", NULL};
    if (strncmp(w, "--", 2) == 0) {
        size_t n = strcspn(w + 2, "=");
        for (const char *const *r = reserved; *r; r++)
            if (n > 0 && strncmp(*r, w + 2, n) == 0)
                return true;
        return false;
    }
    return w[0] == '-' && w[1] == 'a';
}

int slurm_request_parse(const msgpack_object *args, struct slurm_request *out, struct dashi_error *err)
{
    static const char *const executors[] = {"local", "slurm", NULL};
    int executor;
    out->nargs = 0;
    if (arg_enum(args, "executor", false, 0, executors, &executor, err) != 0)
        return -1;
    out->on = executor == 1;
    const msgpack_object *a = args_find(args, "slurm_args");
    if (!a || a->type == MSGPACK_OBJECT_NIL)
        return 0;
    if (a->type != MSGPACK_OBJECT_ARRAY)
        return dashi_fail(err, DASHI_E_BAD_TYPE, "slurm_args", "slurm_args must be an array of strings");
    if (a->via.array.size > SLURM_ARGS_MAX)
        return dashi_fail(err, DASHI_E_TOO_LARGE, "slurm_args", "at most %d slurm_args, got %u", SLURM_ARGS_MAX,
                          a->via.array.size);
    if (a->via.array.size && !out->on)
        return dashi_fail(err, DASHI_E_BAD_VALUE, "slurm_args", "slurm_args are for executor slurm only");
    for (uint32_t i = 0; i < a->via.array.size; i++) {
        const msgpack_object *w = &a->via.array.ptr[i];
        if (w->type != MSGPACK_OBJECT_STR)
            return dashi_fail(err, DASHI_E_BAD_TYPE, "slurm_args", "slurm_args[%u] must be a string", i);
        if (w->via.str.size == 0)
            return dashi_fail(err, DASHI_E_BAD_VALUE, "slurm_args", "slurm_args[%u] is empty", i);
        if (w->via.str.size > SLURM_ARG_MAX)
            return dashi_fail(err, DASHI_E_TOO_LARGE, "slurm_args", "slurm_args[%u] is longer than %d bytes", i,
                              SLURM_ARG_MAX);
        if (memchr(w->via.str.ptr, 0, w->via.str.size))
            return dashi_fail(err, DASHI_E_BAD_VALUE, "slurm_args", "slurm_args[%u] holds a NUL byte", i);
        memcpy(out->args[i], w->via.str.ptr, w->via.str.size);
        out->args[i][w->via.str.size] = 0;
        if (reserved_word(out->args[i]))
            return dashi_fail(err, DASHI_E_BAD_VALUE, "slurm_args",
                              "slurm_args[%u] (%.40s): dashid sets --array, --wrap and --parsable itself", i,
                              out->args[i]);
        out->nargs++;
    }
    return 0;
}

/* ---- one sbatch call ---- */

static void batch_unlink(struct slurm_batch *b)
{
    for (struct slurm_batch **p = &b->d->slurm->batches; *p; p = &(*p)->next)
        if (*p == b) {
            *p = b->next;
            return;
        }
}

/* The first n jobs of b fail with why (each ends for its waiters). */
static void fail_jobs(struct slurm_batch *b, size_t n, const struct dashi_error *why)
{
    for (size_t k = 0; k < n; k++) {
        struct dashi_error err;
        if (store_job_set_state(&b->d->store, b->ids[k], JOB_FAILED, now_seconds(), why, &err) != 0)
            fprintf(stderr, "dashid: recording job %lld failed: %s\n", (long long)b->ids[k], err.message);
        else
            jobs_ended(b->d, b->ids[k]);
    }
}

static void pack_answer(struct slurm_batch *b, msgpack_packer *pk, struct dashi_error *err, int *rc)
{
    if (!b->sweep) {
        char reason[QUEUE_REASON_MAX];
        queue_reason(b->d, b->ids[0], reason, sizeof reason);
        *rc = pack_job_record_reason(pk, &b->d->store, b->ids[0], b->uid, false, reason, err);
        return;
    }
    msgpack_pack_map(pk, 3);
    pk_kv_i64(pk, "group", b->group);
    pk_kv_str(pk, "name", b->name[0] ? b->name : NULL);
    pk_key(pk, "jobs");
    msgpack_pack_array(pk, b->n);
    for (size_t k = 0; k < b->n; k++)
        msgpack_pack_int64(pk, b->ids[k]);
    *rc = 0;
}

/* The request's answer: the record or the sweep's jobs, or why (failed non-NULL). */
static void answer(struct slurm_batch *b, const struct dashi_error *failed)
{
    if (!b->conn || b->conn->closing)
        return;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    frame_begin(&sb);
    struct dashi_error err;
    int rc = -1;
    if (!failed) {
        pack_ok_begin(&pk, b->req_id);
        pack_answer(b, &pk, &err, &rc);
    }
    if (rc != 0) {
        msgpack_sbuffer_clear(&sb);
        frame_begin(&sb);
        pack_error(&pk, b->req_id, failed ? failed : &err);
    }
    frame_finish(&sb);
    conn_send(b->conn, &sb);
    msgpack_sbuffer_destroy(&sb);
}

/* sbatch --parsable prints "JOBID" or "JOBID;CLUSTER". */
static bool parse_job_id(const char *out, char *id, size_t cap)
{
    size_t n = strspn(out, "0123456789");
    if (n == 0 || n >= cap || (out[n] && out[n] != ';' && out[n] != '\n'))
        return false;
    memcpy(id, out, n);
    id[n] = 0;
    return true;
}

/* Each job's Slurm id stored and followed. */
static int track_all(struct slurm_batch *b, const char *slurm_id, struct dashi_error *err)
{
    for (size_t k = 0; k < b->n; k++) {
        struct job_origin o;
        if (store_job_origin_get(&b->d->store, b->ids[k], &o, err) != 0)
            return -1;
        if (b->sweep)
            snprintf(o.slurm_job_id, sizeof o.slurm_job_id, "%s_%u", slurm_id, (unsigned)k); /* k < SWEEP_RUNS_MAX */
        else
            snprintf(o.slurm_job_id, sizeof o.slurm_job_id, "%s", slurm_id);
        if (store_job_origin_set(&b->d->store, b->ids[k], &o, err) != 0 ||
            slurm_track_add(b->d, b->ids[k], b->uid, o.slurm_job_id, o.imported_from, err) != 0)
            return -1;
    }
    return 0;
}

static void on_sbatch(void *ctx, const struct slurm_cmd_result *r)
{
    struct slurm_batch *b = ctx;
    char slurm_id[12]; /* a 32-bit job id */
    struct dashi_error why;
    b->cmd = NULL;
    batch_unlink(b);
    if (r->exit_status != 0 || !parse_job_id(r->out, slurm_id, sizeof slurm_id)) {
        size_t n = strlen(r->errtext);
        while (n && (r->errtext[n - 1] == '\n' || r->errtext[n - 1] == ' '))
            n--;
        dashi_fail(&why, DASHI_E_SLURM, "executor", "sbatch refused the job (exit %lld): %.*s", (long long)r->exit_status,
                   (int)(n < 400 ? n : 400), n ? r->errtext : r->out);
        fail_jobs(b, b->n, &why);
        answer(b, &why);
    } else if (track_all(b, slurm_id, &why) != 0) {
        fail_jobs(b, b->n, &why); /* Slurm runs them unfollowed: said so */
        answer(b, &why);
    } else {
        answer(b, NULL);
    }
    slurm_batch_free(b);
}

/* ---- recording and writing out ---- */

/* Run k recorded (executor slurm, its bundle's path), its inputs and spec written. */
static int record_run(struct slurm_batch *b, const struct slurm_runs *runs, size_t k, struct dashi_error *err)
{
    struct daemon *d = b->d;
    struct job_submission s = *runs->base;
    struct job_plan plan;
    if (runs->args_of)
        runs->args_of(runs->ctx, k, &s);
    if (jobs_record_elsewhere(d, &s, &b->ids[k], &plan, err) != 0)
        return -1;
    b->n = k + 1;
    if (k == 0 && slurm_workdir_prepare(d, b->ids[0], b->jobdir, sizeof b->jobdir, err) != 0)
        return -1;
    struct job_origin o = {.executor = "slurm"};
    snprintf(o.imported_from, sizeof o.imported_from, "%s/bundle-%u", b->jobdir, (unsigned)k);
    if (store_job_origin_set(&d->store, b->ids[k], &o, err) != 0)
        return -1;
    for (int i = 0; i < plan.ninputs; i++)
        if (slurm_workdir_input(d, plan.inputs[i].hash, err) != 0)
            return -1;
    struct job_row row;
    if (store_job_get(&d->store, b->ids[k], &row, err) != 0)
        return -1;
    int rc = slurm_workdir_spec(b->jobdir, k, &row, err);
    job_row_free(&row);
    return rc;
}

/* sbatch's argv (into argv, cap entries, words held in b and sr). */
static int sbatch_argv(const struct slurm_batch *b, const struct slurm_request *sr, char words[][PATH_MAX + 32],
                       const char **argv, size_t cap, struct dashi_error *err)
{
    const struct slurm_config *cfg = &b->d->cfg.slurm;
    size_t n = 0, w = 0;
    bool gres_given = false;
    for (size_t i = 0; i < sr->nargs; i++)
        gres_given = gres_given || strncmp(sr->args[i], "--gres", 6) == 0;
    argv[n++] = cfg->sbatch;
    for (size_t i = 0; i < sr->nargs; i++)
        argv[n++] = sr->args[i];
    argv[n++] = "--parsable";
    snprintf(words[w], sizeof words[w], "--job-name=dashi-%lld", (long long)b->ids[0]);
    argv[n++] = words[w++];
    snprintf(words[w], sizeof words[w], "--output=%s/bundle-%s.out", b->jobdir, b->sweep ? "%a" : "0");
    argv[n++] = words[w++];
    if (cfg->gres[0] && !gres_given) {
        snprintf(words[w], sizeof words[w], "--gres=%s", cfg->gres);
        argv[n++] = words[w++];
    }
    if (b->sweep) {
        snprintf(words[w], sizeof words[w], "--array=0-%zu", b->n - 1);
        argv[n++] = words[w++];
    }
    snprintf(words[w], sizeof words[w], "%s/dashi-run.sh", cfg->workdir);
    argv[n++] = words[w++];
    argv[n++] = b->jobdir;
    ssize_t len = readlink("/proc/self/exe", words[w], PATH_MAX - 1); /* the same dashid runs on the node */
    if (len <= 0)
        return dashi_fail(err, DASHI_E_IO, "executor", "/proc/self/exe cannot be read");
    words[w][len] = 0;
    argv[n++] = words[w++];
    argv[n++] = "--inputs";
    snprintf(words[w], sizeof words[w], "%s/inputs", cfg->workdir);
    argv[n++] = words[w++];
    argv[n] = NULL;
    return n < cap ? 0 : dashi_fail(err, DASHI_E_INTERNAL, "executor", "sbatch's argv overflows");
}

static int start_sbatch(struct slurm_batch *b, const struct slurm_request *sr, struct dashi_error *err)
{
    char(*words)[PATH_MAX + 32] = calloc(8, sizeof *words);
    const char *argv[SLURM_ARGS_MAX + 16];
    int rc = words ? sbatch_argv(b, sr, words, argv, sizeof argv / sizeof argv[0], err)
                   : dashi_fail(err, DASHI_E_INTERNAL, "executor", "out of memory");
    if (rc == 0)
        rc = slurm_cmd_start(&b->d->loop, argv, SBATCH_OUT_MAX, on_sbatch, b, 0, "executor", &b->cmd, err);
    free(words);
    return rc;
}

int slurm_submit_ready(const struct daemon *d, const struct job_submission *base, struct dashi_error *err)
{
    /* sbatch runs as this daemon's user, with the caller's options (--output, --export,
     * --chdir...): from anyone else that would be running as the daemon's user. */
    if (base->uid != geteuid())
        return dashi_fail(err, DASHI_E_PERMISSION, "executor",
                          "executor slurm is for this daemon's own user (uid %u): Slurm would run the job as it, "
                          "with your sbatch options; run your own dashid as your catalogue (docs/cluster.md)",
                          (unsigned)geteuid());
    if (!d->cfg.slurm.workdir[0])
        return dashi_fail(err, DASHI_E_SLURM, "executor",
                          "executor slurm needs this daemon's slurm_workdir: a directory the compute nodes share "
                          "(docs/cluster.md)");
    if (base->pin)
        return dashi_fail(err, DASHI_E_BAD_VALUE, "device",
                          "device names this daemon's devices; a Slurm job runs on the GPU Slurm allocates "
                          "(choose with slurm_args, e.g. --constraint)");
    return 0;
}

int slurm_submit(struct conn *c, const struct request *req, const struct slurm_request *sr,
                 const struct slurm_runs *runs, struct dashi_error *err)
{
    struct daemon *d = c->d;
    if (slurm_submit_ready(d, runs->base, err) != 0)
        return -1;
    struct slurm_batch *b = calloc(1, sizeof *b);
    int64_t *ids = calloc(runs->n, sizeof *ids);
    if (!b || !ids) {
        free(b);
        free(ids);
        return dashi_fail(err, DASHI_E_INTERNAL, "", "out of memory");
    }
    *b = (struct slurm_batch){.d = d, .conn = c, .req_id = req->id, .uid = c->uid, .sweep = runs->sweep,
                              .group = runs->group, .ids = ids};
    snprintf(b->name, sizeof b->name, "%s", runs->name ? runs->name : "");
    int rc = 0;
    for (size_t k = 0; k < runs->n && rc == 0; k++)
        rc = record_run(b, runs, k, err);
    if (rc == 0)
        rc = start_sbatch(b, sr, err);
    if (rc != 0) { /* what was recorded fails with the reason the request gets */
        fail_jobs(b, b->n, err);
        slurm_batch_free(b);
        return -1;
    }
    b->next = d->slurm->batches;
    d->slurm->batches = b;
    return OP_DEFERRED;
}
