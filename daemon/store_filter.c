/* SPDX-License-Identifier: MIT */
/* The list filters of named runs as SQL conditions and their bindings (store_filter.h). */
#include "store_filter.h"

#include <sqlite3.h>
#include <stdio.h>

/* ---- list filters ---- */

static int append(char *sql, size_t cap, int len, const char *fmt, int a, int b)
{
    size_t used = (size_t)len < cap ? (size_t)len : cap;
    return len + snprintf(sql + used, cap - used, fmt, a, b);
}

int runs_filter_sql(const struct runs_filter *f, int first, char *sql, size_t cap)
{
    int len = 0, p = first;
    if (f->name_glob[0])
        len = append(sql, cap, len, " AND name GLOB ?%d", p++, 0);
    for (int i = 0; i < f->ntags; i++)
        len = append(sql, cap, len, " AND id IN (SELECT job FROM job_tags WHERE tag = ?%d)", p++, 0);
    for (int i = 0; i < f->nparams; i++, p += 2)
        len = append(sql, cap, len, " AND json_extract(params_json, ?%d) = ?%d", p, p + 1);
    if (f->group_id > 0)
        len = append(sql, cap, len, " AND group_id = ?%d", p++, 0);
    else if (f->group_name[0])
        len = append(sql, cap, len, " AND group_id IN (SELECT id FROM job_groups WHERE name = ?%d)", p++, 0);
    return len;
}

void runs_filter_bind(sqlite3_stmt *s, const struct runs_filter *f, int first)
{
    int p = first;
    if (f->name_glob[0])
        sqlite3_bind_text(s, p++, f->name_glob, -1, SQLITE_STATIC);
    for (int i = 0; i < f->ntags; i++)
        sqlite3_bind_text(s, p++, f->tags[i], -1, SQLITE_STATIC);
    for (int i = 0; i < f->nparams; i++) {
        const struct runs_param_match *m = &f->params[i];
        sqlite3_bind_text(s, p++, m->path, -1, SQLITE_STATIC);
        if (m->type == MATCH_INT)
            sqlite3_bind_int64(s, p++, m->i);
        else if (m->type == MATCH_REAL)
            sqlite3_bind_double(s, p++, m->real);
        else
            sqlite3_bind_text(s, p++, m->text, -1, SQLITE_STATIC);
    }
    if (f->group_id > 0)
        sqlite3_bind_int64(s, p++, f->group_id);
    else if (f->group_name[0])
        sqlite3_bind_text(s, p++, f->group_name, -1, SQLITE_STATIC);
}
