/* resume: an interrupted job continues from its last checkpoint. Only its owner or root
 * may resume it. Its stored parameters are validated again (blobs and device may have
 * changed since), the per-user limits apply as at submission, and the checkpoint is
 * handed to the scheduler's job, where the kind's start finds it (job_resume_checkpoint):
 * the GPU thread never reads the database. interrupted -> queued -> running. */
#include <stdlib.h>
#include <string.h>

#include "ops.h"
#include "quota.h"

static void discard(struct sched_job *j)
{
    if (!j)
        return;
    if (j->params)
        j->kind->free_params(j->params);
    free(j);
}

/* The checks on the stored row: owner or root, interrupted, with a checkpoint. */
static int resumable(const struct conn *c, const struct job_row *row, struct dashi_error *err)
{
    if (c->uid != 0 && c->uid != row->uid)
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

/* Validates the stored parameters again into a job carrying the checkpoint. */
static int rebuild(struct daemon *d, const struct job_row *row, struct sched_job **out, struct dashi_error *err)
{
    *out = NULL;
    const struct job_kind *kind = job_kind_find(row->kind);
    if (!kind || !row->params_mp)
        return dashi_fail(err, DASHI_E_INTERNAL, "", "stored parameters of job %lld cannot be read",
                          (long long)row->id);
    msgpack_unpacked pu;
    msgpack_unpacked_init(&pu);
    int rc = msgpack_unpack_next(&pu, row->params_mp, row->params_mp_len, NULL) == MSGPACK_UNPACK_SUCCESS
                 ? validate_job(d, kind, &pu.data, row->uid, out, err)
                 : dashi_fail(err, DASHI_E_INTERNAL, "", "stored parameters of job %lld cannot be read",
                              (long long)row->id);
    msgpack_unpacked_destroy(&pu);
    if (rc != 0 || quota_check_submit(d, row->uid, &(*out)->plan, err) != 0)
        return -1;
    struct sched_job *j = *out;
    if (j->plan.ndeps > 0) /* it ran, so its inputs existed; they must resolve now */
        return dashi_fail(err, DASHI_E_STATE, "id", "job %lld depends on jobs that have not succeeded",
                          (long long)row->id);
    j->id = row->id;
    j->priority = row->priority;
    quota_time_limit(d, j, row->time_limit);
    j->gpu_seconds = row->gpu_seconds; /* accounting continues */
    memcpy(j->resume_checkpoint, row->checkpoint, sizeof j->resume_checkpoint);
    j->resume_step = row->checkpoint_step;
    return 0;
}

struct requeue_tx {
    struct store *st;
    const struct job_row *row;
};

/* Progress goes back to the checkpoint (the steps after it are computed again) and the
 * job is queued, in one transaction. */
static int requeue_tx_fn(void *ctx, struct dashi_error *err)
{
    const struct requeue_tx *t = ctx;
    const struct job_row *row = t->row;
    if (store_job_set_progress(t->st, row->id, row->checkpoint_step, row->total_steps, row->gpu_seconds, err) != 0)
        return -1;
    return store_job_set_state(t->st, row->id, JOB_QUEUED, now_seconds(), NULL, err);
}

int op_resume(struct conn *c, const struct request *req, msgpack_packer *pk, struct dashi_error *err)
{
    static const char *const allowed[] = {"id", NULL};
    struct daemon *d = c->d;
    int64_t id;
    struct job_row row;
    if (args_only(req->args, allowed, err) || arg_i64(req->args, "id", true, 0, 1, INT64_MAX, &id, err) ||
        job_get_visible(&d->store, id, c->uid, &row, err) != 0)
        return -1;
    struct sched_job *j = NULL;
    int rc = resumable(c, &row, err);
    if (rc == 0)
        rc = device_check_accepting(&d->health, err);
    if (rc == 0)
        rc = rebuild(d, &row, &j, err);
    struct requeue_tx tx = {.st = &d->store, .row = &row};
    if (rc == 0)
        rc = store_transaction(&d->store, requeue_tx_fn, &tx, err);
    job_row_free(&row);
    if (rc != 0) {
        discard(j);
        return -1;
    }
    scheduler_add(&d->sched, j);
    pack_ok_begin(pk, req->id);
    return pack_job_record(pk, &d->store, id, c->uid, false, err);
}
