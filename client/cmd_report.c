/* SPDX-License-Identifier: MIT */
/* `dashi report ID... | --group G -o DIR` (docs/cli.md "report"): one HTML page,
 * DIR/index.html, about a few runs, with its figures as sibling files so it opens from
 * disk with no server. The figures are the figure commands' own (report_figures.c); the
 * page (report_html.c) escapes every string the daemon sent. A figure that cannot be
 * drawn is said so on the page and on stderr; the report itself still succeeds. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "json.h"
#include "report_figures.h"
#include "report_html.h"

enum { REPORT_MAX_JOBS = 64, REPORT_MAX_COLUMNS = 12 };

struct report {
    const char *dir;
    int64_t ids[REPORT_MAX_JOBS];
    struct cmd_result records[REPORT_MAX_JOBS];
    size_t n;
    struct report_figure_count figures;
};

static int add_id(struct report *r, int64_t id, struct dashi_error *err)
{
    for (size_t i = 0; i < r->n; i++)
        if (r->ids[i] == id)
            return 0;
    if (r->n == REPORT_MAX_JOBS)
        return dashi_fail(err, DASHI_E_TOO_LARGE, "id", "a report holds at most %d jobs", REPORT_MAX_JOBS);
    r->ids[r->n++] = id;
    return 0;
}

/* ---- which jobs: the ids given, and the members of --group G (the list op's group filter) ---- */

static void pack_group_filter(msgpack_packer *pk, void *ctx)
{
    msgpack_pack_map(pk, 2);
    pk_kv_str(pk, "group", ctx);
    pk_kv_i64(pk, "limit", 100);
}

static int add_group(struct dashi_client *c, struct report *r, const char *group, struct dashi_error *err)
{
    msgpack_unpacked resp;
    msgpack_unpacked_init(&resp);
    const msgpack_object *result;
    int rc = client_call_all(c, "list", pack_group_filter, (void *)group, "jobs", REPORT_MAX_JOBS + 1, &resp,
                             &result, err);
    const msgpack_object *jobs = rc == 0 ? map_get(result, "jobs") : NULL;
    uint32_t n = jobs && jobs->type == MSGPACK_OBJECT_ARRAY ? jobs->via.array.size : 0;
    if (rc == 0 && n == 0)
        rc = dashi_fail(err, DASHI_E_NOT_FOUND, "group", "group '%s' has no job you can see", group);
    for (uint32_t i = 0; rc == 0 && i < n; i++)
        rc = add_id(r, obj_i64(map_get(&jobs->via.array.ptr[i], "id")), err);
    msgpack_unpacked_destroy(&resp);
    return rc;
}

static int collect_jobs(struct dashi_client *c, const struct cli_opts *o, struct report *r, struct dashi_error *err)
{
    for (int i = 0; i < o->args.npos; i++) {
        int64_t id;
        if (cmd_parse_id(o->pos[i], &id, err) != 0 || add_id(r, id, err) != 0)
            return -1;
    }
    const char *group = cli_opt(o, "group");
    if (group && !*group)
        return dashi_fail(err, DASHI_E_MISSING_FIELD, "group", "--group needs a group name");
    if (group && add_group(c, r, group, err) != 0)
        return -1;
    for (size_t i = 0; i < r->n; i++)
        if (cmd_call_id(c, "show", r->ids[i], NULL, &r->records[i], err) != 0)
            return -1;
    return 0;
}

/* ---- the page ---- */

static void write_cell(FILE *f, const msgpack_object *v)
{
    bool number = v && (v->type == MSGPACK_OBJECT_POSITIVE_INTEGER || v->type == MSGPACK_OBJECT_NEGATIVE_INTEGER ||
                        v->type == MSGPACK_OBJECT_FLOAT32 || v->type == MSGPACK_OBJECT_FLOAT64);
    fputs(number ? "<td class=\"num\">" : "<td>", f);
    html_value(f, v);
    fputs("</td>", f);
}

/* The summary metric names of all jobs, first seen first, at most REPORT_MAX_COLUMNS;
 * *more: how many were left out. */
static size_t summary_columns(const struct report *r, const msgpack_object *cols[REPORT_MAX_COLUMNS], size_t *more)
{
    size_t n = 0;
    *more = 0;
    for (size_t j = 0; j < r->n; j++) {
        const msgpack_object *m = map_get(r->records[j].obj, "metrics");
        for (uint32_t i = 0; m && m->type == MSGPACK_OBJECT_MAP && i < m->via.map.size; i++) {
            const msgpack_object *key = &m->via.map.ptr[i].key;
            bool seen = false;
            for (size_t k = 0; k < n && !seen; k++)
                seen = msgpack_object_equal(*cols[k], *key);
            if (!seen && n < REPORT_MAX_COLUMNS)
                cols[n++] = key;
            else if (!seen)
                (*more)++;
        }
    }
    return n;
}

static const msgpack_object *metric_of(const msgpack_object *rec, const msgpack_object *key)
{
    const msgpack_object *m = map_get(rec, "metrics");
    for (uint32_t i = 0; m && m->type == MSGPACK_OBJECT_MAP && i < m->via.map.size; i++)
        if (msgpack_object_equal(m->via.map.ptr[i].key, *key))
            return &m->via.map.ptr[i].val;
    return NULL;
}

static const char *const ROW_FIELDS[] = {"id", "name", "kind", "state", "user", "gpu_seconds"};
#define NROW_FIELDS (sizeof ROW_FIELDS / sizeof ROW_FIELDS[0])

/* One row per job: who and what it is, and its summary metrics. */
static void write_summary(FILE *f, const struct report *r)
{
    const msgpack_object *cols[REPORT_MAX_COLUMNS];
    size_t more, ncols = summary_columns(r, cols, &more);
    fputs("<h2>Summary</h2>\n<table>\n<tr>", f);
    for (size_t k = 0; k < NROW_FIELDS; k++)
        fprintf(f, "<th>%s</th>", ROW_FIELDS[k]);
    for (size_t k = 0; k < ncols; k++) {
        fputs("<th>", f);
        html_value(f, cols[k]);
        fputs("</th>", f);
    }
    fputs("</tr>\n", f);
    for (size_t j = 0; j < r->n; j++) {
        fputs("<tr>", f);
        for (size_t k = 0; k < NROW_FIELDS; k++)
            write_cell(f, map_get(r->records[j].obj, ROW_FIELDS[k]));
        for (size_t k = 0; k < ncols; k++)
            write_cell(f, metric_of(r->records[j].obj, cols[k]));
        fputs("</tr>\n", f);
    }
    fputs("</table>\n", f);
    if (more)
        fprintf(f, "<p>%zu more summary metrics in the jobs' sections below.</p>\n", more);
}

static void write_job(FILE *f, struct dashi_client *c, struct report *r, size_t j)
{
    const msgpack_object *rec = r->records[j].obj;
    fprintf(f, "<h2 id=\"job-%lld\">Job %lld: ", (long long)r->ids[j], (long long)r->ids[j]);
    html_value(f, map_get(rec, "kind"));
    fputs(", ", f);
    html_value(f, map_get(rec, "state"));
    fputs("</h2>\n", f);
    const msgpack_object *error = map_get(rec, "error");
    if (error && error->type == MSGPACK_OBJECT_MAP) {
        fputs("<p class=\"missing\">", f);
        html_value(f, map_get(error, "code"));
        fputs(": ", f);
        html_value(f, map_get(error, "message"));
        fputs("</p>\n", f);
    }
    report_figures(f, c, r->dir, r->ids[j], rec, &r->figures);
    html_map_table(f, "Parameters", map_get(rec, "params"));
    html_map_table(f, "Summary metrics", map_get(rec, "metrics"));
    html_map_table(f, "Outputs", map_get(rec, "outputs"));
    html_map_table(f, "Inputs", map_get(rec, "inputs"));
}

static void write_page(FILE *f, struct dashi_client *c, struct report *r)
{
    char title[64];
    snprintf(title, sizeof title, "dashi report: %zu job%s", r->n, r->n == 1 ? "" : "s");
    html_begin(f, title);
    fprintf(f, "<h1>%s</h1>\n<p>Jobs:", title);
    for (size_t j = 0; j < r->n; j++)
        fprintf(f, " <a href=\"#job-%lld\">%lld</a>", (long long)r->ids[j], (long long)r->ids[j]);
    fputs("</p>\n", f);
    write_summary(f, r);
    for (size_t j = 0; j < r->n; j++)
        write_job(f, c, r, j);
    html_end(f);
}

/* The figure commands print the file they wrote; within a report that listing goes to
 * stderr, so stdout holds only the report's own answer (one JSON document with --json). */
static int stdout_to_stderr(struct dashi_error *err)
{
    fflush(stdout);
    int saved = dup(STDOUT_FILENO);
    if (saved < 0 || dup2(STDERR_FILENO, STDOUT_FILENO) < 0) {
        if (saved >= 0)
            close(saved);
        return dashi_fail(err, DASHI_E_IO, "", "cannot redirect stdout: %s", strerror(errno));
    }
    return saved;
}

static int stdout_restore(int saved, struct dashi_error *err)
{
    fflush(stdout);
    int rc = dup2(saved, STDOUT_FILENO) < 0 ? dashi_fail(err, DASHI_E_IO, "", "cannot restore stdout: %s",
                                                         strerror(errno))
                                            : 0;
    close(saved);
    return rc;
}

/* Writes DIR/index.html through a temporary name, so a failed report leaves no half page. */
static int write_index(struct dashi_client *c, struct report *r, char *index, size_t cap, struct dashi_error *err)
{
    char tmp[4096];
    snprintf(index, cap, "%s/index.html", r->dir);
    snprintf(tmp, sizeof tmp, "%s/.index.html.part%ld", r->dir, (long)getpid());
    FILE *f = fopen(tmp, "w");
    if (!f)
        return dashi_fail(err, DASHI_E_IO, "o", "cannot write %s: %s", tmp, strerror(errno));
    int saved = stdout_to_stderr(err);
    int rc = saved < 0 ? -1 : 0;
    if (rc == 0) {
        write_page(f, c, r);
        rc = stdout_restore(saved, err);
    }
    bool written = !ferror(f);
    if (fclose(f) != 0)
        written = false;
    if (rc == 0 && (!written || rename(tmp, index) != 0))
        rc = dashi_fail(err, DASHI_E_IO, "o", "cannot write %s: %s", index, strerror(errno));
    if (rc != 0)
        unlink(tmp);
    return rc;
}

static int make_dir(const char *dir, struct dashi_error *err)
{
    struct stat st;
    if (mkdir(dir, 0755) == 0 || (errno == EEXIST && stat(dir, &st) == 0 && S_ISDIR(st.st_mode)))
        return 0;
    return dashi_fail(err, DASHI_E_IO, "o", "cannot create the directory %s: %s", dir,
                      errno == EEXIST ? "it exists and is not a directory" : strerror(errno));
}

static void print_answer(const struct cli_opts *o, const struct report *r, const char *index)
{
    if (!o->args.json) {
        printf("%s\n", index);
        return;
    }
    fputs("{\"report\": ", stdout);
    json_write_string(stdout, index, strlen(index));
    fputs(", \"jobs\": [", stdout);
    for (size_t j = 0; j < r->n; j++)
        printf("%s%lld", j ? ", " : "", (long long)r->ids[j]);
    printf("], \"figures\": %zu, \"missing\": %zu}\n", r->figures.drawn, r->figures.missing);
}

int cmd_report(struct dashi_client *c, struct cli_opts *o, struct dashi_error *err)
{
    struct report *r = calloc(1, sizeof *r);
    if (!r)
        return dashi_fail(err, DASHI_E_INTERNAL, "", "out of memory");
    for (size_t j = 0; j < REPORT_MAX_JOBS; j++)
        cmd_result_init(&r->records[j]);
    r->dir = cli_opt(o, "o");
    char index[4200];
    int rc = 0;
    if ((o->args.npos < 1 && !cli_opt(o, "group")) || !r->dir || !*r->dir)
        rc = dashi_fail(err, DASHI_E_MISSING_FIELD, r->dir && *r->dir ? "id" : "o",
                        "usage: dashi report ID [ID...] | --group G -o DIR");
    if (rc == 0 && strlen(r->dir) > 3000)
        rc = dashi_fail(err, DASHI_E_BAD_VALUE, "o", "the directory name is too long");
    if (rc == 0)
        rc = collect_jobs(c, o, r, err);
    if (rc == 0)
        rc = make_dir(r->dir, err);
    if (rc == 0)
        rc = write_index(c, r, index, sizeof index, err);
    if (rc == 0)
        print_answer(o, r, index);
    for (size_t j = 0; j < REPORT_MAX_JOBS; j++)
        cmd_result_free(&r->records[j]);
    free(r);
    return rc;
}
