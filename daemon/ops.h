/* Request handling on the loop thread. ops.c holds the dispatch table and the daemon
 * ops (ping, shutdown); ops_blob.c uploads and downloads; ops_job.c submit and the job
 * queries; results.c applies what the GPU thread reports and answers waiters. */
#ifndef DASHI_OPS_H
#define DASHI_OPS_H

#include <msgpack.h>

#include "server.h"
#include "wire.h"

/* Bytes uid's open uploads will store (ops_blob.c), for the disk quota. */
uint64_t uploads_pending_bytes(const struct daemon *d, uid_t uid);

/* A handler packs its result (after pack_ok_begin) and returns 0, returns -1 with err
 * filled (the dispatcher discards anything packed and sends the error), or returns
 * OP_DEFERRED when it answers later itself (wait). */
#define OP_DEFERRED 1
typedef int (*op_fn)(struct conn *c, const struct request *req, msgpack_packer *pk, struct dashi_error *err);

void ops_dispatch(struct conn *c, const struct request *req);
/* Frees what a closing connection holds (uploads, waiters). */
void ops_conn_released(struct conn *c);

/* ops_blob.c */
int op_put_begin(struct conn *c, const struct request *req, msgpack_packer *pk, struct dashi_error *err);
int op_put_chunk(struct conn *c, const struct request *req, msgpack_packer *pk, struct dashi_error *err);
int op_put_end(struct conn *c, const struct request *req, msgpack_packer *pk, struct dashi_error *err);
int op_get(struct conn *c, const struct request *req, msgpack_packer *pk, struct dashi_error *err);
int op_blob_info(struct conn *c, const struct request *req, msgpack_packer *pk, struct dashi_error *err);
void uploads_release(struct conn *c); /* the uploads and downloads of a closing connection */

/* ops_job.c */
int op_submit(struct conn *c, const struct request *req, msgpack_packer *pk, struct dashi_error *err);
int op_status(struct conn *c, const struct request *req, msgpack_packer *pk, struct dashi_error *err);
int op_show(struct conn *c, const struct request *req, msgpack_packer *pk, struct dashi_error *err);
int op_list(struct conn *c, const struct request *req, msgpack_packer *pk, struct dashi_error *err);
int op_wait(struct conn *c, const struct request *req, msgpack_packer *pk, struct dashi_error *err);
int op_cancel(struct conn *c, const struct request *req, msgpack_packer *pk, struct dashi_error *err);
int op_metrics(struct conn *c, const struct request *req, msgpack_packer *pk, struct dashi_error *err);
int op_hashes(struct conn *c, const struct request *req, msgpack_packer *pk, struct dashi_error *err);
/* A job ended: its waiting dependents become runnable (re-validated) or fail. */
void jobs_dependency_ended(struct daemon *d, int64_t dep);
/* Validates args for kind as submitted by uid and fills *out (not yet scheduled; on
 * failure *out may hold a job to free). Shared by submit, re-queueing and resume. */
int validate_job(struct daemon *d, const struct job_kind *kind, const msgpack_object *args, uid_t uid,
                 struct sched_job **out, struct dashi_error *err);
/* Re-queues the jobs the database holds as queued (daemon start). */
int jobs_requeue(struct daemon *d, struct dashi_error *err);

/* ops_fsck.c: the store checker (root and the daemon's user); answered when done */
int op_fsck(struct conn *c, const struct request *req, msgpack_packer *pk, struct dashi_error *err);
void fsck_conn_released(struct conn *c); /* a closing connection's fsck stops */

/* ops_acct.c: per-user accounting (jobs by state, GPU seconds) */
int op_acct(struct conn *c, const struct request *req, msgpack_packer *pk, struct dashi_error *err);
/* ops_resume.c: an interrupted job continues from its checkpoint */
int op_resume(struct conn *c, const struct request *req, msgpack_packer *pk, struct dashi_error *err);

/* ops_atoms.c: queries over atoms jobs (atoms, lineage, events, audit) */
int op_atoms(struct conn *c, const struct request *req, msgpack_packer *pk, struct dashi_error *err);
int op_lineage(struct conn *c, const struct request *req, msgpack_packer *pk, struct dashi_error *err);
int op_events(struct conn *c, const struct request *req, msgpack_packer *pk, struct dashi_error *err);
int op_audit(struct conn *c, const struct request *req, msgpack_packer *pk, struct dashi_error *err);

/* results.c */
void results_on_wake(uv_async_t *h);
/* Registers a waiter for job id on c, answered with events and the final record;
 * E_QUOTA beyond max_waits_per_connection. */
int waiter_add(struct conn *c, uint64_t req_id, int64_t job_id, struct dashi_error *err);
void waiters_release(struct conn *c);
/* Sends the waiters' pending events and owed records while c's queue has room. */
void waiters_flush(struct conn *c);
/* Answers the waiters of a job that reached a final state outside the GPU thread. */
void results_job_ended(struct daemon *d, int64_t job_id);
/* Timer callback: records the job ends kept on d->unrecorded, in order. */
void results_retry(uv_timer_t *h);
/* E_DB if job ended but its end is not recorded yet (a wait would get no answer). */
int results_unrecorded(const struct daemon *d, int64_t job, struct dashi_error *err);

/* job_record.c: the job record map (see docs/protocol.md). E_NOT_FOUND if the job is
 * absent or private to another user (viewer). */
int pack_job_record(msgpack_packer *pk, struct store *st, int64_t id, uid_t viewer, bool with_events,
                    struct dashi_error *err);
/* Loads a job the viewer may see: E_NOT_FOUND for private jobs of others. */
int job_get_visible(struct store *st, int64_t id, uid_t viewer, struct job_row *row, struct dashi_error *err);

#endif
