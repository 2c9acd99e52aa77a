/* SPDX-License-Identifier: MIT */
/* rm: the owner (or root) removes finished jobs (docs/protocol.md "rm"). A job is removed
 * only when no other job has one of its outputs as an input; its records go, the removal
 * is kept in removed_jobs, and its outputs' blobs are left for gc unless another job or a
 * checkpoint still refers to them, nor while a job waits for it (its inputs are recorded only
 * once all its dependencies succeeded). Ids are removed in the order given: the first refusal
 * ends the request (the jobs before it stay removed; the message counts them). */
#include <stdio.h>
#include <string.h>

#include "ops.h"
#include "store_gc.h"

#define RM_MAX_IDS 1000 /* ids in one request */

static int rm_allowed(uid_t caller, const struct job_row *row, struct dashi_error *err)
{
    if (row->is_private && caller != 0 && caller != row->uid) /* as show: as if it did not exist */
        return dashi_fail(err, DASHI_E_NOT_FOUND, "ids", "no job %lld", (long long)row->id);
    if (caller != 0 && caller != row->uid)
        return dashi_fail(err, DASHI_E_PERMISSION, "ids",
                          "job %lld belongs to another user; only its owner or root may remove it",
                          (long long)row->id);
    if (row->state == JOB_QUEUED || row->state == JOB_RUNNING)
        return dashi_fail(err, DASHI_E_STATE, "ids", "job %lld is %s: cancel it first", (long long)row->id,
                          job_state_name(row->state));
    return 0;
}

static int rm_one(struct conn *c, int64_t id, struct dashi_error *err)
{
    struct store *st = &c->d->store;
    struct job_row row;
    if (store_job_get(st, id, &row, err) != 0) {
        snprintf(err->field, sizeof err->field, "ids");
        return -1;
    }
    int64_t needer = 0;
    char input[64];
    int rc = rm_allowed(c->uid, &row, err);
    if (rc == 0)
        rc = store_rm_needed_by(st, id, &needer, input, sizeof input, err);
    if (rc == 0 && needer)
        rc = dashi_fail(err, DASHI_E_STATE, "ids", "job %lld is needed by job %lld (its input %s): remove that first",
                        (long long)id, (long long)needer, input);
    /* A dependent still waiting on another job has not recorded its inputs yet. */
    if (rc == 0 && (needer = scheduler_first_dependent(&c->d->sched, id)) != 0)
        rc = dashi_fail(err, DASHI_E_STATE, "ids",
                        "job %lld is needed by job %lld, which waits for it: cancel that first", (long long)id,
                        (long long)needer);
    if (rc == 0)
        rc = store_rm_job(st, &row, c->uid, now_seconds(), err);
    job_row_free(&row);
    if (rc != 0)
        return -1;
    char prefix[48];
    job_partials_prefix(id, prefix, sizeof prefix); /* an interrupted job's will never continue */
    blobstore_remove_partials(&c->d->blobs, prefix);
    fprintf(stderr, "dashid: job %lld removed by uid %u\n", (long long)id, (unsigned)c->uid);
    return 0;
}

/* The ids argument: a non-empty array of at most RM_MAX_IDS positive integers. */
static int arg_ids(const msgpack_object *args, const msgpack_object **ids, struct dashi_error *err)
{
    const msgpack_object *v = args_find(args, "ids");
    if (!v || v->type == MSGPACK_OBJECT_NIL)
        return dashi_fail(err, DASHI_E_MISSING_FIELD, "ids", "ids is required (an array of job ids)");
    if (v->type != MSGPACK_OBJECT_ARRAY)
        return dashi_fail(err, DASHI_E_BAD_TYPE, "ids", "ids must be an array of job ids");
    if (v->via.array.size == 0 || v->via.array.size > RM_MAX_IDS)
        return dashi_fail(err, v->via.array.size ? DASHI_E_TOO_LARGE : DASHI_E_BAD_VALUE, "ids",
                          "ids must hold 1 to %d job ids (it holds %u)", RM_MAX_IDS, v->via.array.size);
    for (uint32_t i = 0; i < v->via.array.size; i++) {
        const msgpack_object *o = &v->via.array.ptr[i];
        if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER || o->via.u64 > INT64_MAX)
            return dashi_fail(err, DASHI_E_BAD_TYPE, "ids", "ids[%u] must be a positive job id", i);
    }
    *ids = v;
    return 0;
}

int op_rm(struct conn *c, const struct request *req, msgpack_packer *pk, struct dashi_error *err)
{
    static const char *const allowed[] = {"ids", NULL};
    const msgpack_object *ids = NULL;
    if (args_only(req->args, allowed, err) != 0 || arg_ids(req->args, &ids, err) != 0)
        return -1;
    uint32_t n = ids->via.array.size;
    for (uint32_t i = 0; i < n; i++)
        if (rm_one(c, (int64_t)ids->via.array.ptr[i].via.u64, err) != 0) {
            if (i > 0) {
                size_t len = strlen(err->message);
                snprintf(err->message + len, sizeof err->message - len, " (%u job(s) before it removed)", i);
            }
            return -1;
        }
    pack_ok_begin(pk, req->id);
    msgpack_pack_map(pk, 1);
    pk_key(pk, "removed");
    msgpack_pack_array(pk, n);
    for (uint32_t i = 0; i < n; i++)
        msgpack_pack_uint64(pk, ids->via.array.ptr[i].via.u64);
    return 0;
}
