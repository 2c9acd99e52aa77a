/* SPDX-License-Identifier: MIT */
/* The job lifecycle on the loop thread (jobs.h): submit, re-queue, resume, cancel, the
 * end of a job, and the dependents that wait for one. */
#include "jobs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "device_pool.h"
#include "job_record.h"
#include "json.h"
#include "keep.h"
#include "quota.h"
#include "reuse.h"
#include "slurm_state.h"
#include "store_devices.h"
#include "store_origin.h"
#include "store_reuse.h"
#include "store_tags.h"
#include "waiters.h"

static int stored_state(struct daemon *d, int64_t id, enum job_state *state);

/* ---- pipelines follow their stages ---- */

/* Job id, when it is made of stages, takes the state they give it; when that is a final
 * one reached now, it ended (its waiters get its record). Anything else: nothing. */
static void pipeline_follow(struct daemon *d, int64_t id)
{
    struct job_row row;
    struct dashi_error err;
    dashi_error_clear(&err);
    if (store_job_get(&d->store, id, &row, &err) != 0) {
        fprintf(stderr, "dashid: reading job %lld: %s\n", (long long)id, err.message);
        return;
    }
    const struct job_kind *kind = job_kind_find(row.kind);
    job_row_free(&row);
    bool ended = false;
    /* a pipeline run by Slurm is one job there: it has no stages here to follow */
    if (!kind || !kind->stages || store_job_runs_elsewhere(&d->store, id, &err) != 0)
        return;
    if (kind->stages->settle(&d->store, id, now_seconds(), &ended, &err) != 0)
        fprintf(stderr, "dashid: recording the state of job %lld from its stages: %s\n", (long long)id, err.message);
    if (ended)
        jobs_ended(d, id);
}

/* Job id changed state: the pipeline it is a stage of follows. */
static void stage_changed(struct daemon *d, int64_t id)
{
    struct job_row row;
    struct dashi_error err;
    if (store_job_get(&d->store, id, &row, &err) != 0) {
        fprintf(stderr, "dashid: reading job %lld: %s\n", (long long)id, err.message);
        return;
    }
    int64_t parent = row.parent;
    job_row_free(&row);
    if (parent)
        pipeline_follow(d, parent);
}

/* ---- one job from parameters ---- */

/* Validates args for kind as submitted by uid into *out (not yet scheduled; on failure
 * *out may hold a job to discard): the kind's checks, then what this daemon's devices can
 * run (pin: 1 + the device it is pinned to, 0: any; the device that validates is
 * device_pool_validator's). */
static int validate_job(struct daemon *d, const struct job_kind *kind, const msgpack_object *args, uid_t uid,
                        int pin, struct sched_job **out, struct dashi_error *err)
{
    const struct gpu_device *g = device_pool_validator(d, pin);
    struct job_submit_ctx ctx = {
        .store = &d->store, .blobs = &d->blobs, .vk = &g->vk, .rollout_tuning = &d->rollout_tuning,
        .resident_budget = g->resident.budget, .uid = uid};
    struct sched_job *j = calloc(1, sizeof *j);
    if (!j)
        return dashi_fail(err, DASHI_E_INTERNAL, "", "out of memory");
    j->kind = kind;
    j->uid = uid;
    j->pin = pin;
    if (kind->validate(&ctx, args, &j->params, &j->plan, err) != 0) {
        free(j);
        return -1;
    }
    *out = j;
    if (j->plan.require_gpu && g->vk.is_cpu)
        return dashi_fail(err, DASHI_E_NO_GPU, "require_gpu",
                          "the job requires a GPU but this daemon runs on %s, a CPU implementation of Vulkan "
                          "(no GPU was found or --device selected it)",
                          g->vk.device_name);
    if (j->plan.mem_estimate > g->vk.memory_budget)
        return dashi_fail(err, DASHI_E_DEVICE_MEMORY, "",
                          "the job needs about %llu MiB of device memory; the device budget is %llu MiB",
                          (unsigned long long)(j->plan.mem_estimate >> 20),
                          (unsigned long long)(g->vk.memory_budget >> 20));
    return 0;
}

static void sched_job_discard(struct sched_job *j)
{
    if (!j)
        return;
    if (j->params)
        j->kind->free_params(j->params);
    free(j);
}

/* The stored parameters of row validated again (blobs and the device may have changed
 * since they were), as a job carrying the row's id, priority, time limit and checkpoint;
 * waiting when some job it depends on has not succeeded yet. On failure *out may hold a
 * job to discard. Shared by re-queueing, resume and the dependents of an ended job. */
static int job_from_row(struct daemon *d, const struct job_row *row, struct sched_job **out, struct dashi_error *err)
{
    *out = NULL;
    int pinned; /* kept across restarts and resumes: a pin is never dropped */
    if (store_job_pin_get(&d->store, row->id, &pinned, err) != 0)
        return -1;
    if (pinned >= d->ndev)
        return dashi_fail(err, DASHI_E_BAD_VALUE, "device", "the job is pinned to device %d, but this daemon has "
                          "%d device%s (`dashi devices`)", pinned, d->ndev, d->ndev == 1 ? "" : "s");
    const struct job_kind *kind = job_kind_find(row->kind);
    msgpack_unpacked pu;
    msgpack_unpacked_init(&pu);
    int rc = kind && row->params_mp &&
                     msgpack_unpack_next(&pu, row->params_mp, row->params_mp_len, NULL) == MSGPACK_UNPACK_SUCCESS
                 ? validate_job(d, kind, &pu.data, row->uid, pinned + 1, out, err)
                 : dashi_fail(err, DASHI_E_INTERNAL, "", "stored parameters of job %lld cannot be read",
                              (long long)row->id);
    msgpack_unpacked_destroy(&pu);
    if (rc != 0)
        return -1;
    struct sched_job *j = *out;
    j->id = row->id;
    j->priority = row->priority;
    quota_time_limit(d, j, row->time_limit);
    j->waiting = j->plan.ndeps > 0;
    /* A resumed job continues from its checkpoint (only a job that ran has one), with the
     * partial outputs it kept. */
    memcpy(j->resume_checkpoint, row->checkpoint, sizeof j->resume_checkpoint);
    j->resume_step = row->checkpoint_step;
    j->gpu_seconds = row->gpu_seconds; /* accounting and fair share go on from the stored time */
    return 0;
}

/* The resolved parameters as msgpack (into sb, initialised here) and as JSON (malloc'd,
 * NULL when they cannot be encoded). */
static char *pack_resolved_params(const struct job_kind *kind, const void *params, msgpack_sbuffer *sb)
{
    msgpack_sbuffer_init(sb);
    msgpack_packer ppk;
    msgpack_packer_init(&ppk, sb, msgpack_sbuffer_write);
    kind->pack_params(params, &ppk);
    msgpack_unpacked pu;
    msgpack_unpacked_init(&pu);
    char *json = NULL;
    if (msgpack_unpack_next(&pu, sb->data, sb->size, NULL) == MSGPACK_UNPACK_SUCCESS)
        json = json_string(&pu.data, -1);
    msgpack_unpacked_destroy(&pu);
    return json;
}

/* ---- submit ---- */

struct submit_tx {
    struct store *st;
    struct job_row *row;
    const struct job_plan *plan;
    int pin;    /* 1 + the device it is pinned to, 0: none */
    bool reuse; /* false: run even when an identical job succeeded */
    const struct job_labels *labels;
};

static int submit_tx_fn(void *ctx, struct dashi_error *err)
{
    struct submit_tx *t = ctx;
    if (store_job_insert(t->st, t->row, err) != 0 || (!t->reuse && store_job_forbid_reuse(t->st, t->row->id, err) != 0) ||
        (t->labels && store_job_labels_set(t->st, t->row->id, t->labels, err) != 0) ||
        (t->pin && store_job_pin_set(t->st, t->row->id, t->pin - 1, err) != 0))
        return -1;
    for (int i = 0; i < t->plan->ninputs; i++)
        if (store_job_blob_add(t->st, t->row->id, "input", t->plan->inputs[i].name, t->plan->inputs[i].hash, err) != 0)
            return -1;
    return 0;
}

static void submission_row(const struct job_submission *s, const struct sched_job *j, struct job_row *row)
{
    memset(row, 0, sizeof *row);
    snprintf(row->kind, sizeof row->kind, "%s", s->kind->name);
    row->state = JOB_QUEUED;
    row->uid = s->uid;
    snprintf(row->user, sizeof row->user, "%s", s->user);
    row->priority = s->priority;
    row->is_private = s->is_private;
    row->time_limit = s->time_limit;
    row->submitted_at = now_seconds();
    snprintf(row->precision, sizeof row->precision, "%s", j->plan.precision);
    snprintf(row->mode, sizeof row->mode, "%s", j->plan.mode);
    row->total_steps = j->plan.total_steps;
    row->mem_estimate = j->plan.mem_estimate;
    row->parent = s->parent;
}

/* Records the validated job j as queued, with its inputs, and sets its id. The stored
 * parameters are the resolved ones, defaults included. */
static int record_submission(struct daemon *d, const struct job_submission *s, struct sched_job *j,
                             struct dashi_error *err)
{
    msgpack_sbuffer psb;
    char *pjson = pack_resolved_params(s->kind, j->params, &psb);
    struct job_row row;
    submission_row(s, j, &row);
    row.params_json = pjson;
    row.params_mp = psb.data;
    row.params_mp_len = psb.size;
    struct submit_tx tx = {.st = &d->store, .row = &row, .plan = &j->plan, .pin = s->pin, .reuse = s->reuse,
                          .labels = s->labels};
    int rc = pjson ? store_transaction(&d->store, submit_tx_fn, &tx, err)
                   : dashi_fail(err, DASHI_E_INTERNAL, "", "cannot encode the job's parameters");
    free(pjson);
    msgpack_sbuffer_destroy(&psb);
    j->id = row.id;
    return rc;
}

/* What identical jobs offer the resolved job j (id 0: not recorded yet): reuse.c. A store
 * error only costs the reuse: the job runs. */
static void identical_lookup(struct daemon *d, const struct sched_job *j, int64_t id, bool allow,
                             struct reuse_match *m)
{
    struct dashi_error err;
    struct reuse_ctx ctx = {.store = &d->store, .blobs = &d->blobs, .vk = &device_pool_validator(d, j->pin)->vk,
                            .daemon_version = DASHID_VERSION};
    if (reuse_lookup(&ctx, id, j->uid, j->kind, j->params, &j->plan, allow, m, &err) != 0) {
        fprintf(stderr, "dashid: looking for a job identical to job %lld (it runs instead): %s\n", (long long)id,
                err.message);
        memset(m, 0, sizeof *m);
    }
}

/* Whether the recorded job j took the results of m's original instead of running; stores
 * its identity either way (when m has one). */
static bool reused_instead(struct daemon *d, const struct sched_job *j, const struct reuse_match *m)
{
    struct dashi_error err;
    bool reused = false;
    struct reuse_ctx ctx = {.store = &d->store, .blobs = &d->blobs, .vk = &device_pool_validator(d, j->pin)->vk,
                            .daemon_version = DASHID_VERSION};
    if (m->identity[0] && reuse_apply(&ctx, j->id, m, now_seconds(), &reused, &err) != 0)
        fprintf(stderr, "dashid: recording the identity of job %lld (it runs instead): %s\n", (long long)j->id,
                err.message);
    return reused;
}

/* ---- a pipeline's stages ---- */

#define JOB_MAX_STAGES 8

struct stages_tx {
    struct daemon *d;
    const struct job_submission *s;
    struct sched_job *pipe;
    struct sched_job *stages[JOB_MAX_STAGES];
};

/* Stage k validated (the stages before it are recorded, so it waits on them) and recorded
 * as a child of the pipeline. Its error names the stage. */
static int submit_stage(struct stages_tx *t, int k, const int64_t *ids, struct dashi_error *err)
{
    const struct job_stages *st = t->s->kind->stages;
    struct job_submission sub = *t->s;
    sub.kind = job_kind_find(st->kinds[k]);
    sub.parent = t->pipe->id;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    st->args(t->pipe->params, k, ids, &pk);
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    int rc = sub.kind && msgpack_unpack_next(&u, sb.data, sb.size, NULL) == MSGPACK_UNPACK_SUCCESS
                 ? 0
                 : dashi_fail(err, DASHI_E_INTERNAL, "", "cannot build the arguments of stage %s", st->kinds[k]);
    sub.args = &u.data;
    if (rc == 0)
        rc = validate_job(t->d, sub.kind, sub.args, sub.uid, sub.pin, &t->stages[k], err) ||
                     quota_check_submit(t->d, sub.uid, &t->stages[k]->plan, err) ||
                     record_submission(t->d, &sub, t->stages[k], err)
                 ? -1
                 : 0;
    msgpack_unpacked_destroy(&u);
    msgpack_sbuffer_destroy(&sb);
    if (rc != 0) {
        char msg[sizeof err->message];
        snprintf(msg, sizeof msg, "stage %s: %.200s", st->kinds[k], err->message);
        memcpy(err->message, msg, sizeof msg);
    }
    return rc;
}

static int stages_tx_fn(void *ctx, struct dashi_error *err)
{
    struct stages_tx *t = ctx;
    int64_t ids[JOB_MAX_STAGES];
    if (record_submission(t->d, t->s, t->pipe, err) != 0)
        return -1;
    for (int k = 0; k < t->s->kind->stages->n; k++) {
        if (submit_stage(t, k, ids, err) != 0)
            return -1;
        ids[k] = t->stages[k]->id;
    }
    return 0;
}

/* The pipeline and its stages recorded in one transaction (all or nothing), then the
 * stages scheduled: the waiting ones first, so that a first stage reused at once finds
 * its dependents. */
static int submit_stages(struct daemon *d, const struct job_submission *s, struct sched_job *pipe, int64_t *id,
                         struct dashi_error *err)
{
    struct stages_tx t = {.d = d, .s = s, .pipe = pipe};
    int n = s->kind->stages->n;
    int rc = n <= JOB_MAX_STAGES ? quota_check_jobs(d, s->uid, (uint64_t)n, err)
                                 : dashi_fail(err, DASHI_E_INTERNAL, "", "too many stages");
    if (rc == 0)
        rc = store_transaction(&d->store, stages_tx_fn, &t, err);
    if (rc != 0) {
        for (int k = 0; k < n; k++)
            sched_job_discard(t.stages[k]);
        sched_job_discard(pipe);
        return -1;
    }
    *id = pipe->id;
    sched_job_discard(pipe);
    int64_t reused[JOB_MAX_STAGES];
    int nreused = 0;
    for (int k = n - 1; k >= 0; k--) {
        struct sched_job *j = t.stages[k];
        j->priority = s->priority;
        quota_time_limit(d, j, s->time_limit);
        j->waiting = j->plan.ndeps > 0;
        struct reuse_match m = {.original = 0};
        if (!j->waiting)
            identical_lookup(d, j, j->id, s->reuse, &m);
        if (!j->waiting && reused_instead(d, j, &m)) {
            reused[nreused++] = j->id;
            sched_job_discard(j);
            continue;
        }
        if (m.in_flight) /* an identical job computes it: wait for that one, then reuse */
            scheduler_job_await_identical(j, m.in_flight);
        scheduler_add(&d->sched, j);
    }
    for (int i = 0; i < nreused; i++)
        jobs_ended(d, reused[i]);
    return 0;
}

/* The checks of a submission; on failure *j may hold a job to discard. */
static int check_submission(struct daemon *d, const struct job_submission *s, struct sched_job **j,
                            struct dashi_error *err)
{
    return device_pool_accepting(d, s->pin, err) != 0 || validate_job(d, s->kind, s->args, s->uid, s->pin, j, err) != 0 ||
                   quota_check_submit(d, s->uid, &(*j)->plan, err) != 0
               ? -1
               : 0;
}

int jobs_check(struct daemon *d, const struct job_submission *s, struct dashi_error *err)
{
    struct sched_job *j = NULL;
    int rc = check_submission(d, s, &j, err);
    sched_job_discard(j);
    return rc;
}

int jobs_record_elsewhere(struct daemon *d, const struct job_submission *s, int64_t *id, struct job_plan *plan,
                          struct dashi_error *err)
{
    struct sched_job *j = NULL;
    int rc = validate_job(d, s->kind, s->args, s->uid, 0, &j, err);
    if (rc == 0 && j->plan.ndeps > 0)
        rc = dashi_fail(err, DASHI_E_STATE, "args",
                        "job %lld, whose output this job takes, has not succeeded yet: a job run by Slurm starts "
                        "from stored inputs only (submit it once that job has succeeded)",
                        (long long)j->plan.deps[0]);
    if (rc == 0)
        rc = quota_check_submit(d, s->uid, &j->plan, err);
    if (rc == 0)
        rc = record_submission(d, s, j, err);
    if (rc == 0) {
        *id = j->id;
        *plan = j->plan;
    }
    sched_job_discard(j);
    return rc;
}

int jobs_submit(struct daemon *d, const struct job_submission *s, int64_t *id, struct dashi_error *err)
{
    struct sched_job *j = NULL;
    if (device_pool_accepting(d, s->pin, err) != 0 ||
        validate_job(d, s->kind, s->args, s->uid, s->pin, &j, err) != 0) {
        sched_job_discard(j);
        return -1;
    }
    /* Reuse is looked up first: taking a succeeded job's results costs no disk, device
     * memory or place in the queue, so the quotas apply only to a job that will run. */
    struct reuse_match m = {.original = 0};
    j->waiting = j->plan.ndeps > 0;
    if (!j->waiting)
        identical_lookup(d, j, 0, s->reuse, &m);
    if (!m.original && quota_check_submit(d, s->uid, &j->plan, err) != 0) {
        sched_job_discard(j);
        return -1;
    }
    if (s->kind->stages)
        return submit_stages(d, s, j, id, err);
    j->priority = s->priority;
    quota_time_limit(d, j, s->time_limit);
    if (record_submission(d, s, j, err) != 0) {
        sched_job_discard(j);
        return -1;
    }
    *id = j->id;
    if (!j->waiting && reused_instead(d, j, &m)) { /* nothing waits on a new job yet */
        sched_job_discard(j);
        keep_job_ended(d, *id); /* it consumed its inputs */
        return 0;
    }
    if (m.in_flight) /* an identical job computes it: wait for that one, then reuse */
        scheduler_job_await_identical(j, m.in_flight);
    scheduler_add(&d->sched, j);
    return 0;
}

/* ---- re-queueing at start ---- */

/* Schedules the queued job id again, or fails it with the reason it no longer validates.
 * -1 only when the store cannot be read or written. */
static int requeue_one(struct daemon *d, int64_t id, struct dashi_error *err)
{
    struct job_row row;
    int elsewhere = store_job_runs_elsewhere(&d->store, id, err);
    if (elsewhere != 0) /* Slurm runs it: slurm_track follows it again */
        return elsewhere < 0 ? -1 : 0;
    if (store_job_get(&d->store, id, &row, err) != 0)
        return -1;
    struct dashi_error why;
    dashi_error_clear(&why);
    struct sched_job *j = NULL;
    int rc = 0;
    const struct job_kind *kind = job_kind_find(row.kind);
    if (kind && kind->stages) { /* never scheduled: it follows its stages, re-queued on their own */
        job_row_free(&row);
        pipeline_follow(d, id);
        return 0;
    }
    if (job_from_row(d, &row, &j, &why) == 0) {
        scheduler_add(&d->sched, j);
    } else {
        sched_job_discard(j);
        rc = store_job_set_state(&d->store, row.id, JOB_FAILED, now_seconds(), &why, err);
    }
    job_row_free(&row);
    return rc;
}

int jobs_requeue(struct daemon *d, struct dashi_error *err)
{
    int64_t *ids = NULL;
    size_t n = 0;
    if (store_jobs_in_state(&d->store, JOB_QUEUED, &ids, &n, err) != 0)
        return -1;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = requeue_one(d, ids[i], err);
    free(ids);
    /* A pipeline that was running was marked interrupted with its running stage: it
     * follows its stages again (queued while they are, interrupted while one is). */
    if (rc == 0 && store_jobs_in_state(&d->store, JOB_INTERRUPTED, &ids, &n, err) != 0)
        return -1;
    for (size_t i = 0; i < n && rc == 0; i++)
        pipeline_follow(d, ids[i]);
    free(ids);
    return rc;
}

/* ---- resume ---- */

/* The checks on the stored row: owner or root, interrupted, with a checkpoint. */
static int resumable(uid_t caller, const struct job_row *row, struct dashi_error *err)
{
    if (caller != 0 && caller != row->uid)
        return dashi_fail(err, DASHI_E_PERMISSION, "id",
                          "job %lld belongs to another user; only its owner or root may resume it", (long long)row->id);
    if (row->state != JOB_INTERRUPTED)
        return dashi_fail(err, DASHI_E_STATE, "id", "job %lld is %s; only an interrupted job can be resumed",
                          (long long)row->id, job_state_name(row->state));
    if (!row->checkpoint[0])
        return dashi_fail(err, DASHI_E_STATE, "id",
                          "job %lld has no checkpoint to resume from (it stopped before its first one)",
                          (long long)row->id);
    return 0;
}

/* The interrupted job rebuilt from its row, under the per-user limits of a submission. */
static int rebuild(struct daemon *d, const struct job_row *row, struct sched_job **out, struct dashi_error *err)
{
    if (job_from_row(d, row, out, err) != 0 || quota_check_submit(d, row->uid, &(*out)->plan, err) != 0)
        return -1;
    if ((*out)->waiting) /* it ran, so its inputs existed; they must resolve now */
        return dashi_fail(err, DASHI_E_STATE, "id", "job %lld depends on jobs that have not succeeded",
                          (long long)row->id);
    return 0;
}

struct resume_tx {
    struct store *st;
    const struct job_row *row;
};

/* Progress goes back to the checkpoint (the steps after it are computed again) and the
 * job is queued, in one transaction. */
static int resume_tx_fn(void *ctx, struct dashi_error *err)
{
    const struct resume_tx *t = ctx;
    const struct job_row *row = t->row;
    if (store_job_set_progress(t->st, row->id, row->checkpoint_step, row->total_steps, row->gpu_seconds, err) != 0)
        return -1;
    return store_job_set_state(t->st, row->id, JOB_QUEUED, now_seconds(), NULL, err);
}

static int resume_stages(struct daemon *d, uid_t caller, const struct job_row *pipe, struct dashi_error *err);

int jobs_resume(struct daemon *d, uid_t caller, int64_t id, struct dashi_error *err)
{
    struct job_row row;
    if (job_get_visible(&d->store, id, caller, &row, err) != 0)
        return -1;
    int elsewhere = store_job_runs_elsewhere(&d->store, id, err);
    if (elsewhere != 0) { /* never continued on this daemon's devices */
        job_row_free(&row);
        return elsewhere < 0 ? -1 : dashi_fail(err, DASHI_E_STATE, "id", "job %lld ran under Slurm: resuming it "
                                               "through Slurm is not supported yet (submit it again)", (long long)id);
    }
    const struct job_kind *kind = job_kind_find(row.kind);
    if (kind && kind->stages) {
        int rc = resume_stages(d, caller, &row, err);
        job_row_free(&row);
        return rc;
    }
    struct sched_job *j = NULL;
    int rc = resumable(caller, &row, err);
    if (rc == 0)
        rc = device_pool_accepting(d, 0, err);
    if (rc == 0)
        rc = rebuild(d, &row, &j, err);
    struct resume_tx tx = {.st = &d->store, .row = &row};
    if (rc == 0)
        rc = store_transaction(&d->store, resume_tx_fn, &tx, err);
    job_row_free(&row);
    if (rc != 0) {
        sched_job_discard(j);
        return -1;
    }
    scheduler_add(&d->sched, j);
    stage_changed(d, id);
    return 0;
}

/* A pipeline's interrupted stages, each resumed as a job of its own would be. */
static int resume_stages(struct daemon *d, uid_t caller, const struct job_row *pipe, struct dashi_error *err)
{
    if (caller != 0 && caller != pipe->uid)
        return dashi_fail(err, DASHI_E_PERMISSION, "id",
                          "job %lld belongs to another user; only its owner or root may resume it", (long long)pipe->id);
    if (pipe->state != JOB_INTERRUPTED)
        return dashi_fail(err, DASHI_E_STATE, "id", "job %lld is %s; only an interrupted job can be resumed",
                          (long long)pipe->id, job_state_name(pipe->state));
    int64_t ids[JOB_MAX_STAGES];
    size_t n;
    if (store_job_children(&d->store, pipe->id, ids, JOB_MAX_STAGES, &n, err) != 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        enum job_state state;
        if (stored_state(d, ids[i], &state) != 0)
            return dashi_fail(err, DASHI_E_DB, "id", "cannot read stage %lld of job %lld", (long long)ids[i],
                              (long long)pipe->id);
        if (state == JOB_INTERRUPTED && jobs_resume(d, caller, ids[i], err) != 0)
            return -1;
    }
    return 0;
}

/* ---- cancel ---- */

/* A pipeline's stages that are still active, the last first (so that none fails for want
 * of an output the one before it will not make); *ended once the pipeline is final. */
static int cancel_stages(struct daemon *d, uid_t caller, const char *caller_name, int64_t id, bool *ended,
                         struct dashi_error *err)
{
    int64_t ids[JOB_MAX_STAGES];
    size_t n;
    if (store_job_children(&d->store, id, ids, JOB_MAX_STAGES, &n, err) != 0)
        return -1;
    for (size_t i = n; i-- > 0;) {
        enum job_state state;
        bool stage_ended;
        if (stored_state(d, ids[i], &state) != 0)
            return dashi_fail(err, DASHI_E_DB, "id", "cannot read stage %lld of job %lld", (long long)ids[i],
                              (long long)id);
        if ((state == JOB_QUEUED || state == JOB_RUNNING) &&
            jobs_cancel(d, caller, caller_name, ids[i], &stage_ended, err) != 0)
            return -1;
    }
    enum job_state state;
    if (stored_state(d, id, &state) != 0)
        return dashi_fail(err, DASHI_E_DB, "id", "cannot read job %lld", (long long)id);
    *ended = job_state_is_final(state);
    return 0;
}

int jobs_cancel(struct daemon *d, uid_t caller, const char *caller_name, int64_t id, bool *ended,
                struct dashi_error *err)
{
    *ended = false;
    struct job_row row;
    if (job_get_visible(&d->store, id, caller, &row, err) != 0)
        return -1;
    uid_t owner = row.uid;
    enum job_state state = row.state;
    const struct job_kind *kind = job_kind_find(row.kind);
    job_row_free(&row);
    if (caller != 0 && caller != owner)
        return dashi_fail(err, DASHI_E_PERMISSION, "id", "job %lld belongs to another user; only its owner or root "
                          "may cancel it", (long long)id);
    if (state != JOB_QUEUED && state != JOB_RUNNING)
        return dashi_fail(err, DASHI_E_STATE, "id", "job %lld is %s and cannot be cancelled", (long long)id,
                          job_state_name(state));
    int elsewhere = store_job_runs_elsewhere(&d->store, id, err);
    if (elsewhere != 0) /* scancel; the record ends cancelled once Slurm says so */
        return elsewhere < 0 ? -1 : slurm_state_cancel(d, id, caller_name, err);
    if (kind && kind->stages)
        return cancel_stages(d, caller, caller_name, id, ended, err);
    int rc = scheduler_cancel(&d->sched, id);
    if (rc < 0)
        return dashi_fail(err, DASHI_E_STATE, "id", "job %lld is not active in the scheduler", (long long)id);
    if (rc == 0)
        return 0; /* running: the GPU thread ends it after its slice */
    struct dashi_error why;
    dashi_fail(&why, DASHI_E_CANCELLED, "", "cancelled by %s before it started", caller_name);
    if (store_job_set_state(&d->store, id, JOB_CANCELLED, now_seconds(), &why, err) != 0)
        return -1;
    *ended = true;
    jobs_ended(d, id);
    return 0;
}

/* ---- the dependents of an ended job ---- */

static void fail_dependent(struct daemon *d, int64_t id, const struct dashi_error *why)
{
    struct dashi_error err;
    if (scheduler_cancel(&d->sched, id) != 1)
        return; /* already gone or started */
    if (store_job_set_state(&d->store, id, JOB_FAILED, now_seconds(), why, &err) != 0)
        fprintf(stderr, "dashid: recording the failure of job %lld: %s\n", (long long)id, err.message);
    jobs_ended(d, id); /* its own dependents fail in turn */
}

/* What validation learned from the inputs (a train job's N, a decode's frame count)
 * belongs in the stored parameters too, as if the inputs had existed at submit. */
static void record_resolved(struct daemon *d, const struct sched_job *j)
{
    struct dashi_error err;
    for (int i = 0; i < j->plan.ninputs; i++)
        if (store_job_blob_add(&d->store, j->id, "input", j->plan.inputs[i].name, j->plan.inputs[i].hash, &err) != 0)
            fprintf(stderr, "dashid: recording inputs of job %lld: %s\n", (long long)j->id, err.message);
    msgpack_sbuffer psb;
    char *pjson = pack_resolved_params(j->kind, j->params, &psb);
    if (!pjson || store_job_set_params(&d->store, j->id, pjson, psb.data, psb.size, j->plan.total_steps,
                                       j->plan.mem_estimate, &err) != 0)
        fprintf(stderr, "dashid: storing the resolved parameters of job %lld: %s\n", (long long)j->id,
                pjson ? err.message : "cannot encode them");
    free(pjson);
    msgpack_sbuffer_destroy(&psb);
}

/* Validates again a waiting job one of whose dependencies just succeeded: runnable once
 * they all have, failed if it no longer validates. */
static void revalidate(struct daemon *d, int64_t id)
{
    struct dashi_error err;
    dashi_error_clear(&err);
    struct job_row row;
    if (store_job_get(&d->store, id, &row, &err) != 0) {
        fprintf(stderr, "dashid: reading waiting job %lld: %s\n", (long long)id, err.message);
        return;
    }
    struct sched_job *j = NULL;
    int rc = job_from_row(d, &row, &j, &err);
    job_row_free(&row);
    if (rc != 0) {
        sched_job_discard(j);
        fail_dependent(d, id, &err);
        return;
    }
    if (!j->waiting) { /* else other dependencies are still running */
        record_resolved(d, j);
        struct reuse_match m;
        bool allow = false;
        if (store_job_reuse_allowed(&d->store, id, &allow, &err) != 0)
            fprintf(stderr, "dashid: reading the reuse setting of job %lld: %s\n", (long long)id, err.message);
        identical_lookup(d, j, id, allow, &m);
        if (reused_instead(d, j, &m)) {
            scheduler_cancel(&d->sched, id); /* waiting, so never started: removed */
            sched_job_discard(j);
            jobs_ended(d, id);
            return;
        }
        if (m.in_flight) {
            scheduler_job_await_identical(j, m.in_flight);
            if (scheduler_make_waiting(&d->sched, id, j->params, &j->plan, m.in_flight) == 0)
                j->params = NULL;
        } else if (scheduler_make_ready(&d->sched, id, j->params, &j->plan) == 0) {
            j->params = NULL; /* the scheduler owns them now */
        }
    }
    sched_job_discard(j);
}

static int stored_state(struct daemon *d, int64_t id, enum job_state *state)
{
    struct job_row row;
    struct dashi_error err;
    if (store_job_get(&d->store, id, &row, &err) != 0) {
        fprintf(stderr, "dashid: reading the state of job %lld: %s\n", (long long)id, err.message);
        return -1;
    }
    *state = row.state;
    job_row_free(&row);
    return 0;
}

/* Every waiting job that depends on dep, however many (the queue limits bound them). */
static void dependents_settle(struct daemon *d, int64_t dep)
{
    int64_t *ids = NULL;
    size_t n = 0;
    enum job_state state;
    if (scheduler_dependents(&d->sched, dep, &ids, &n) != 0) {
        fprintf(stderr, "dashid: out of memory listing the dependents of job %lld: they keep waiting\n",
                (long long)dep);
        return;
    }
    if (n == 0 || stored_state(d, dep, &state) != 0) {
        free(ids);
        return;
    }
    if (state == JOB_INTERRUPTED) { /* it can be resumed: they wait for it (docs/protocol.md "resume") */
        free(ids);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        /* A job waiting for an identical one needs none of its outputs: it is reused once
         * that one succeeded and runs itself otherwise. */
        if (state == JOB_SUCCEEDED || scheduler_awaits_identical(&d->sched, ids[i], dep)) {
            revalidate(d, ids[i]);
            continue;
        }
        struct dashi_error why;
        dashi_fail(&why, DASHI_E_STATE, "", "job %lld, whose output it needs, %s", (long long)dep,
                   job_state_name(state));
        fail_dependent(d, ids[i], &why);
    }
    free(ids);
}

void jobs_ended(struct daemon *d, int64_t id)
{
    waiters_job_ended(d, id);
    dependents_settle(d, id);
    keep_job_ended(d, id); /* after its dependents took what they need */
    stage_changed(d, id);
}

void jobs_started(struct daemon *d, int64_t id) { stage_changed(d, id); }
