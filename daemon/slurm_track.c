/* SPDX-License-Identifier: MIT */
/* Tracking the catalogue's Slurm jobs (slurm_track.h). */
#include "slurm_track.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "jobs.h"
#include "slurm_bundle.h"
#include "slurm_cmd.h"
#include "slurm_workdir.h"
#include "wire.h"

#define SQUEUE_OUT_MAX (1u << 20) /* one line a job: far more than a user's jobs */
#define UNLISTED_ENOUGH 3         /* polls not listing a job before sacct is asked about it */

/* ---- Slurm's states ---- */

enum slurm_phase { PHASE_QUEUED, PHASE_RUNNING, PHASE_ENDED };

/* squeue's long state names (squeue(1) "JOB STATE CODES"): the ones before the job ends. */
static enum slurm_phase phase_of(const char *state)
{
    static const char *const queued[] = {"PENDING", "CONFIGURING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED",
                                         "RESIZING", "SUSPENDED", "STOPPED", NULL};
    static const char *const running[] = {"RUNNING", "COMPLETING", "SIGNALING", "STAGE_OUT", NULL};
    for (const char *const *q = queued; *q; q++)
        if (strcmp(state, *q) == 0)
            return PHASE_QUEUED;
    for (const char *const *r = running; *r; r++)
        if (strcmp(state, *r) == 0)
            return PHASE_RUNNING;
    return PHASE_ENDED; /* COMPLETED, CANCELLED, FAILED, TIMEOUT, NODE_FAIL, OUT_OF_MEMORY, ... */
}

/* ---- the tracked jobs ---- */

static void tracked_remove(struct slurm_state *s, struct slurm_tracked *t)
{
    if (t->scancel)
        slurm_cmd_abandon(t->scancel);
    *t = s->jobs[--s->n];
}

int slurm_track_add(struct daemon *d, int64_t job, uid_t uid, const char *slurm_id, const char *bundle,
                    struct dashi_error *err)
{
    struct slurm_state *s = d->slurm;
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 64;
        struct slurm_tracked *grown = realloc(s->jobs, cap * sizeof *grown);
        if (!grown)
            return dashi_fail(err, DASHI_E_INTERNAL, "", "out of memory");
        s->jobs = grown;
        s->cap = cap;
    }
    struct slurm_tracked *t = &s->jobs[s->n++];
    memset(t, 0, sizeof *t);
    t->job = job;
    t->uid = uid;
    snprintf(t->slurm_id, sizeof t->slurm_id, "%s", slurm_id);
    snprintf(t->bundle, sizeof t->bundle, "%s", bundle);
    return 0;
}

/* ---- a job's end ---- */

/* The end Slurm gives a job that wrote no bundle. */
static int record_lost(struct daemon *d, const struct slurm_tracked *t, const char *slurm_state,
                       struct dashi_error *err)
{
    struct dashi_error why;
    enum job_state st = JOB_FAILED;
    if (strcmp(slurm_state, "CANCELLED") == 0) {
        st = JOB_CANCELLED;
        dashi_fail(&why, DASHI_E_CANCELLED, "", "cancelled %s%s (Slurm job %s) before it wrote a bundle",
                   t->cancelled_by_owner ? "by " : "in Slurm", t->cancelled_by_owner ? t->cancelled_by : "",
                   t->slurm_id);
    } else {
        dashi_fail(&why, DASHI_E_SLURM, "", "Slurm job %s ended %s%s%s and wrote no bundle (its output: %s.out)",
                   t->slurm_id, slurm_state, t->node[0] ? " on " : "", t->node, t->bundle);
    }
    return store_job_set_state(&d->store, t->job, st, now_seconds(), &why, err);
}

/* Slurm says the job ended (slurm_state): its bundle imported into the job, or its loss
 * recorded; then it ended for its waiters and dependents. */
static void job_ended_in_slurm(struct slurm_state *s, struct slurm_tracked *t, const char *slurm_state)
{
    struct daemon *d = s->d;
    struct dashi_error err;
    struct slurm_outcome o = {.slurm_state = slurm_state, .slurm_id = t->slurm_id, .node = t->node,
                              .cancelled_by = t->cancelled_by_owner ? t->cancelled_by : NULL};
    int rc = slurm_bundle_import(d, t->job, t->bundle, &o, &err);
    if (rc == 0) /* its blobs are in the store: the copy on the shared filesystem goes */
        slurm_workdir_remove_bundle(t->bundle);
    if (rc > 0) {
        rc = record_lost(d, t, slurm_state, &err);
    } else if (rc < 0) { /* a bundle that cannot be imported is the job's failure, said why */
        struct dashi_error why;
        dashi_fail(&why, DASHI_E_SLURM, "", "the bundle of Slurm job %s (%s) cannot be imported: %s", t->slurm_id,
                   t->bundle, err.message);
        rc = store_job_set_state(&d->store, t->job, JOB_FAILED, now_seconds(), &why, &err);
    }
    if (rc != 0) { /* the store refused: tried again at the next poll */
        fprintf(stderr, "dashid: recording the end of Slurm job %s (job %lld): %s\n", t->slurm_id, (long long)t->job,
                err.message);
        return;
    }
    int64_t job = t->job;
    tracked_remove(s, t);
    jobs_ended(d, job);
}

/* Slurm runs it: recorded running once, on its node. */
static void job_running(struct slurm_state *s, struct slurm_tracked *t, const char *node)
{
    if (node[0])
        snprintf(t->node, sizeof t->node, "%s", node);
    if (t->running)
        return;
    struct dashi_error err;
    char note[160];
    snprintf(note, sizeof note, "Slurm job %s on %s", t->slurm_id, t->node[0] ? t->node : "?");
    struct job_origin o;
    if (store_job_origin_get(&s->d->store, t->job, &o, &err) == 0) {
        snprintf(o.node, sizeof o.node, "%s", t->node);
        if (store_job_origin_set(&s->d->store, t->job, &o, &err) != 0)
            fprintf(stderr, "dashid: the node of job %lld: %s\n", (long long)t->job, err.message);
    }
    if (store_job_set_state_note(&s->d->store, t->job, JOB_RUNNING, now_seconds(), NULL, note, &err) != 0) {
        fprintf(stderr, "dashid: recording job %lld running: %s\n", (long long)t->job, err.message);
        return;
    }
    t->running = true;
}

/* ---- the poll ---- */

struct squeue_line {
    char id[32], state[32], node[64], reason[64];
};

/* "ID|STATE|NODE|REASON"; false for anything else. */
static bool parse_line(const char *line, size_t len, struct squeue_line *l)
{
    char *fields[] = {l->id, l->state, l->node, l->reason};
    const size_t caps[] = {sizeof l->id, sizeof l->state, sizeof l->node, sizeof l->reason};
    size_t at = 0;
    for (int f = 0; f < 4; f++) {
        size_t n = 0;
        while (at < len && line[at] != '|' && n + 1 < caps[f])
            fields[f][n++] = line[at++];
        fields[f][n] = 0;
        while (at < len && line[at] != '|')
            at++; /* cut what does not fit */
        if (f < 3 && (at == len || line[at++] != '|'))
            return false;
    }
    return l->id[0] && l->state[0];
}

static void apply_line(struct slurm_state *s, const struct squeue_line *l, bool *listed)
{
    for (size_t i = 0; i < s->n; i++) {
        struct slurm_tracked *t = &s->jobs[i];
        if (strcmp(t->slurm_id, l->id) != 0)
            continue;
        listed[i] = true;
        enum slurm_phase p = phase_of(l->state);
        snprintf(t->reason, sizeof t->reason, "%s", p == PHASE_QUEUED ? l->reason : "");
        if (p == PHASE_RUNNING || (p == PHASE_ENDED && l->node[0] && strcmp(l->node, "(null)") != 0))
            job_running(s, t, l->node);
        return;
    }
}

/* The final state squeue gives job t in out ("" when it lists it as not ended, or not). */
static void ended_state(const char *out, const struct slurm_tracked *t, char *state, size_t cap)
{
    state[0] = 0;
    for (const char *line = out; *line;) {
        size_t len = strcspn(line, "\n");
        struct squeue_line l;
        if (parse_line(line, len, &l) && strcmp(l.id, t->slurm_id) == 0 && phase_of(l.state) == PHASE_ENDED)
            snprintf(state, cap, "%s", l.state);
        line += len + (line[len] == '\n');
    }
}

/* Jobs ended: handled after the whole answer is read (each end removes a tracked job).
 * One squeue stopped listing (past MinJobAge) is counted, for sacct to tell. */
static void settle_ends(struct slurm_state *s, const char *out, const bool *listed, bool complete)
{
    for (size_t i = s->n; i-- > 0;) {
        struct slurm_tracked *t = &s->jobs[i];
        char ended[32];
        ended_state(out, t, ended, sizeof ended);
        t->unlisted = listed[i] ? 0 : t->unlisted + (complete ? 1 : 0);
        if (ended[0])
            job_ended_in_slurm(s, t, ended);
    }
}

/* ---- jobs squeue forgot: sacct ---- */

/* sacct -P: "JOBID|STATE|NODES"; STATE may read "CANCELLED by 1000": its first word. */
static void sacct_state(const char *out, const struct slurm_tracked *t, char *state, size_t cap)
{
    state[0] = 0;
    size_t idlen = strlen(t->slurm_id);
    for (const char *line = out; *line;) {
        size_t len = strcspn(line, "\n");
        if (len > idlen && strncmp(line, t->slurm_id, idlen) == 0 && line[idlen] == '|') {
            const char *st = line + idlen + 1;
            size_t n = strcspn(st, "| \n");
            snprintf(state, cap, "%.*s", (int)(n < cap ? n : cap - 1), st);
        }
        line += len + (line[len] == '\n');
    }
}

static void on_sacct(void *ctx, const struct slurm_cmd_result *r)
{
    struct slurm_state *s = ctx;
    s->sacct = NULL;
    if (r->exit_status != 0) /* no accounting: the bundle alone tells */
        fprintf(stderr, "dashid: sacct failed (exit %lld): %.300s\n", (long long)r->exit_status, r->errtext);
    for (size_t i = s->n; i-- > 0;) {
        struct slurm_tracked *t = &s->jobs[i];
        char state[32] = "";
        if (t->unlisted < UNLISTED_ENOUGH)
            continue;
        if (r->exit_status == 0)
            sacct_state(r->out, t, state, sizeof state);
        if (!state[0])
            snprintf(state, sizeof state, "UNKNOWN");
        if (phase_of(state) == PHASE_ENDED)
            job_ended_in_slurm(s, t, state);
        else
            t->unlisted = 0; /* sacct says it goes on: squeue tells again */
    }
}

/* Asks sacct about the jobs squeue stopped listing (at most what one -j list holds). */
static void ask_sacct(struct slurm_state *s)
{
    char ids[4096];
    size_t used = 0;
    for (size_t i = 0; i < s->n; i++) {
        const struct slurm_tracked *t = &s->jobs[i];
        size_t n = strlen(t->slurm_id);
        if (t->unlisted < UNLISTED_ENOUGH || used + n + 2 > sizeof ids)
            continue;
        if (used)
            ids[used++] = ',';
        memcpy(ids + used, t->slurm_id, n);
        used += n;
    }
    ids[used] = 0;
    if (!used || s->sacct)
        return;
    const char *argv[] = {s->d->cfg.slurm.sacct, "--noheader", "--parsable2", "--allocations",
                          "--format=JobID,State,NodeList", "--jobs", ids, NULL};
    struct dashi_error err;
    if (slurm_cmd_start(&s->d->loop, argv, SQUEUE_OUT_MAX, on_sacct, s, 0, "sacct", &s->sacct, &err) != 0) {
        fprintf(stderr, "dashid: %s\n", err.message);
        struct slurm_cmd_result none = {.exit_status = -1, .out = "", .errtext = err.message};
        on_sacct(s, &none);
    }
}

static void on_squeue(void *ctx, const struct slurm_cmd_result *r)
{
    struct slurm_state *s = ctx;
    s->poll = NULL;
    if (r->exit_status != 0) {
        fprintf(stderr, "dashid: squeue failed (exit %lld): %.300s\n", (long long)r->exit_status, r->errtext);
        return;
    }
    bool *listed = calloc(s->n + 1, sizeof *listed);
    if (!listed)
        return;
    for (const char *line = r->out; *line;) {
        size_t len = strcspn(line, "\n");
        struct squeue_line l;
        if (parse_line(line, len, &l))
            apply_line(s, &l, listed);
        line += len + (line[len] == '\n');
    }
    settle_ends(s, r->out, listed, !r->out_truncated);
    free(listed);
    ask_sacct(s);
}

static void on_poll_timer(uv_timer_t *h)
{
    struct slurm_state *s = h->data;
    if (s->poll || s->n == 0 || s->stopping)
        return;
    const char *argv[] = {s->d->cfg.slurm.squeue, "--me", "--noheader", "--array", "--states=all",
                          "--format=%i|%T|%N|%r", NULL};
    struct dashi_error err;
    if (slurm_cmd_start(&s->d->loop, argv, SQUEUE_OUT_MAX, on_squeue, s, 0, "squeue", &s->poll, &err) != 0)
        fprintf(stderr, "dashid: %s\n", err.message);
}

/* ---- cancel ---- */

static void on_scancel(void *ctx, const struct slurm_cmd_result *r)
{
    struct slurm_tracked *t = slurm_state_find(ctx, (int64_t)r->tag);
    if (!t)
        return;
    t->scancel = NULL;
    if (r->exit_status != 0)
        fprintf(stderr, "dashid: scancel %s (job %lld) failed (exit %lld): %.300s\n", t->slurm_id, (long long)t->job,
                (long long)r->exit_status, r->errtext);
}

static int cancel_tracked(struct daemon *d, int64_t job, const char *caller_name, struct dashi_error *err)
{
    struct slurm_tracked *t = slurm_state_find(d->slurm, job);
    if (!t)
        return dashi_fail(err, DASHI_E_STATE, "id", "job %lld is being submitted to Slurm: cancel it once sbatch "
                          "has answered", (long long)job);
    if (t->scancel)
        return 0; /* asked already */
    const char *argv[] = {d->cfg.slurm.scancel, t->slurm_id, NULL};
    if (slurm_cmd_start(&d->loop, argv, 4096, on_scancel, d->slurm, (uint64_t)job, "id", &t->scancel, err) != 0)
        return -1;
    t->cancelled_by_owner = true;
    snprintf(t->cancelled_by, sizeof t->cancelled_by, "%s", caller_name);
    return 0;
}

/* ---- start and stop ---- */

/* A Slurm job of the store, queued or running: followed again. One whose sbatch never
 * answered (the daemon stopped first) may or may not be in Slurm: it fails, said why. */
static int resume_one(void *ctx, int64_t id, const struct job_origin *o)
{
    struct daemon *d = ctx;
    struct dashi_error err, why;
    struct job_row row;
    if (store_job_get(&d->store, id, &row, &err) != 0) {
        fprintf(stderr, "dashid: Slurm job of job %lld: %s\n", (long long)id, err.message);
        return 0;
    }
    bool running = row.state == JOB_RUNNING;
    uid_t uid = row.uid;
    job_row_free(&row);
    if (!o->slurm_job_id[0]) {
        dashi_fail(&why, DASHI_E_SLURM, "", "the daemon stopped before sbatch answered: whether Slurm runs it is "
                   "unknown (squeue names it dashi-%lld)", (long long)id);
        if (store_job_set_state(&d->store, id, JOB_FAILED, now_seconds(), &why, &err) != 0)
            fprintf(stderr, "dashid: job %lld: %s\n", (long long)id, err.message);
        return 0;
    }
    if (slurm_track_add(d, id, uid, o->slurm_job_id, o->imported_from, &err) != 0)
        return 1;
    struct slurm_tracked *t = &d->slurm->jobs[d->slurm->n - 1];
    snprintf(t->node, sizeof t->node, "%s", o->node);
    t->running = running;
    return 0;
}

int slurm_track_start(struct daemon *d, struct dashi_error *err)
{
    struct slurm_state *s = calloc(1, sizeof *s);
    if (!s)
        return dashi_fail(err, DASHI_E_INTERNAL, "", "out of memory");
    s->d = d;
    s->cancel = cancel_tracked;
    d->slurm = s;
    uv_timer_init(&d->loop, &s->timer);
    s->timer.data = s;
    uint64_t ms = (uint64_t)(d->cfg.slurm.poll_s * 1000.0);
    uv_timer_start(&s->timer, on_poll_timer, ms, ms);
    if (store_slurm_active(&d->store, resume_one, d, err) != 0)
        return -1;
    if (s->n)
        fprintf(stderr, "dashid: following %zu Slurm job(s) again\n", s->n);
    return 0;
}

static void state_closed(uv_handle_t *h)
{
    struct slurm_state *s = h->data;
    s->d->slurm = NULL;
    free(s->jobs);
    free(s);
}

void slurm_track_stop(struct daemon *d)
{
    struct slurm_state *s = d->slurm;
    if (!s || s->stopping)
        return;
    s->stopping = true;
    if (s->poll)
        slurm_cmd_abandon(s->poll);
    if (s->sacct)
        slurm_cmd_abandon(s->sacct);
    s->poll = s->sacct = NULL;
    for (size_t i = 0; i < s->n; i++)
        if (s->jobs[i].scancel)
            slurm_cmd_abandon(s->jobs[i].scancel);
    s->n = 0;
    slurm_state_abandon_batches(s);
    uv_close((uv_handle_t *)&s->timer, state_closed);
}
