/* SPDX-License-Identifier: MIT */
/* The registry of job kinds. A new kind is one `struct job_kind` and one line here. */
#include <stdio.h>
#include <string.h>

#include "job.h"
#include "job_params.h"
#include "suggest.h"
#include "wire.h"

extern const struct job_kind job_kind_rollout;
extern const struct job_kind job_kind_les;
extern const struct job_kind job_kind_train;
extern const struct job_kind job_kind_atoms;
extern const struct job_kind job_kind_decode;
extern const struct job_kind job_kind_pipeline;

static const struct job_kind *const kinds[] = {
    &job_kind_rollout,
    &job_kind_les,
    &job_kind_train,
    &job_kind_atoms,
    &job_kind_decode,
    &job_kind_pipeline,
};

const struct job_kind *job_kind_find(const char *name)
{
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (strcmp(kinds[i]->name, name) == 0)
            return kinds[i];
    return NULL;
}

void job_kind_names(char *buf, size_t cap)
{
    size_t used = 0;
    buf[0] = 0;
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0] && used < cap; i++)
        used += (size_t)snprintf(buf + used, cap - used, "%s%s", i ? " " : "", kinds[i]->name);
}

int job_kind_unknown(const char *name, dashi_code code, struct dashi_error *err)
{
    char names[256];
    job_kind_names(names, sizeof names);
    struct suggestion near;
    suggest_init(&near, name);
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        suggest_consider(&near, kinds[i]->name);
    if (suggest_best(&near))
        return dashi_fail(err, code, "kind", "unknown job kind '%s'; did you mean %s? (kinds: %s)", name,
                          suggest_best(&near), names);
    return dashi_fail(err, code, "kind", "unknown job kind '%s' (kinds: %s)", name, names);
}

void job_kinds_params_markdown(FILE *f)
{
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        for (const struct param_table *const *t = kinds[i]->params; *t; t++)
            params_markdown(*t, f);
}

void job_kinds_describe(const struct job_kind *only, msgpack_packer *pk)
{
    uint32_t n = 0;
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        for (const struct param_table *const *t = kinds[i]->params; *t; t++)
            n += !only || kinds[i] == only;
    msgpack_pack_array(pk, n);
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        for (const struct param_table *const *t = kinds[i]->params; *t; t++)
            if (!only || kinds[i] == only)
                params_describe(kinds[i]->name, *t, pk);
}
