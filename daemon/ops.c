/* SPDX-License-Identifier: MIT */
#include "ops.h"
#include "lifecycle.h"

#include <stdio.h>
#include <string.h>

#include "slurm_state.h"
#include "vk.h"
#include "waiters.h"

/* One device of the pool: what `dashi devices` shows. */
static void pack_device(struct daemon *d, int k, msgpack_packer *pk)
{
    const struct gpu_device *g = &d->dev[k];
    struct device_health_view health = device_health_get(&d->dev[k].health);
    struct sched_device_view v;
    scheduler_device_view(&d->sched, k, &v);
    msgpack_pack_map(pk, 14);
    pk_kv_i64(pk, "index", k);
    pk_kv_str(pk, "name", g->vk.device_name);
    pk_kv_str(pk, "driver", g->vk.driver_name);
    pk_kv_str(pk, "kind", g->vk.is_cpu ? "cpu" : "gpu");
    pk_kv_u64(pk, "memory_budget", v.mem_budget);
    pk_kv_u64(pk, "memory_free", v.mem_budget > v.mem_started ? v.mem_budget - v.mem_started : 0);
    pk_kv_i64(pk, "running", v.running); /* the job of its current slice, 0: none */
    pk_kv_u64(pk, "started", v.started); /* jobs placed on it that have not ended */
    pk_kv_u64(pk, "queued_pins", v.queued_pins);
    pk_kv_u64(pk, "jobs_run", v.jobs_started);
    pk_kv_f64(pk, "gpu_seconds", v.gpu_seconds);
    pk_kv_str(pk, "state", device_state_name(health.state));
    pk_kv_u64(pk, "resets", health.resets);
    pk_kv_str(pk, "error", health.why);
}

static int op_ping(struct conn *c, const struct request *req, msgpack_packer *pk, struct dashi_error *err)
{
    static const char *const allowed[] = {NULL};
    if (args_only(req->args, allowed, err) != 0)
        return -1;
    const struct vk_runtime *vk = &c->d->dev[0].vk; /* the top-level fields describe device 0 */
    pack_ok_begin(pk, req->id);
    struct device_health_view health = device_health_get(&c->d->dev[0].health);
    msgpack_pack_map(pk, 21);
    pk_kv_str(pk, "daemon_version", DASHID_VERSION);
    pk_kv_u64(pk, "protocol", DASHI_PROTO_VERSION);
    pk_kv_str(pk, "device", vk->device_name);
    pk_kv_str(pk, "driver", vk->driver_name);
    pk_kv_str(pk, "driver_info", vk->driver_info);
    pk_kv_str(pk, "vulkan_api", vk->api_version);
    pk_kv_bool(pk, "is_cpu", vk->is_cpu);
    pk_kv_str(pk, "backend", vk->is_cpu ? "vulkan-cpu (lavapipe)" : "vulkan-gpu");
    pk_key(pk, "precisions");
    msgpack_pack_array(pk, vk->fp64 ? 2 : 1);
    if (vk->fp64)
        pk_str(pk, "f64");
    pk_str(pk, "f32");
    pk_kv_bool(pk, "int8_matrix", vk->int8_matrix); /* tensor cores for the split product */
    pk_kv_u64(pk, "subgroup_size", vk->subgroup_size);
    pk_kv_u64(pk, "memory_budget", vk->memory_budget);
    pk_kv_str(pk, "device_state", device_state_name(health.state));
    pk_kv_u64(pk, "device_resets", health.resets);
    pk_kv_str(pk, "device_error", health.why); /* the last loss or re-creation failure */
    pk_key(pk, "devices");
    msgpack_pack_array(pk, (size_t)c->d->ndev);
    for (int k = 0; k < c->d->ndev; k++)
        pack_device(c->d, k, pk);
    pk_kv_str(pk, "device_failures", c->d->device_failures); /* devices named that did not open */
    pk_kv_u64(pk, "uid", c->uid);
    pk_kv_str(pk, "user", c->user);
    pk_kv_str(pk, "socket", c->d->cfg.socket_path);
    pk_kv_f64(pk, "uptime_s", now_seconds() - c->d->started_at);
    return 0;
}

/* Stops the daemon: allowed to root and to the user the daemon runs as. */
static int op_shutdown(struct conn *c, const struct request *req, msgpack_packer *pk, struct dashi_error *err)
{
    static const char *const allowed[] = {NULL};
    if (args_only(req->args, allowed, err) != 0)
        return -1;
    if (c->uid != 0 && c->uid != getuid())
        return dashi_fail(err, DASHI_E_PERMISSION, "", "only root or the daemon's user may stop the daemon");
    pack_ok_begin(pk, req->id);
    msgpack_pack_map(pk, 1);
    pk_kv_bool(pk, "stopping", true);
    daemon_begin_stop(c->d, "shutdown requested");
    return 0;
}

struct op_entry {
    const char *name;
    op_fn fn;
    bool mutating; /* refused while the daemon stops */
};

static const struct op_entry ops[] = {
    {"ping", op_ping, false},         {"shutdown", op_shutdown, false},
    {"put_begin", op_put_begin, true}, {"put_chunk", op_put_chunk, true},
    {"put_end", op_put_end, true},     {"get", op_get, false},
    {"blob_info", op_blob_info, false}, {"submit", op_submit, true},
    {"status", op_status, false},      {"show", op_show, false},
    {"list", op_list, false},          {"wait", op_wait, false},
    {"cancel", op_cancel, false},      {"metrics", op_metrics, false},
    {"hashes", op_hashes, false},      {"acct", op_acct, false},
    {"atoms", op_atoms, false},        {"lineage", op_lineage, false},
    {"events", op_events, false},      {"audit", op_audit, false},
    {"resume", op_resume, true},
    {"fsck", op_fsck, false},          {"describe", op_describe, false},
    {"rm", op_rm, true},               {"gc", op_gc, true},
    {"tag", op_tag, true},             {"note", op_note, true},
    {"sweep", op_sweep, true},
    {"import", op_import, true},
    {"log", op_log, false},            {"watch", op_watch, false},
};

#define NOPS (sizeof ops / sizeof ops[0])

/* The names of the table's ops, space-separated (cut short if size is too small). */
static void op_names(char *out, size_t size)
{
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < NOPS && used < size; i++)
        used += (size_t)snprintf(out + used, size - used, "%s%s", i ? " " : "", ops[i].name);
}

/* E_UNKNOWN_OP naming the ops there are, so the message cannot drift from the table. */
static int fail_unknown_op(const char *name, struct dashi_error *err)
{
    char names[sizeof err->message];
    op_names(names, sizeof names);
    return dashi_fail(err, DASHI_E_UNKNOWN_OP, "op", "unknown op '%s' (ops: %s)", name, names);
}

static void ops_dispatch(struct conn *c, const struct request *req)
{
    struct dashi_error err;
    dashi_error_clear(&err);
    const struct op_entry *op = NULL;
    for (size_t i = 0; i < NOPS; i++)
        if (strcmp(ops[i].name, req->op) == 0)
            op = &ops[i];

    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    frame_begin(&sb);

    int rc;
    if (!op) {
        rc = fail_unknown_op(req->op, &err);
    } else if (op->mutating && c->d->stopping) {
        rc = dashi_fail(&err, DASHI_E_SHUTTING_DOWN, "", "the daemon is stopping and accepts no new work");
    } else {
        rc = op->fn(c, req, &pk, &err);
    }
    if (rc == OP_DEFERRED) {
        msgpack_sbuffer_destroy(&sb);
        return;
    }
    if (rc != 0) {
        frame_begin(&sb);
        pack_error(&pk, req->id, &err);
    }
    frame_finish(&sb);
    conn_send(c, &sb);
    msgpack_sbuffer_destroy(&sb);
}

static void ops_conn_released(struct conn *c)
{
    uploads_release(c);
    waiters_release(c);
    fsck_conn_released(c);
    gc_conn_released(c);
    slurm_state_conn_released(c);
}

const struct conn_handlers ops_conn_handlers = {
    .request = ops_dispatch,
    .deliver = waiters_flush,
    .released = ops_conn_released,
};
