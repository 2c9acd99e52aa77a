/* SPDX-License-Identifier: MIT */
/* The studies' shared helpers (study_common.h). */
#include "study_common.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void study_line_init(struct study_line *r, const char *kind)
{
    memset(r, 0, sizeof *r);
    r->o.cmd = "sweep";
    r->o.pos[0] = kind;
    r->o.args.npos = 1;
    r->o.args.pos = r->o.pos;
    r->o.args.names = r->o.names;
    r->o.args.values = r->o.values;
}

void study_line_add(struct study_line *r, const char *name, const char *value)
{
    int i = r->o.args.nopts++;
    snprintf(r->text[i], sizeof r->text[i], "%s", value ? value : "");
    r->o.names[i] = name;
    r->o.values[i] = value ? r->text[i] : NULL;
}

void study_line_pass(struct study_line *r, const struct cli_opts *o, const char *const *names)
{
    for (; *names; names++) {
        const char *v = cli_opt(o, *names);
        if (v)
            study_line_add(r, *names, *v ? v : NULL); /* "": a bare flag (stabilize) */
    }
}

int study_sweep(struct dashi_client *c, const struct study_line *r, int64_t *ids, int cap, int64_t *group,
                struct dashi_error *err)
{
    msgpack_unpacked resp;
    msgpack_unpacked_init(&resp);
    const msgpack_object *result;
    int rc = sweep_call(c, &r->o, &resp, &result, err);
    if (rc == 0) {
        const msgpack_object *jobs = map_get(result, "jobs");
        *group = obj_i64(map_get(result, "group"));
        for (uint32_t i = 0; jobs && i < jobs->via.array.size && (int)i < cap; i++)
            ids[i] = obj_i64(&jobs->via.array.ptr[i]);
    }
    msgpack_unpacked_destroy(&resp);
    return rc;
}

int study_wait(struct dashi_client *c, int64_t id, struct cmd_result *r, struct dashi_error *err)
{
    struct cmd_result own;
    struct cmd_result *res = r ? r : &own;
    int rc = cmd_call_id(c, "wait", id, NULL, res, err);
    if (rc == 0 && job_exit_status(res->obj) != 0)
        rc = dashi_fail(err, DASHI_E_STATE, "id", "study: job %lld did not succeed (dashi show %lld)", (long long)id,
                        (long long)id);
    if (!r)
        cmd_result_free(&own);
    return rc;
}

double study_summary(const msgpack_object *rec, const char *key)
{
    return obj_number(map_get(map_get(rec, "metrics"), key), NAN);
}

int study_opt_u64(const struct cli_opts *o, const char *name, uint64_t lo, uint64_t hi, uint64_t *v,
                  struct dashi_error *err)
{
    const char *s = cli_opt(o, name);
    if (!s)
        return 0;
    char *end;
    errno = 0;
    unsigned long long x = strtoull(s, &end, 10);
    if (errno || end == s || *end || x < lo || x > hi || *s == '-')
        return dashi_fail(err, DASHI_E_BAD_VALUE, name, "--%s must be an integer in [%llu, %llu] (got '%s')", name,
                          (unsigned long long)lo, (unsigned long long)hi, s);
    *v = x;
    return 0;
}

int study_opt_list(const char *name, const char *s, double lo, double hi, double *out, size_t cap, size_t *count,
                   struct dashi_error *err)
{
    *count = 0;
    while (*s) {
        char *end;
        errno = 0;
        double x = strtod(s, &end);
        if (errno || end == s || (*end && *end != ',') || !(x >= lo && x <= hi) || *count == cap)
            return dashi_fail(err, DASHI_E_BAD_VALUE, name, "--%s takes 1 to %zu comma-separated values in [%g, %g]",
                              name, cap, lo, hi);
        out[(*count)++] = x;
        s = *end ? end + 1 : end;
    }
    return *count ? 0 : dashi_fail(err, DASHI_E_BAD_VALUE, name, "--%s needs at least one value", name);
}
