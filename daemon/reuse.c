/* SPDX-License-Identifier: MIT */
/* A job's identity and the reuse of an identical job's results (reuse.h). */
#include "reuse.h"

#include <msgpack.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "job_params.h"
#include "job_record.h"
#include "store_reuse.h"
#include "wire.h"

/* Bumped whenever the encoding below changes, so that old identities stop matching. */
#define IDENTITY_TAG "dashi-job-identity/1"
#define REUSE_CANDIDATES 8

static bool names_reference(const struct param_spec *specs, const char *key, size_t len)
{
    for (const struct param_spec *s = specs; s && s->name; s++) {
        if (s->type == PARAM_GROUP && names_reference(s->group, key, len))
            return true;
        bool ref = s->type == PARAM_INPUT || s->type == PARAM_HASH || (s->flags & (PARAM_REFERENCE | PARAM_NOT_IDENTITY));
        if (ref && strlen(s->name) == len && memcmp(s->name, key, len) == 0)
            return true;
    }
    return false;
}

/* Whether the packed parameter key names inputs, in any of the kind's tables (its value is
 * a job id or a hash as given, and the identity takes the resolved hashes instead), or is
 * not part of what the results are (keep). */
static bool is_reference(const struct job_kind *kind, const msgpack_object *key)
{
    if (key->type != MSGPACK_OBJECT_STR)
        return false;
    for (const struct param_table *const *t = kind->params; *t; t++)
        if (names_reference((*t)->specs, key->via.str.ptr, key->via.str.size))
            return true;
    return false;
}

/* The resolved parameters without their input references, in the order pack_params wrote
 * them (the kind's table order: the same bytes for the same values). */
static int pack_parameters(msgpack_packer *pk, const struct job_kind *kind, const void *params,
                           struct dashi_error *err)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer ppk;
    msgpack_packer_init(&ppk, &sb, msgpack_sbuffer_write);
    kind->pack_params(params, &ppk);
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    int rc = msgpack_unpack_next(&u, sb.data, sb.size, NULL) == MSGPACK_UNPACK_SUCCESS &&
                     u.data.type == MSGPACK_OBJECT_MAP
                 ? 0
                 : dashi_fail(err, DASHI_E_INTERNAL, "", "cannot read back the job's parameters");
    if (rc == 0) {
        const msgpack_object_map *m = &u.data.via.map;
        uint32_t kept = 0;
        for (uint32_t i = 0; i < m->size; i++)
            kept += !is_reference(kind, &m->ptr[i].key);
        msgpack_pack_map(pk, kept);
        for (uint32_t i = 0; i < m->size; i++)
            if (!is_reference(kind, &m->ptr[i].key)) {
                msgpack_pack_object(pk, m->ptr[i].key);
                msgpack_pack_object(pk, m->ptr[i].val);
            }
    }
    msgpack_unpacked_destroy(&u);
    msgpack_sbuffer_destroy(&sb);
    return rc;
}

/* The inputs as a map from name to hash, ordered by name (n <= JOB_MAX_INPUTS). */
static void pack_inputs(msgpack_packer *pk, const struct job_plan *plan)
{
    int order[JOB_MAX_INPUTS];
    for (int i = 0; i < plan->ninputs; i++) {
        int k = i;
        for (; k > 0 && strcmp(plan->inputs[order[k - 1]].name, plan->inputs[i].name) > 0; k--)
            order[k] = order[k - 1];
        order[k] = i;
    }
    msgpack_pack_map(pk, (size_t)plan->ninputs);
    for (int i = 0; i < plan->ninputs; i++)
        pk_kv_str(pk, plan->inputs[order[i]].name, plan->inputs[order[i]].hash);
}

int reuse_identity(const struct reuse_ctx *ctx, const struct job_kind *kind, const void *params,
                   const struct job_plan *plan, char identity[DASHI_HASH_HEX + 1], struct dashi_error *err)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 8);
    pk_str(&pk, IDENTITY_TAG);
    pk_str(&pk, ctx->daemon_version);
    pk_str(&pk, kind->name);
    int rc = pack_parameters(&pk, kind, params, err);
    pack_inputs(&pk, plan);
    pk_str(&pk, plan->mode);
    pk_str(&pk, plan->precision);
    /* The device class: results are bit-identical only on the same device and driver. */
    msgpack_pack_array(&pk, 3);
    pk_str(&pk, ctx->vk->device_name);
    pk_str(&pk, ctx->vk->driver_name);
    pk_str(&pk, ctx->vk->driver_info);
    unsigned char digest[32];
    if (rc == 0 && crypto_generichash(digest, sizeof digest, (const unsigned char *)sb.data, sb.size, NULL, 0) != 0)
        rc = dashi_fail(err, DASHI_E_INTERNAL, "", "hashing the job's identity failed");
    if (rc == 0)
        sodium_bin2hex(identity, DASHI_HASH_HEX + 1, digest, sizeof digest);
    msgpack_sbuffer_destroy(&sb);
    return rc;
}

struct output_check {
    const struct blobstore *bs;
    bool all_exist;
};

static int check_output(void *ctx, const char *name, const char *hash)
{
    (void)name;
    struct output_check *c = ctx;
    c->all_exist = c->all_exist && blobstore_exists(c->bs, hash);
    return c->all_exist ? 0 : 1;
}

/* 1 when the job's results are usable by uid: visible to it (the rule of `show`: another
 * user's private job is not), every output on disk. */
static int usable(struct store *st, const struct blobstore *bs, int64_t id, uid_t uid, struct dashi_error *err)
{
    struct job_row row;
    if (job_get_visible(st, id, uid, &row, err) != 0)
        return err->code == DASHI_E_NOT_FOUND ? 0 : -1;
    job_row_free(&row);
    struct output_check c = {.bs = bs, .all_exist = true};
    if (store_job_blobs(st, id, "output", check_output, &c, err) != 0)
        return -1;
    return c.all_exist;
}

int reuse_find(const struct reuse_ctx *ctx, const char *identity, uid_t uid, int64_t *original,
               struct dashi_error *err)
{
    *original = 0;
    int64_t ids[REUSE_CANDIDATES];
    size_t n;
    if (store_reuse_candidates(ctx->store, identity, ids, REUSE_CANDIDATES, &n, err) != 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        int ok = usable(ctx->store, ctx->blobs, ids[i], uid, err);
        if (ok < 0)
            return -1;
        if (ok) {
            *original = ids[i];
            return 0;
        }
    }
    return 0;
}

/* The oldest identical job in flight older than id that uid may see: it computes what this
 * one would, so this one waits for it. Only older jobs, so that waits never form a cycle. */
static int find_in_flight(const struct reuse_ctx *ctx, const char *identity, int64_t id, uid_t uid,
                          int64_t *in_flight, struct dashi_error *err)
{
    *in_flight = 0;
    int64_t ids[REUSE_CANDIDATES];
    size_t n;
    if (store_identical_in_flight(ctx->store, identity, id ? id : INT64_MAX, ids, REUSE_CANDIDATES, &n, err) != 0)
        return -1;
    for (size_t i = 0; i < n && !*in_flight; i++) {
        struct job_row row;
        if (job_get_visible(ctx->store, ids[i], uid, &row, err) != 0) {
            if (err->code != DASHI_E_NOT_FOUND)
                return -1;
            continue;
        }
        job_row_free(&row);
        *in_flight = ids[i];
    }
    return 0;
}

int reuse_lookup(const struct reuse_ctx *ctx, int64_t id, uid_t uid, const struct job_kind *kind,
                 const void *params, const struct job_plan *plan, bool allow, struct reuse_match *m,
                 struct dashi_error *err)
{
    memset(m, 0, sizeof *m);
    if (reuse_identity(ctx, kind, params, plan, m->identity, err) != 0)
        return -1;
    if (!allow)
        return 0;
    if (reuse_find(ctx, m->identity, uid, &m->original, err) != 0)
        return -1;
    return m->original ? 0 : find_in_flight(ctx, m->identity, id, uid, &m->in_flight, err);
}

int reuse_apply(const struct reuse_ctx *ctx, int64_t id, const struct reuse_match *m, double now, bool *reused,
                struct dashi_error *err)
{
    *reused = false;
    if (store_job_set_identity(ctx->store, id, m->identity, err) != 0)
        return -1;
    if (!m->original)
        return 0;
    if (store_job_reuse(ctx->store, id, m->original, now, err) != 0)
        return -1;
    *reused = true;
    return 0;
}
