/* SPDX-License-Identifier: MIT */
/* `dashi tag | note | sweep | table`: naming runs, annotating them, submitting a sweep as
 * one group, and the table of a group's (or any runs') varied parameters and metrics
 * (docs/cli.md "Runs, sweeps and tables"). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "json.h"
#include "output.h"

/* ---- tag and note ---- */

struct tag_args {
    const struct cli_opts *o;
    bool remove;
};

static void pack_tag(msgpack_packer *pk, void *ctx)
{
    const struct tag_args *t = ctx;
    msgpack_pack_map(pk, 3);
    pk_kv_i64(pk, "id", t->o->job);
    pk_kv_bool(pk, "remove", t->remove);
    pk_key(pk, "tags");
    msgpack_pack_array(pk, (size_t)t->o->args.npos - 1);
    for (int i = 1; i < t->o->args.npos; i++)
        pk_str(pk, t->o->pos[i]);
}

int cmd_tag(struct dashi_client *c, struct cli_opts *o, struct dashi_error *err)
{
    if (o->args.npos < 2)
        return dashi_fail(err, DASHI_E_MISSING_FIELD, "tags", "usage: dashi tag ID TAG... [--rm]");
    struct tag_args t = {o, cli_opt(o, "rm") != NULL};
    return cli_call_print(c, o, "tag", pack_tag, &t, false, false, err);
}

struct note_args {
    int64_t id;
    char *text;
};

static void pack_note(msgpack_packer *pk, void *ctx)
{
    const struct note_args *n = ctx;
    msgpack_pack_map(pk, 2);
    pk_kv_i64(pk, "id", n->id);
    pk_kv_str(pk, "text", n->text);
}

/* The note is the words after the id, joined by spaces (quoting is not needed). */
int cmd_note(struct dashi_client *c, struct cli_opts *o, struct dashi_error *err)
{
    if (o->args.npos < 2)
        return dashi_fail(err, DASHI_E_MISSING_FIELD, "text", "usage: dashi note ID TEXT");
    size_t len = 0;
    for (int i = 1; i < o->args.npos; i++)
        len += strlen(o->pos[i]) + 1;
    struct note_args n = {o->job, malloc(len)};
    if (!n.text)
        return dashi_fail(err, DASHI_E_INTERNAL, "", "out of memory");
    n.text[0] = '\0';
    for (int i = 1; i < o->args.npos; i++) {
        if (i > 1)
            strcat(n.text, " ");
        strcat(n.text, o->pos[i]);
    }
    int rc = cli_call_print(c, o, "note", pack_note, &n, false, false, err);
    free(n.text);
    return rc;
}

/* ---- sweep ---- */

static const char *const sweep_envelope[] = {"priority", "private", "time-limit", "no-reuse", "name", "tag", "vary",
                                             "executor", "slurm-arg", NULL};

/* Each --vary KEY=V1,V2,...: present, a key and at least one value each. */
static int check_vary(const struct cli_opts *o, int *n, struct dashi_error *err)
{
    *n = 0;
    for (int i = 0; i < o->args.nopts; i++) {
        if (strcmp(o->names[i], "vary") != 0)
            continue;
        const char *v = o->values[i], *eq = v ? strchr(v, '=') : NULL;
        if (!eq || eq == v || !eq[1] || strstr(eq + 1, ",,") || eq[strlen(eq) - 1] == ',' || eq[1] == ',')
            return dashi_fail(err, DASHI_E_BAD_VALUE, "vary", "--vary takes KEY=V1,V2,... (e.g. seed=0,1,2), got %s",
                              v ? v : "nothing");
        (*n)++;
    }
    return *n ? 0 : dashi_fail(err, DASHI_E_MISSING_FIELD, "vary", "a sweep needs --vary KEY=V1,V2,...");
}

static void pack_vary_values(msgpack_packer *pk, const char *values)
{
    size_t n = 1;
    for (const char *p = values; *p; p++)
        n += *p == ',';
    msgpack_pack_array(pk, n);
    char value[256];
    for (const char *p = values;;) {
        size_t len = strcspn(p, ",");
        snprintf(value, sizeof value, "%.*s", (int)len, p);
        cli_pack_value(pk, value);
        if (!p[len])
            break;
        p += len + 1;
    }
}

struct sweep_args {
    const struct cli_opts *o;
    int nvary;
};

static void pack_sweep(msgpack_packer *pk, void *ctx)
{
    const struct sweep_args *s = ctx;
    cli_pack_submission(pk, s->o, sweep_envelope, 1);
    pk_key(pk, "vary");
    msgpack_pack_map(pk, (size_t)s->nvary);
    for (int i = 0; i < s->o->args.nopts; i++) {
        if (strcmp(s->o->names[i], "vary") != 0)
            continue;
        const char *v = s->o->values[i], *eq = strchr(v, '=');
        msgpack_pack_str(pk, (size_t)(eq - v));
        msgpack_pack_str_body(pk, v, (size_t)(eq - v));
        pack_vary_values(pk, eq + 1);
    }
}

int sweep_call(struct dashi_client *c, const struct cli_opts *o, msgpack_unpacked *resp, const msgpack_object **result,
               struct dashi_error *err)
{
    struct sweep_args s = {o, 0};
    if (o->args.npos != 1)
        return dashi_fail(err, DASHI_E_MISSING_FIELD, "kind", "usage: dashi sweep KIND --vary KEY=V1,V2,... [--ARG VALUE]...");
    if (check_vary(o, &s.nvary, err) != 0)
        return -1;
    return client_call(c, "sweep", pack_sweep, &s, NULL, NULL, resp, result, err);
}

int cmd_sweep(struct dashi_client *c, struct cli_opts *o, struct dashi_error *err)
{
    msgpack_unpacked resp;
    msgpack_unpacked_init(&resp);
    const msgpack_object *result;
    int rc = sweep_call(c, o, &resp, &result, err);
    if (rc == 0 && o->args.json) {
        print_json(result);
    } else if (rc == 0) {
        const msgpack_object *jobs = map_get(result, "jobs"), *name = map_get(result, "name");
        printf("group %lld", (long long)obj_i64(map_get(result, "group")));
        if (name && name->type == MSGPACK_OBJECT_STR)
            printf(" (%.*s)", (int)name->via.str.size, name->via.str.ptr);
        printf(": %u runs:", jobs->via.array.size);
        for (uint32_t i = 0; i < jobs->via.array.size; i++)
            printf(" %lld", (long long)obj_i64(&jobs->via.array.ptr[i]));
        putchar('\n');
    }
    msgpack_unpacked_destroy(&resp);
    return rc;
}

/* ---- table ---- */

#define TABLE_MAX_RUNS 4000 /* rows of one table (a sweep has at most 1000) */
#define TABLE_MAX_COLS 32   /* --col options */

/* A --col: KEY (a summary scalar), KEY.T, KEY.0, KEY.min, KEY.max (of the series KEY:
 * its last or first value, its least or greatest) or KEY@STEP (its value at STEP). */
enum col_reduce { COL_SUMMARY, COL_LAST, COL_FIRST, COL_MIN, COL_MAX, COL_AT_STEP };
struct table_col {
    const char *spec;
    char key[48];
    enum col_reduce reduce;
    double step;
    bool found; /* some run has it */
};

static int parse_col(const char *spec, struct table_col *col, struct dashi_error *err)
{
    static const struct {
        const char *suffix;
        enum col_reduce reduce;
    } reductions[] = {{".T", COL_LAST}, {".0", COL_FIRST}, {".min", COL_MIN}, {".max", COL_MAX}};
    memset(col, 0, sizeof *col);
    col->spec = spec;
    size_t len = spec ? strlen(spec) : 0, keylen = len;
    const char *at = spec ? strchr(spec, '@') : NULL;
    if (at) {
        char *end;
        col->reduce = COL_AT_STEP;
        col->step = strtod(at + 1, &end);
        keylen = (size_t)(at - spec);
        if (end == at + 1 || *end || col->step < 0)
            return dashi_fail(err, DASHI_E_BAD_VALUE, "col", "--col KEY@STEP needs a step >= 0, got %s", spec);
    }
    for (size_t i = 0; !at && i < sizeof reductions / sizeof reductions[0]; i++) {
        size_t sl = strlen(reductions[i].suffix);
        if (len > sl && strcmp(spec + len - sl, reductions[i].suffix) == 0) {
            col->reduce = reductions[i].reduce;
            keylen = len - sl;
        }
    }
    if (keylen == 0 || keylen >= sizeof col->key)
        return dashi_fail(err, DASHI_E_BAD_VALUE, "col",
                          "--col takes KEY, KEY.T, KEY.0, KEY.min, KEY.max or KEY@STEP, got %s", spec ? spec : "nothing");
    memcpy(col->key, spec, keylen);
    col->key[keylen] = '\0';
    return 0;
}

/* The runs of a table: a group's (list --group) or one job's record each. */
struct table_runs {
    msgpack_unpacked lists[CLI_MAX_POS];
    struct cmd_result records[CLI_MAX_POS];
    const msgpack_object **rows;
    size_t n;
};

static void pack_group_filter(msgpack_packer *pk, void *ctx)
{
    const char *word = ctx;
    msgpack_pack_map(pk, 2);
    pk_kv_i64(pk, "limit", DASHI_PAGE_JOBS);
    if (strncmp(word, "group:", 6) == 0) {
        pk_key(pk, "group");
        cli_pack_value(pk, word + 6);
    } else {
        pk_kv_str(pk, "group", word);
    }
}

static bool is_job_id(const char *w)
{
    return *w && strspn(w, "0123456789") == strlen(w);
}

static int add_row(struct table_runs *t, const msgpack_object *row, struct dashi_error *err)
{
    if (t->n == TABLE_MAX_RUNS)
        return dashi_fail(err, DASHI_E_TOO_LARGE, "id", "a table holds at most %d runs", TABLE_MAX_RUNS);
    t->rows[t->n++] = row;
    return 0;
}

/* A group's runs, oldest first (list gives them newest first). */
static int add_group(struct dashi_client *c, struct table_runs *t, int w, const char *word, struct dashi_error *err)
{
    const msgpack_object *result;
    if (client_call_all(c, "list", pack_group_filter, (void *)word, "jobs", 0, &t->lists[w], &result, err) != 0)
        return -1;
    const msgpack_object *jobs = map_get(result, "jobs");
    if (!jobs || jobs->type != MSGPACK_OBJECT_ARRAY || jobs->via.array.size == 0)
        return dashi_fail(err, DASHI_E_NOT_FOUND, "group", "no group %s (or it has no runs you may see)", word);
    for (uint32_t i = jobs->via.array.size; i-- > 0;)
        if (add_row(t, &jobs->via.array.ptr[i], err) != 0)
            return -1;
    return 0;
}

static int load_runs(struct dashi_client *c, const struct cli_opts *o, struct table_runs *t, struct dashi_error *err)
{
    t->rows = malloc(TABLE_MAX_RUNS * sizeof *t->rows);
    if (!t->rows)
        return dashi_fail(err, DASHI_E_INTERNAL, "", "out of memory");
    for (int w = 0; w < o->args.npos; w++) {
        int64_t id;
        int rc = is_job_id(o->pos[w])
                     ? (cmd_parse_id(o->pos[w], &id, err) || cmd_call_id(c, "show", id, NULL, &t->records[w], err) ||
                        add_row(t, t->records[w].obj, err))
                     : add_group(c, t, w, o->pos[w], err);
        if (rc != 0)
            return -1;
    }
    return 0;
}

static void free_runs(struct table_runs *t)
{
    for (int w = 0; w < CLI_MAX_POS; w++) {
        msgpack_unpacked_destroy(&t->lists[w]);
        cmd_result_free(&t->records[w]);
    }
    free(t->rows);
}

/* The value of col for the run of record rec: false when it has none. */
static bool col_value(struct dashi_client *c, const msgpack_object *rec, struct table_col *col, double *v,
                      struct dashi_error *err)
{
    if (col->reduce == COL_SUMMARY) {
        *v = obj_number(map_get(map_get(rec, "metrics"), col->key), NAN);
        return !isnan(*v);
    }
    struct cmd_series s = {0};
    bool have = false;
    if (cmd_fetch_series(c, obj_i64(map_get(rec, "id")), col->key, &s, err) == 0 && s.n > 0) {
        have = true;
        *v = col->reduce == COL_FIRST ? s.y[0] : s.y[s.n - 1];
        for (size_t i = 0; i < s.n; i++) {
            if (col->reduce == COL_MIN)
                *v = fmin(*v, s.y[i]);
            else if (col->reduce == COL_MAX)
                *v = fmax(*v, s.y[i]);
        }
        if (col->reduce == COL_AT_STEP) {
            have = false;
            for (size_t i = 0; i < s.n && !have; i++)
                if (s.x[i] == col->step) {
                    *v = s.y[i];
                    have = true;
                }
        }
    }
    free(s.x);
    free(s.y);
    return have;
}

struct table_layout {
    struct table_col cols[TABLE_MAX_COLS];
    int ncols;
    const msgpack_object *params[CMD_MAX_KEYS];
    size_t nparams;
};

/* The table as one document: {"columns": [...], "rows": [{column: value}, ...]}. */
static int pack_table(struct dashi_client *c, msgpack_packer *pk, const struct table_runs *t, struct table_layout *l,
                      struct dashi_error *err)
{
    msgpack_pack_map(pk, 2);
    pk_key(pk, "columns");
    msgpack_pack_array(pk, 3 + l->nparams + (size_t)l->ncols);
    pk_str(pk, "id");
    pk_str(pk, "name");
    pk_str(pk, "state");
    for (size_t k = 0; k < l->nparams; k++)
        msgpack_pack_object(pk, *l->params[k]);
    for (int k = 0; k < l->ncols; k++)
        pk_str(pk, l->cols[k].spec);
    pk_key(pk, "rows");
    msgpack_pack_array(pk, t->n);
    for (size_t r = 0; r < t->n; r++) {
        const msgpack_object *rec = t->rows[r], *params = map_get(rec, "params");
        msgpack_pack_map(pk, 3 + l->nparams + (size_t)l->ncols);
        pk_kv_i64(pk, "id", obj_i64(map_get(rec, "id")));
        const msgpack_object *fixed[] = {map_get(rec, "name"), map_get(rec, "state")};
        pk_key(pk, "name");
        msgpack_pack_object(pk, fixed[0] ? *fixed[0] : (msgpack_object){.type = MSGPACK_OBJECT_NIL});
        pk_key(pk, "state");
        msgpack_pack_object(pk, fixed[1] ? *fixed[1] : (msgpack_object){.type = MSGPACK_OBJECT_NIL});
        for (size_t k = 0; k < l->nparams; k++) {
            msgpack_pack_object(pk, *l->params[k]);
            const msgpack_object *v = NULL;
            for (uint32_t i = 0; params && params->type == MSGPACK_OBJECT_MAP && i < params->via.map.size; i++)
                if (msgpack_object_equal(params->via.map.ptr[i].key, *l->params[k]))
                    v = &params->via.map.ptr[i].val;
            msgpack_pack_object(pk, v ? *v : (msgpack_object){.type = MSGPACK_OBJECT_NIL});
        }
        for (int k = 0; k < l->ncols; k++) {
            double v;
            pk_key(pk, l->cols[k].spec);
            struct dashi_error ignored; /* a run without the metric (it failed, or another kind) has an empty cell */
            if (col_value(c, rec, &l->cols[k], &v, &ignored) && isfinite(v)) {
                msgpack_pack_double(pk, v);
                l->cols[k].found = true;
            } else {
                msgpack_pack_nil(pk);
            }
        }
    }
    for (int k = 0; k < l->ncols; k++)
        if (!l->cols[k].found)
            return dashi_fail(err, DASHI_E_NOT_FOUND, "col", "no run of the table has %s %s (see dashi metrics ID)",
                              l->cols[k].reduce == COL_SUMMARY ? "the summary metric" : "a metric series",
                              l->cols[k].key);
    return 0;
}

/* A cell as text: strings as they are, nil empty, anything else as JSON; for people
 * (short) a float with 6 significant digits, for CSV every digit that reads back. */
static char *cell_text(const msgpack_object *v, bool shorter)
{
    if (!v || v->type == MSGPACK_OBJECT_NIL)
        return strdup("");
    if (v->type == MSGPACK_OBJECT_STR)
        return strndup(v->via.str.ptr, v->via.str.size);
    char num[32];
    if (shorter && (v->type == MSGPACK_OBJECT_FLOAT64 || v->type == MSGPACK_OBJECT_FLOAT32)) {
        snprintf(num, sizeof num, "%.6g", v->via.f64);
        return strdup(num);
    }
    return json_string(v, -1);
}

static void print_csv_cell(const char *s)
{
    if (!strpbrk(s, ",\"\n\r")) {
        fputs(s, stdout);
        return;
    }
    putchar('"');
    for (; *s; s++) {
        if (*s == '"')
            putchar('"');
        putchar(*s);
    }
    putchar('"');
}

/* Text (aligned columns, "-" for empty cells) or CSV (RFC 4180). */
static void print_table(const msgpack_object *doc, bool csv)
{
    const msgpack_object *cols = map_get(doc, "columns"), *rows = map_get(doc, "rows");
    uint32_t nc = cols->via.array.size, nr = rows->via.array.size;
    char **cells = calloc((size_t)(nr + 1) * nc, sizeof *cells);
    size_t *width = calloc(nc, sizeof *width);
    if (!cells || !width) {
        free(cells);
        free(width);
        return;
    }
    for (uint32_t k = 0; k < nc; k++)
        cells[k] = cell_text(&cols->via.array.ptr[k], !csv);
    for (uint32_t r = 0; r < nr; r++)
        for (uint32_t k = 0; k < nc; k++) {
            char *s = cell_text(&rows->via.array.ptr[r].via.map.ptr[k].val, !csv);
            cells[(size_t)(r + 1) * nc + k] = s && (*s || csv) ? s : (free(s), strdup("-"));
        }
    for (size_t i = 0; i < (size_t)(nr + 1) * nc; i++)
        if (cells[i] && strlen(cells[i]) > width[i % nc])
            width[i % nc] = strlen(cells[i]);
    for (uint32_t r = 0; r <= nr; r++) {
        for (uint32_t k = 0; k < nc; k++) {
            const char *s = cells[(size_t)r * nc + k] ? cells[(size_t)r * nc + k] : "";
            if (csv) {
                if (k)
                    putchar(',');
                print_csv_cell(s);
            } else if (k + 1 < nc) {
                printf("%-*s  ", (int)width[k], s);
            } else {
                fputs(s, stdout);
            }
        }
        putchar('\n');
    }
    for (size_t i = 0; i < (size_t)(nr + 1) * nc; i++)
        free(cells[i]);
    free(cells);
    free(width);
}

static int parse_cols(const struct cli_opts *o, struct table_layout *l, struct dashi_error *err)
{
    l->ncols = 0;
    for (int i = 0; i < o->args.nopts; i++) {
        if (strcmp(o->names[i], "col") != 0)
            continue;
        if (l->ncols == TABLE_MAX_COLS)
            return dashi_fail(err, DASHI_E_TOO_LARGE, "col", "at most %d --col", TABLE_MAX_COLS);
        if (parse_col(o->values[i], &l->cols[l->ncols++], err) != 0)
            return -1;
    }
    return 0;
}

int cmd_table(struct dashi_client *c, struct cli_opts *o, struct dashi_error *err)
{
    if (o->args.npos < 1)
        return dashi_fail(err, DASHI_E_MISSING_FIELD, "id",
                          "usage: dashi table GROUP|ID... [--col KEY[.T|.0|.min|.max|@STEP]]... [--csv]");
    struct table_runs *t = calloc(1, sizeof *t);
    struct table_layout *l = calloc(1, sizeof *l);
    if (!t || !l) {
        free(t);
        free(l);
        return dashi_fail(err, DASHI_E_INTERNAL, "", "out of memory");
    }
    for (int w = 0; w < CLI_MAX_POS; w++) {
        msgpack_unpacked_init(&t->lists[w]);
        cmd_result_init(&t->records[w]);
    }
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    int rc = parse_cols(o, l, err) != 0 || load_runs(c, o, t, err) != 0 ? -1 : 0;
    if (rc == 0) {
        l->nparams = cmd_differing_params(t->rows, t->n, l->params, CMD_MAX_KEYS);
        rc = pack_table(c, &pk, t, l, err);
    }
    msgpack_unpacked doc;
    msgpack_unpacked_init(&doc);
    if (rc == 0 && msgpack_unpack_next(&doc, sb.data, sb.size, NULL) != MSGPACK_UNPACK_SUCCESS)
        rc = dashi_fail(err, DASHI_E_INTERNAL, "", "cannot unpack the table");
    if (rc == 0 && o->args.json)
        print_json(&doc.data);
    else if (rc == 0)
        print_table(&doc.data, cli_opt(o, "csv") != NULL);
    msgpack_unpacked_destroy(&doc);
    msgpack_sbuffer_destroy(&sb);
    free_runs(t);
    free(t);
    free(l);
    return rc;
}
