/* SPDX-License-Identifier: MIT */
/* Request handling on the loop thread: each op translates a request into calls (the job
 * lifecycle is jobs.c, waits are waiters.c) and their results into a reply. ops.c holds
 * the dispatch table and the daemon ops (ping, shutdown); ops_blob.c uploads and
 * downloads; ops_job.c submit, cancel, resume and the job queries. */
#ifndef DASHI_OPS_H
#define DASHI_OPS_H

#include <msgpack.h>

#include "job_labels.h"
#include "job_record.h"
#include "jobs.h"
#include "server.h"
#include "wire.h"

/* A handler packs its result (after pack_ok_begin) and returns 0, returns -1 with err
 * filled (the dispatcher discards anything packed and sends the error), or returns
 * OP_DEFERRED when it answers later itself (wait). */
#define OP_DEFERRED 1
typedef int (*op_fn)(struct conn *c, const struct request *req, msgpack_packer *pk, struct dashi_error *err);

/* What the server hands requests to (main.c gives it to daemon_start): the dispatcher,
 * the waiters' delivery, and the release of a closing connection's uploads, waiters and fsck. */
extern const struct conn_handlers ops_conn_handlers;

/* ops_blob.c */
int op_put_begin(struct conn *c, const struct request *req, msgpack_packer *pk, struct dashi_error *err);
int op_put_chunk(struct conn *c, const struct request *req, msgpack_packer *pk, struct dashi_error *err);
int op_put_end(struct conn *c, const struct request *req, msgpack_packer *pk, struct dashi_error *err);
int op_get(struct conn *c, const struct request *req, msgpack_packer *pk, struct dashi_error *err);
int op_blob_info(struct conn *c, const struct request *req, msgpack_packer *pk, struct dashi_error *err);
void uploads_release(struct conn *c); /* the uploads of a closing connection */

/* ops_import.c: a job from a result bundle (docs/storage.md "Bundles") */
int op_import(struct conn *c, const struct request *req, msgpack_packer *pk, struct dashi_error *err);

/* ops_describe.c */
int op_describe(struct conn *c, const struct request *req, msgpack_packer *pk, struct dashi_error *err);

/* ops_job.c */
/* The envelope submit and sweep share: kind, args, priority, private, time_limit, reuse,
 * name and tags, as a submission of the caller (s points into args and out). */
struct submission_args {
    struct job_submission s;
    struct job_labels labels;
    char kind_name[16];
    msgpack_object empty; /* the args of a request without any */
};
int submission_from_args(struct conn *c, const msgpack_object *args, struct submission_args *out,
                         struct dashi_error *err);
int op_submit(struct conn *c, const struct request *req, msgpack_packer *pk, struct dashi_error *err);
int op_status(struct conn *c, const struct request *req, msgpack_packer *pk, struct dashi_error *err);
int op_show(struct conn *c, const struct request *req, msgpack_packer *pk, struct dashi_error *err);
int op_list(struct conn *c, const struct request *req, msgpack_packer *pk, struct dashi_error *err);
int op_wait(struct conn *c, const struct request *req, msgpack_packer *pk, struct dashi_error *err);
int op_cancel(struct conn *c, const struct request *req, msgpack_packer *pk, struct dashi_error *err);
int op_metrics(struct conn *c, const struct request *req, msgpack_packer *pk, struct dashi_error *err);
int op_hashes(struct conn *c, const struct request *req, msgpack_packer *pk, struct dashi_error *err);
/* an interrupted job continues from its checkpoint */
int op_resume(struct conn *c, const struct request *req, msgpack_packer *pk, struct dashi_error *err);

/* ops_tags.c: a run's tags and notes (owner or root), and the list op's filters over
 * names, tags, parameters and groups (*any: whether one is set) */
int op_tag(struct conn *c, const struct request *req, msgpack_packer *pk, struct dashi_error *err);
int op_note(struct conn *c, const struct request *req, msgpack_packer *pk, struct dashi_error *err);
struct runs_filter;
int runs_filter_from_args(const msgpack_object *args, struct runs_filter *f, bool *any, struct dashi_error *err);
/* ops_sweep.c: the Cartesian product of parameter values as one group of jobs */
int op_sweep(struct conn *c, const struct request *req, msgpack_packer *pk, struct dashi_error *err);
/* ops_log.c: a job's events, paged or followed; ops_watch.c: live state of one job or all of
 * the caller's (docs/protocol.md "log", "watch") */
int op_log(struct conn *c, const struct request *req, msgpack_packer *pk, struct dashi_error *err);
int op_watch(struct conn *c, const struct request *req, msgpack_packer *pk, struct dashi_error *err);

/* ops_fsck.c: the store checker (root and the daemon's user); answered when done */
int op_fsck(struct conn *c, const struct request *req, msgpack_packer *pk, struct dashi_error *err);
void fsck_conn_released(struct conn *c); /* a closing connection's fsck stops */

/* ops_acct.c: per-user accounting (jobs by state, GPU seconds) */
int op_acct(struct conn *c, const struct request *req, msgpack_packer *pk, struct dashi_error *err);

/* ops_rm.c, ops_gc.c: the lifecycle of stored data (rm: owner or root; gc: root and the
 * daemon's user) */
int op_rm(struct conn *c, const struct request *req, msgpack_packer *pk, struct dashi_error *err);
int op_gc(struct conn *c, const struct request *req, msgpack_packer *pk, struct dashi_error *err);
void gc_conn_released(struct conn *c); /* a closing connection's gc stops */

/* ops_atoms.c: queries over atoms jobs (atoms, lineage, events, audit) */
int op_atoms(struct conn *c, const struct request *req, msgpack_packer *pk, struct dashi_error *err);
int op_lineage(struct conn *c, const struct request *req, msgpack_packer *pk, struct dashi_error *err);
int op_events(struct conn *c, const struct request *req, msgpack_packer *pk, struct dashi_error *err);
int op_audit(struct conn *c, const struct request *req, msgpack_packer *pk, struct dashi_error *err);

#endif
