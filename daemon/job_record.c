/* SPDX-License-Identifier: MIT */
/* The job record: what `submit`, `show`, `wait` and `list` return (docs/protocol.md). */
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "job_record.h"
#include "store_keep.h"
#include "store_devices.h"
#include "store_origin.h"
#include "store_tags.h"
#include "wire.h"

#define RECORD_MAX_BLOBS 32
#define RECORD_MAX_SUMMARY 128
#define RECORD_MAX_STAGES 8

struct named_hash {
    char name[32];
    char hash[DASHI_HASH_HEX + 1];
};

struct blob_list {
    struct named_hash items[RECORD_MAX_BLOBS];
    int n;
};

static int collect_blob(void *ctx, const char *name, const char *hash)
{
    struct blob_list *l = ctx;
    if (l->n == RECORD_MAX_BLOBS)
        return 1;
    snprintf(l->items[l->n].name, sizeof l->items[0].name, "%s", name);
    snprintf(l->items[l->n].hash, sizeof l->items[0].hash, "%s", hash);
    l->n++;
    return 0;
}

static void pack_blob_list(msgpack_packer *pk, const char *key, const struct blob_list *l)
{
    pk_key(pk, key);
    msgpack_pack_map(pk, (size_t)l->n);
    for (int i = 0; i < l->n; i++)
        pk_kv_str(pk, l->items[i].name, l->items[i].hash);
}

struct summary {
    char key[RECORD_MAX_SUMMARY][48];
    double value[RECORD_MAX_SUMMARY];
    int n;
};

/* Summary scalars are the metrics stored with step -1. */
static int load_summary(struct store *st, int64_t id, struct summary *s, struct dashi_error *err)
{
    sqlite3_stmt *q;
    s->n = 0;
    if (sqlite3_prepare_v2(st->db, "SELECT key, value FROM metrics WHERE job = ? AND step = -1 ORDER BY key", -1, &q,
                           NULL) != SQLITE_OK)
        return dashi_fail(err, DASHI_E_DB, "", "summary query: %s", sqlite3_errmsg(st->db));
    sqlite3_bind_int64(q, 1, id);
    int rc;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW && s->n < RECORD_MAX_SUMMARY) {
        snprintf(s->key[s->n], sizeof s->key[0], "%s", (const char *)sqlite3_column_text(q, 0));
        s->value[s->n] = sqlite3_column_double(q, 1);
        s->n++;
    }
    sqlite3_finalize(q);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return dashi_fail(err, DASHI_E_DB, "", "summary query: %s", sqlite3_errmsg(st->db));
    return 0;
}

struct event_packer {
    msgpack_packer *pk;
    size_t n;
    bool counting;
};

static int event_cb(void *ctx, double at, const char *state, const char *detail)
{
    struct event_packer *e = ctx;
    e->n++;
    if (e->counting)
        return 0;
    msgpack_pack_map(e->pk, 3);
    pk_kv_f64(e->pk, "at", at);
    pk_kv_str(e->pk, "state", state);
    pk_kv_str(e->pk, "detail", detail && detail[0] ? detail : NULL);
    return 0;
}

/* A pipeline's stages as {KIND: id} (their kinds differ), nil for a job without stages. */
static int pack_stages(msgpack_packer *pk, struct store *st, const int64_t *ids, size_t n, struct dashi_error *err)
{
    pk_key(pk, "stages");
    if (n == 0) {
        msgpack_pack_nil(pk);
        return 0;
    }
    msgpack_pack_map(pk, n);
    for (size_t i = 0; i < n; i++) {
        struct job_row r;
        if (store_job_get(st, ids[i], &r, err) != 0)
            return -1;
        pk_kv_i64(pk, r.kind, ids[i]);
        job_row_free(&r);
    }
    return 0;
}

void pack_job_event(msgpack_packer *pk, int64_t job, const struct job_event *ev)
{
    msgpack_pack_map(pk, 5);
    pk_kv_i64(pk, "job", job);
    pk_kv_i64(pk, "seq", ev->seq);
    pk_kv_f64(pk, "at", ev->at);
    pk_kv_str(pk, "state", ev->state);
    pk_kv_str(pk, "detail", ev->detail && ev->detail[0] ? ev->detail : NULL);
}

int job_get_visible(struct store *st, int64_t id, uid_t viewer, struct job_row *row, struct dashi_error *err)
{
    if (store_job_get(st, id, row, err) != 0)
        return -1;
    if (row->is_private && viewer != 0 && viewer != row->uid) {
        job_row_free(row);
        return dashi_fail(err, DASHI_E_NOT_FOUND, "id", "no job %lld", (long long)id);
    }
    return 0;
}

/* ---- name, tags, group and notes (store_tags.h) ---- */

#define LABEL_FIELDS 4 /* name, tags, group, group_name */

static void pack_labels(msgpack_packer *pk, const struct job_labels *l, const char *group_name)
{
    pk_kv_str(pk, "name", l->name[0] ? l->name : NULL);
    pk_key(pk, "tags");
    msgpack_pack_array(pk, (size_t)l->ntags);
    for (int i = 0; i < l->ntags; i++)
        pk_str(pk, l->tags[i]);
    if (l->group > 0)
        pk_kv_i64(pk, "group", l->group);
    else
        pk_kv_nil(pk, "group");
    pk_kv_str(pk, "group_name", group_name[0] ? group_name : NULL);
}

struct note_packer {
    msgpack_packer *pk; /* NULL: counting */
    size_t n;
};

#define ORIGIN_FIELDS 4 /* executor, imported_from, slurm_job_id, node */

#define RECORD_MAX_DEVICES 16 /* the pool's bound (SCHED_MAX_DEVICES) */

/* The devices of the pool it ran on (a split job: several), with its GPU seconds on each,
 * and the device it is pinned to (nil: none). */
static void pack_devices(msgpack_packer *pk, const struct job_device *devices, size_t n, int pin)
{
    pk_key(pk, "devices");
    msgpack_pack_array(pk, n);
    for (size_t i = 0; i < n; i++) {
        msgpack_pack_map(pk, 3);
        pk_kv_i64(pk, "index", devices[i].device);
        pk_kv_str(pk, "name", devices[i].name);
        pk_kv_f64(pk, "gpu_seconds", devices[i].gpu_seconds);
    }
    if (pin >= 0)
        pk_kv_i64(pk, "pin", pin);
    else
        pk_kv_nil(pk, "pin");
}

/* Where it ran: nil fields for a local job's origin it does not have. */
static void pack_origin(msgpack_packer *pk, const struct job_origin *o)
{
    pk_kv_str(pk, "executor", o->executor);
    pk_kv_str(pk, "imported_from", o->imported_from[0] ? o->imported_from : NULL);
    pk_kv_str(pk, "slurm_job_id", o->slurm_job_id[0] ? o->slurm_job_id : NULL);
    pk_kv_str(pk, "node", o->node[0] ? o->node : NULL);
}

static int note_cb(void *ctx, double at, int64_t uid, const char *text)
{
    struct note_packer *np = ctx;
    np->n++;
    if (!np->pk)
        return 0;
    msgpack_pack_map(np->pk, 3);
    pk_kv_f64(np->pk, "at", at);
    pk_kv_i64(np->pk, "uid", uid);
    pk_kv_str(np->pk, "text", text);
    return 0;
}

/* "notes": the job's notes, oldest first (show). */
static int pack_notes(msgpack_packer *pk, struct store *st, int64_t id, struct dashi_error *err)
{
    struct note_packer np = {NULL, 0};
    if (store_job_notes(st, id, note_cb, &np, err) != 0)
        return -1;
    pk_key(pk, "notes");
    msgpack_pack_array(pk, np.n);
    np.pk = pk;
    np.n = 0;
    return store_job_notes(st, id, note_cb, &np, err);
}

static void pk_kv_time(msgpack_packer *pk, const char *k, double t)
{
    if (t > 0)
        pk_kv_f64(pk, k, t);
    else
        pk_kv_nil(pk, k);
}

struct released_packer {
    msgpack_packer *pk;
    uint32_t n;
    bool counting;
};

static int released_cb(void *ctx, const struct released_output *r)
{
    struct released_packer *p = ctx;
    p->n++;
    if (p->counting)
        return 0;
    pk_key(p->pk, r->name);
    msgpack_pack_map(p->pk, 3);
    pk_kv_str(p->pk, "hash", r->hash);
    pk_kv_str(p->pk, "keep", r->rule);
    pk_kv_i64(p->pk, "consumed_by", r->consumed_by);
    return 0;
}

/* "released": the outputs a keep rule deleted, name -> {hash, keep, consumed_by}. */
static int pack_released(msgpack_packer *pk, struct store *st, int64_t id, struct dashi_error *err)
{
    struct released_packer p = {.pk = pk, .counting = true};
    if (store_released_outputs(st, id, released_cb, &p, err) != 0)
        return -1;
    pk_key(pk, "released");
    msgpack_pack_map(pk, p.n);
    p.counting = false;
    return store_released_outputs(st, id, released_cb, &p, err);
}

int pack_job_record(msgpack_packer *pk, struct store *st, int64_t id, uid_t viewer, bool with_events,
                    struct dashi_error *err)
{
    return pack_job_record_reason(pk, st, id, viewer, with_events, NULL, err);
}

int pack_job_record_reason(msgpack_packer *pk, struct store *st, int64_t id, uid_t viewer, bool with_events,
                           const char *reason, struct dashi_error *err)
{
    struct job_row row;
    if (job_get_visible(st, id, viewer, &row, err) != 0)
        return -1;
    struct blob_list *in = calloc(1, sizeof *in), *out = calloc(1, sizeof *out);
    struct summary *sum = calloc(1, sizeof *sum);
    struct event_packer ev = {.pk = pk, .counting = true};
    struct job_labels labels;
    char group_name[JOB_NAME_MAX + 1];
    int rc = -1;
    if (!in || !out || !sum) {
        dashi_fail(err, DASHI_E_INTERNAL, "", "out of memory");
        goto done;
    }
    if (store_job_blobs(st, id, "input", collect_blob, in, err) || store_job_blobs(st, id, "output", collect_blob, out, err) ||
        load_summary(st, id, sum, err) || (with_events && store_job_events(st, id, event_cb, &ev, err)) ||
        store_job_labels_get(st, id, &labels, group_name, err))
        goto done;

    int64_t stage_ids[RECORD_MAX_STAGES];
    size_t nstages = 0;
    if (store_job_children(st, id, stage_ids, RECORD_MAX_STAGES, &nstages, err) != 0)
        goto done;
    struct job_origin origin;
    struct job_device devices[RECORD_MAX_DEVICES];
    size_t ndevices = 0;
    int pin;
    if (store_job_origin_get(st, id, &origin, err) != 0 ||
        store_job_devices(st, id, devices, RECORD_MAX_DEVICES, &ndevices, err) != 0 ||
        store_job_pin_get(st, id, &pin, err) != 0)
        goto done;
    msgpack_pack_map(pk, 32 + LABEL_FIELDS + ORIGIN_FIELDS + (with_events ? 2 : 0));
    pk_kv_i64(pk, "id", row.id);
    pk_kv_str(pk, "kind", row.kind);
    pk_kv_str(pk, "state", job_state_name(row.state));
    pk_kv_str(pk, "reason", reason && reason[0] ? reason : NULL); /* why it is not running */
    pk_kv_str(pk, "user", row.user);
    pk_kv_u64(pk, "uid", row.uid);
    pk_kv_i64(pk, "priority", row.priority);
    pk_kv_f64(pk, "time_limit", row.time_limit);
    pk_kv_bool(pk, "private", row.is_private);
    pk_kv_time(pk, "submitted_at", row.submitted_at);
    pk_kv_time(pk, "started_at", row.started_at);
    pk_kv_time(pk, "ended_at", row.ended_at);
    pk_key(pk, "params");
    if (row.params_mp && row.params_mp_len)
        msgpack_sbuffer_write(pk->data, row.params_mp, row.params_mp_len); /* already one msgpack map */
    else
        msgpack_pack_map(pk, 0);
    pk_kv_str(pk, "device", row.device[0] ? row.device : NULL);
    pk_kv_str(pk, "driver", row.driver[0] ? row.driver : NULL);
    pk_kv_str(pk, "precision", row.precision);
    pk_kv_str(pk, "mode", row.mode);
    pk_key(pk, "progress");
    msgpack_pack_map(pk, 2);
    pk_kv_u64(pk, "step", row.step);
    pk_kv_u64(pk, "total", row.total_steps);
    pk_kv_f64(pk, "gpu_seconds", row.gpu_seconds);
    if (row.reused_from) /* the job whose results it took; nil when it computed them */
        pk_kv_i64(pk, "reused_from", row.reused_from);
    else
        pk_kv_nil(pk, "reused_from");
    pk_kv_u64(pk, "mem_estimate", row.mem_estimate);
    pack_blob_list(pk, "inputs", in);
    pack_blob_list(pk, "outputs", out);
    if (pack_released(pk, st, id, err) != 0)
        goto done; /* the frame is discarded on error */
    pk_key(pk, "metrics");
    msgpack_pack_map(pk, (size_t)sum->n);
    for (int i = 0; i < sum->n; i++)
        pk_kv_f64(pk, sum->key[i], sum->value[i]);
    pk_key(pk, "error");
    if (row.error_code[0]) {
        msgpack_pack_map(pk, 3);
        pk_kv_str(pk, "code", row.error_code);
        pk_kv_str(pk, "message", row.error_message);
        pk_kv_str(pk, "field", row.error_field[0] ? row.error_field : NULL);
    } else {
        msgpack_pack_nil(pk);
    }
    pk_key(pk, "checkpoint");
    if (row.checkpoint[0]) {
        msgpack_pack_map(pk, 2);
        pk_kv_str(pk, "hash", row.checkpoint);
        pk_kv_u64(pk, "step", row.checkpoint_step);
    } else {
        msgpack_pack_nil(pk);
    }
    if (row.parent) /* the pipeline it is a stage of */
        pk_kv_i64(pk, "parent", row.parent);
    else
        pk_kv_nil(pk, "parent");
    if (pack_stages(pk, st, stage_ids, nstages, err) != 0)
        goto done;
    pack_labels(pk, &labels, group_name);
    pack_origin(pk, &origin);
    pack_devices(pk, devices, ndevices, pin);
    pk_kv_str(pk, "backend", row.device[0] ? (strstr(row.device, "llvmpipe") ? "vulkan-cpu (lavapipe)" : "vulkan-gpu")
                                           : NULL);
    if (with_events) {
        pk_key(pk, "events");
        msgpack_pack_array(pk, ev.n);
        ev.counting = false;
        ev.n = 0;
        if (store_job_events(st, id, event_cb, &ev, err) != 0)
            goto done; /* cannot happen twice in a row in practice; the frame is discarded on error */
        if (pack_notes(pk, st, id, err) != 0)
            goto done;
    }
    rc = 0;
done:
    free(in);
    free(out);
    free(sum);
    job_row_free(&row);
    return rc;
}
