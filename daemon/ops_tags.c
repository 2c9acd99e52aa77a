/* SPDX-License-Identifier: MIT */
/* The ops that label runs, tag and note (owner or root), and the list filters over
 * names, tags, parameters and groups (docs/protocol.md "Names, tags, notes and groups"). */
#include <stdio.h>
#include <string.h>

#include "job_record.h"
#include "ops.h"
#include "store_tags.h"

/* The job named by args' id, if the caller may change its labels: its owner or root. */
static int labelled_job(struct conn *c, const struct request *req, const char *const *allowed, int64_t *id,
                        struct dashi_error *err)
{
    struct job_row row;
    if (args_only(req->args, allowed, err) || arg_i64(req->args, "id", true, 0, 1, INT64_MAX, id, err) ||
        job_get_visible(&c->d->store, *id, c->uid, &row, err) != 0)
        return -1;
    uid_t owner = row.uid;
    job_row_free(&row);
    if (c->uid != 0 && c->uid != owner)
        return dashi_fail(err, DASHI_E_PERMISSION, "id", "job %lld is uid %u's: only its owner or root may label it",
                          (long long)*id, (unsigned)owner);
    return 0;
}

int op_tag(struct conn *c, const struct request *req, msgpack_packer *pk, struct dashi_error *err)
{
    static const char *const allowed[] = {"id", "tags", "remove", NULL};
    int64_t id;
    bool remove;
    char tags[JOB_TAGS_MAX][JOB_TAG_MAX + 1];
    int n;
    if (labelled_job(c, req, allowed, &id, err) != 0 || arg_bool(req->args, "remove", false, false, &remove, err) ||
        tags_from_arg(req->args, "tags", true, tags, JOB_TAGS_MAX, &n, err) != 0 ||
        store_job_tags_change(&c->d->store, id, tags, n, remove, err) != 0)
        return -1;
    struct job_labels l;
    char group_name[JOB_NAME_MAX + 1];
    if (store_job_labels_get(&c->d->store, id, &l, group_name, err) != 0)
        return -1;
    pack_ok_begin(pk, req->id);
    msgpack_pack_map(pk, 2);
    pk_kv_i64(pk, "id", id);
    pk_key(pk, "tags");
    msgpack_pack_array(pk, (size_t)l.ntags);
    for (int i = 0; i < l.ntags; i++)
        pk_str(pk, l.tags[i]);
    return 0;
}

int op_note(struct conn *c, const struct request *req, msgpack_packer *pk, struct dashi_error *err)
{
    static const char *const allowed[] = {"id", "text", NULL};
    int64_t id;
    char text[JOB_NOTE_MAX + 1];
    if (labelled_job(c, req, allowed, &id, err) != 0 || arg_str(req->args, "text", true, NULL, text, sizeof text, err) ||
        label_text_check("text", text, strlen(text), JOB_NOTE_MAX, true, err) != 0 ||
        store_job_note_add(&c->d->store, id, c->uid, now_seconds(), text, err) != 0)
        return -1;
    pack_ok_begin(pk, req->id);
    msgpack_pack_map(pk, 2);
    pk_kv_i64(pk, "id", id);
    pk_kv_bool(pk, "noted", true);
    return 0;
}

/* ---- list filters ---- */

static int param_key_check(const msgpack_object *k, char *out, size_t cap, struct dashi_error *err)
{
    if (k->type != MSGPACK_OBJECT_STR || k->via.str.size == 0 || k->via.str.size > RUNS_PARAM_KEY_MAX)
        return dashi_fail(err, DASHI_E_BAD_VALUE, "param", "a parameter name is 1 to %d letters, digits or _",
                          RUNS_PARAM_KEY_MAX);
    for (uint32_t i = 0; i < k->via.str.size; i++) {
        char ch = k->via.str.ptr[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_'))
            return dashi_fail(err, DASHI_E_BAD_VALUE, "param", "a parameter name is letters, digits or _ ('%.*s')",
                              (int)k->via.str.size, k->via.str.ptr);
    }
    snprintf(out, cap, "$.%.*s", (int)k->via.str.size, k->via.str.ptr);
    return 0;
}

static int param_value(const msgpack_object *v, struct runs_param_match *m, struct dashi_error *err)
{
    switch (v->type) {
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        if (v->via.u64 > INT64_MAX)
            return dashi_fail(err, DASHI_E_BAD_VALUE, "param", "parameter value out of range");
        m->type = MATCH_INT;
        m->i = (int64_t)v->via.u64;
        return 0;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER: m->type = MATCH_INT; m->i = v->via.i64; return 0;
    case MSGPACK_OBJECT_BOOLEAN: m->type = MATCH_INT; m->i = v->via.boolean; return 0; /* JSON true is 1 */
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64: m->type = MATCH_REAL; m->real = v->via.f64; return 0;
    case MSGPACK_OBJECT_STR:
        if (v->via.str.size > JOB_NAME_MAX || memchr(v->via.str.ptr, '\0', v->via.str.size))
            return dashi_fail(err, DASHI_E_BAD_VALUE, "param", "a parameter value is at most %d bytes of text",
                              JOB_NAME_MAX);
        m->type = MATCH_TEXT;
        snprintf(m->text, sizeof m->text, "%.*s", (int)v->via.str.size, v->via.str.ptr);
        return 0;
    default:
        return dashi_fail(err, DASHI_E_BAD_TYPE, "param", "a parameter value is a number, a string or a boolean");
    }
}

static int params_filter(const msgpack_object *p, struct runs_filter *f, struct dashi_error *err)
{
    if (!p || p->type == MSGPACK_OBJECT_NIL)
        return 0;
    if (p->type != MSGPACK_OBJECT_MAP)
        return dashi_fail(err, DASHI_E_BAD_TYPE, "param", "param must be a map of parameter names to values");
    if (p->via.map.size > RUNS_FILTER_PARAMS)
        return dashi_fail(err, DASHI_E_TOO_LARGE, "param", "at most %d parameter filters", RUNS_FILTER_PARAMS);
    for (uint32_t i = 0; i < p->via.map.size; i++) {
        struct runs_param_match *m = &f->params[f->nparams++];
        if (param_key_check(&p->via.map.ptr[i].key, m->path, sizeof m->path, err) != 0 ||
            param_value(&p->via.map.ptr[i].val, m, err) != 0)
            return -1;
    }
    return 0;
}

/* `group`: an integer is a group's id, a string the name of groups. */
static int group_filter(const msgpack_object *g, struct runs_filter *f, struct dashi_error *err)
{
    if (!g || g->type == MSGPACK_OBJECT_NIL)
        return 0;
    if (g->type == MSGPACK_OBJECT_POSITIVE_INTEGER && g->via.u64 >= 1 && g->via.u64 <= INT64_MAX) {
        f->group_id = (int64_t)g->via.u64;
        return 0;
    }
    if (g->type != MSGPACK_OBJECT_STR)
        return dashi_fail(err, DASHI_E_BAD_TYPE, "group", "group must be a group's id (>= 1) or name");
    if (label_text_check("group", g->via.str.ptr, g->via.str.size, JOB_NAME_MAX, false, err) != 0)
        return -1;
    snprintf(f->group_name, sizeof f->group_name, "%.*s", (int)g->via.str.size, g->via.str.ptr);
    return 0;
}

int runs_filter_from_args(const msgpack_object *args, struct runs_filter *f, bool *any, struct dashi_error *err)
{
    memset(f, 0, sizeof *f);
    const msgpack_object *name = args_find(args, "name");
    if (name && name->type != MSGPACK_OBJECT_NIL) {
        if (name->type != MSGPACK_OBJECT_STR)
            return dashi_fail(err, DASHI_E_BAD_TYPE, "name", "name must be a string (a glob: * ? [...])");
        if (label_text_check("name", name->via.str.ptr, name->via.str.size, JOB_NAME_MAX, false, err) != 0)
            return -1;
        snprintf(f->name_glob, sizeof f->name_glob, "%.*s", (int)name->via.str.size, name->via.str.ptr);
    }
    if (tags_from_arg(args, "tag", false, f->tags, RUNS_FILTER_TAGS, &f->ntags, err) != 0 ||
        params_filter(args_find(args, "param"), f, err) != 0 || group_filter(args_find(args, "group"), f, err) != 0)
        return -1;
    *any = f->name_glob[0] || f->ntags || f->nparams || f->group_id || f->group_name[0];
    return 0;
}
