/* SPDX-License-Identifier: MIT */
/* The import op: a job that ran elsewhere, as a result bundle describes it (docs/storage.md
 * "Bundles"), recorded as a job of the caller. The client has uploaded the bundle's blobs
 * (verified by their addresses) and sends the record, metrics and hashes (import_parse.c
 * checks them); every output the record names must be a blob the store holds. Recorded in
 * one transaction or not at all. */
#include <stdlib.h>
#include <string.h>

#include "import_parse.h"
#include "ops.h"

static int parse_origin(const msgpack_object *args, const msgpack_object *rec, struct job_origin *o,
                        struct dashi_error *err)
{
    static const char *const executors[] = {"local", "slurm", NULL};
    int executor;
    memset(o, 0, sizeof *o);
    if (arg_enum(args, "executor", false, 0, executors, &executor, err) ||
        arg_str(args, "imported_from", true, "", o->imported_from, sizeof o->imported_from, err) ||
        arg_str(args, "slurm_job_id", false, "", o->slurm_job_id, sizeof o->slurm_job_id, err) ||
        arg_str(args, "node", false, "", o->node, sizeof o->node, err) ||
        arg_i64(rec, "id", false, 0, 0, INT64_MAX, &o->source_id, err))
        return -1;
    snprintf(o->executor, sizeof o->executor, "%s", executors[executor]);
    return 0;
}

int op_import(struct conn *c, const struct request *req, msgpack_packer *pk, struct dashi_error *err)
{
    static const char *const allowed[] = {"record", "metrics", "hashes", "imported_from", "executor",
                                          "slurm_job_id", "node", NULL};
    struct import_parts *p = calloc(1, sizeof *p);
    struct import_who who = {&c->d->store, c->uid, c->user};
    const msgpack_object *rec;
    int64_t id = 0;
    if (!p)
        return dashi_fail(err, DASHI_E_INTERNAL, "", "out of memory");
    int rc = args_only(req->args, allowed, err) || import_parts_parse(&who, req->args, p, &rec, err) ||
                     parse_origin(req->args, rec, &p->imp.origin, err)
                 ? -1
                 : 0;
    if (rc == 0)
        rc = store_job_import(&c->d->store, &p->imp, &id, err);
    import_parts_free(p);
    free(p);
    if (rc != 0)
        return -1;
    pack_ok_begin(pk, req->id);
    return pack_job_record(pk, &c->d->store, id, c->uid, false, err);
}
