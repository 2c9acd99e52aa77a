/* SPDX-License-Identifier: MIT */
/* The SQLite store on a real database file in a temporary directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "schema.h"
#include "scratch_dir.h"
#include "store.h"

struct fixture {
    char dir[64];
    char path[128];
    struct store st;
};

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof *fx);
    if (!fx)
        return -1;
    if (scratch_dir_make(fx->dir, sizeof fx->dir, "store") != 0) {
        free(fx);
        return -1;
    }
    snprintf(fx->path, sizeof fx->path, "%s/dashid.db", fx->dir);
    struct dashi_error err = {0};
    if (store_open(&fx->st, fx->path, &err) < 0) {
        fprintf(stderr, "store_open: %s\n", err.message);
        free(fx);
        return -1;
    }
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    store_close(&fx->st);
    scratch_dir_remove(fx->dir);
    free(fx);
    return 0;
}

static int newest_migration(void)
{
    int v = 0;
    for (const struct schema_migration *m = schema_migrations; m->sql; m++)
        v = m->version > v ? m->version : v;
    return v;
}

static void pragma_text(struct store *st, const char *sql, char *out, size_t cap)
{
    sqlite3_stmt *s;
    assert_int_equal(sqlite3_prepare_v2(st->db, sql, -1, &s, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    snprintf(out, cap, "%s", (const char *)sqlite3_column_text(s, 0));
    sqlite3_finalize(s);
}

static struct job_row sample_job(const char *kind, uid_t uid, bool is_private, double at)
{
    struct job_row r = {.uid = uid, .priority = 3, .is_private = is_private, .submitted_at = at};
    snprintf(r.kind, sizeof r.kind, "%s", kind);
    snprintf(r.user, sizeof r.user, "user%u", (unsigned)uid);
    r.params_json = strdup("{\"steps\":300}");
    r.params_mp = malloc(4);
    memcpy(r.params_mp, "\x81\xa1s\x05", 4);
    r.params_mp_len = 4;
    snprintf(r.precision, sizeof r.precision, "f64");
    snprintf(r.mode, sizeof r.mode, "exact");
    r.total_steps = 300;
    r.mem_estimate = 1u << 20;
    return r;
}

static int64_t insert(struct store *st, const char *kind, uid_t uid, bool is_private, double at)
{
    struct job_row r = sample_job(kind, uid, is_private, at);
    struct dashi_error err = {0};
    assert_int_equal(store_job_insert(st, &r, &err), 0);
    job_row_free(&r);
    return r.id;
}

static void test_migrations_and_pragmas(void **state)
{
    struct fixture *fx = *state;
    assert_true(newest_migration() >= 1);
    assert_int_equal(store_schema_version(&fx->st), newest_migration());
    char mode[32];
    pragma_text(&fx->st, "PRAGMA journal_mode", mode, sizeof mode);
    assert_string_equal(mode, "wal");
    pragma_text(&fx->st, "PRAGMA foreign_keys", mode, sizeof mode);
    assert_string_equal(mode, "1");
    pragma_text(&fx->st, "PRAGMA synchronous", mode, sizeof mode);
    assert_string_equal(mode, "1"); /* NORMAL */

    /* reopening applies nothing twice and keeps the data */
    int64_t id = insert(&fx->st, "rollout", 1000, false, 10);
    store_close(&fx->st);
    struct dashi_error err = {0};
    assert_int_equal(store_open(&fx->st, fx->path, &err), 0);
    assert_int_equal(store_schema_version(&fx->st), newest_migration());
    struct job_row row;
    assert_int_equal(store_job_get(&fx->st, id, &row, &err), 0);
    assert_string_equal(row.kind, "rollout");
    job_row_free(&row);
}

static void test_newer_database_refused(void **state)
{
    struct fixture *fx = *state;
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA user_version = %d", newest_migration() + 1);
    assert_int_equal(sqlite3_exec(fx->st.db, sql, NULL, NULL, NULL), SQLITE_OK);
    store_close(&fx->st);
    struct dashi_error err = {0};
    assert_int_equal(store_open(&fx->st, fx->path, &err), -1);
    assert_int_equal(err.code, DASHI_E_DB);
    assert_non_null(strstr(err.message, "newer"));
    assert_null(fx->st.db);
    /* leave a usable store for teardown */
    snprintf(fx->path, sizeof fx->path, "%s/other.db", fx->dir);
    assert_int_equal(store_open(&fx->st, fx->path, &err), 0);
}

static void test_job_round_trip(void **state)
{
    struct fixture *fx = *state;
    struct job_row in = sample_job("les", 1234, true, 1700000000.5);
    in.priority = -7;
    snprintf(in.device, sizeof in.device, "NVIDIA H100");
    snprintf(in.driver, sizeof in.driver, "580.159");
    snprintf(in.precision, sizeof in.precision, "f32");
    snprintf(in.mode, sizeof in.mode, "reference");
    in.started_at = 1700000001.25;
    in.ended_at = 1700000002.75;
    in.step = 17;
    in.total_steps = 1ull << 40;
    in.gpu_seconds = 12.5;
    in.mem_estimate = 3ull << 33;
    snprintf(in.error_code, sizeof in.error_code, "E_DIVERGED");
    snprintf(in.error_field, sizeof in.error_field, "dt");
    snprintf(in.error_message, sizeof in.error_message, "non-finite at step 17");
    memset(in.checkpoint, 'a', DASHI_HASH_HEX);
    in.checkpoint_step = 16;
    struct dashi_error err = {0};
    assert_int_equal(store_job_insert(&fx->st, &in, &err), 0);
    assert_true(in.id > 0);
    assert_int_equal(in.state, JOB_QUEUED);

    struct job_row out;
    assert_int_equal(store_job_get(&fx->st, in.id, &out, &err), 0);
    assert_int_equal(out.id, in.id);
    assert_string_equal(out.kind, "les");
    assert_int_equal(out.state, JOB_QUEUED);
    assert_int_equal(out.uid, 1234);
    assert_string_equal(out.user, "user1234");
    assert_int_equal(out.priority, -7);
    assert_true(out.is_private);
    assert_string_equal(out.params_json, in.params_json);
    assert_int_equal(out.params_mp_len, 4);
    assert_memory_equal(out.params_mp, in.params_mp, 4);
    assert_true(out.submitted_at == in.submitted_at);
    assert_true(out.started_at == in.started_at);
    assert_true(out.ended_at == in.ended_at);
    assert_string_equal(out.device, in.device);
    assert_string_equal(out.driver, in.driver);
    assert_string_equal(out.precision, "f32");
    assert_string_equal(out.mode, "reference");
    assert_int_equal(out.step, 17);
    assert_int_equal(out.total_steps, 1ull << 40);
    assert_true(out.gpu_seconds == 12.5);
    assert_int_equal(out.mem_estimate, 3ull << 33);
    assert_string_equal(out.error_code, "E_DIVERGED");
    assert_string_equal(out.error_field, "dt");
    assert_string_equal(out.error_message, in.error_message);
    assert_string_equal(out.checkpoint, in.checkpoint);
    assert_int_equal(out.checkpoint_step, 16);
    job_row_free(&out);
    job_row_free(&in);

    /* an empty msgpack blob and unset times stay empty and zero */
    struct job_row bare = {.uid = 1, .submitted_at = 5};
    snprintf(bare.kind, sizeof bare.kind, "atoms");
    bare.params_json = strdup("{}");
    assert_int_equal(store_job_insert(&fx->st, &bare, &err), 0);
    assert_int_equal(store_job_get(&fx->st, bare.id, &out, &err), 0);
    assert_int_equal(out.params_mp_len, 0);
    assert_true(out.started_at == 0 && out.ended_at == 0);
    assert_string_equal(out.checkpoint, "");
    assert_string_equal(out.error_code, "");
    job_row_free(&out);
    job_row_free(&bare);

    assert_int_equal(store_job_get(&fx->st, 999999, &out, &err), -1);
    assert_int_equal(err.code, DASHI_E_NOT_FOUND);
}

struct events {
    int n;
    double at[8];
    char state[8][16];
    char detail[8][300];
};

static int collect_event(void *ctx, double at, const char *state, const char *detail)
{
    struct events *e = ctx;
    if (e->n < 8) {
        e->at[e->n] = at;
        snprintf(e->state[e->n], sizeof e->state[0], "%s", state);
        snprintf(e->detail[e->n], sizeof e->detail[0], "%s", detail ? detail : "");
    }
    e->n++;
    return 0;
}

static void test_state_transitions(void **state)
{
    struct fixture *fx = *state;
    int64_t id = insert(&fx->st, "rollout", 1000, false, 100);
    struct dashi_error err = {0};
    struct job_row row;

    assert_int_equal(store_job_set_state(&fx->st, id, JOB_RUNNING, 101, NULL, &err), 0);
    assert_int_equal(store_job_set_device(&fx->st, id, "llvmpipe", "Mesa 22.3.6", "f64", &err), 0);
    assert_int_equal(store_job_set_progress(&fx->st, id, 150, 300, 0.5, &err), 0);
    assert_int_equal(store_job_set_checkpoint(&fx->st, id,
                                              "1111111111111111111111111111111111111111111111111111111111111111",
                                              150, &err), 0);
    assert_int_equal(store_job_get(&fx->st, id, &row, &err), 0);
    assert_int_equal(row.state, JOB_RUNNING);
    assert_true(row.started_at == 101);
    assert_true(row.ended_at == 0);
    assert_string_equal(row.device, "llvmpipe");
    assert_string_equal(row.driver, "Mesa 22.3.6");
    assert_int_equal(row.step, 150);
    assert_true(row.gpu_seconds == 0.5);
    assert_int_equal(row.checkpoint_step, 150);
    job_row_free(&row);

    /* interrupted, resumed, then failed with an error */
    struct dashi_error why = {0};
    dashi_fail(&why, DASHI_E_INTERRUPTED, "", "daemon stopped");
    assert_int_equal(store_job_set_state(&fx->st, id, JOB_INTERRUPTED, 102, &why, &err), 0);
    assert_int_equal(store_job_get(&fx->st, id, &row, &err), 0);
    assert_true(row.ended_at == 102);
    assert_string_equal(row.error_code, "E_INTERRUPTED");
    job_row_free(&row);
    assert_int_equal(store_job_set_state(&fx->st, id, JOB_QUEUED, 103, NULL, &err), 0);
    assert_int_equal(store_job_set_state(&fx->st, id, JOB_RUNNING, 104, NULL, &err), 0);
    assert_int_equal(store_job_get(&fx->st, id, &row, &err), 0);
    assert_true(row.started_at == 104);
    assert_true(row.ended_at == 0);
    assert_string_equal(row.error_code, "");
    job_row_free(&row);

    dashi_fail(&why, DASHI_E_DIVERGED, "dt", "non-finite value at step 7");
    assert_int_equal(store_job_set_state(&fx->st, id, JOB_FAILED, 105, &why, &err), 0);
    assert_int_equal(store_job_get(&fx->st, id, &row, &err), 0);
    assert_int_equal(row.state, JOB_FAILED);
    assert_true(row.ended_at == 105);
    assert_string_equal(row.error_code, "E_DIVERGED");
    assert_string_equal(row.error_field, "dt");
    assert_string_equal(row.error_message, "non-finite value at step 7");
    job_row_free(&row);

    /* final is final */
    assert_int_equal(store_job_set_state(&fx->st, id, JOB_RUNNING, 106, NULL, &err), -1);
    assert_int_equal(err.code, DASHI_E_STATE);
    assert_int_equal(store_job_set_state(&fx->st, 424242, JOB_RUNNING, 106, NULL, &err), -1);
    assert_int_equal(err.code, DASHI_E_NOT_FOUND);
    assert_int_equal(store_job_set_progress(&fx->st, 424242, 1, 2, 0, &err), -1);
    assert_int_equal(err.code, DASHI_E_NOT_FOUND);

    struct events ev = {0};
    assert_int_equal(store_job_events(&fx->st, id, collect_event, &ev, &err), 0);
    assert_int_equal(ev.n, 6);
    static const char *const expect[] = {"queued", "running", "interrupted", "queued", "running", "failed"};
    for (int i = 0; i < 6; i++) {
        assert_string_equal(ev.state[i], expect[i]);
        assert_true(ev.at[i] == 100 + i);
    }
    assert_non_null(strstr(ev.detail[5], "E_DIVERGED"));
    assert_non_null(strstr(ev.detail[5], "step 7"));
    assert_string_equal(ev.detail[1], "");

    assert_true(job_state_is_final(JOB_FAILED));
    assert_false(job_state_is_final(JOB_INTERRUPTED));
    for (int s = 0; s < JOB_STATE_COUNT; s++)
        assert_int_equal(job_state_from_name(job_state_name((enum job_state)s)), s);
    assert_int_equal(job_state_from_name("bogus"), -1);
}

struct listing {
    int n;
    int64_t ids[64];
    int stop_after;
};

static int collect_job(void *ctx, const struct job_row *row)
{
    struct listing *l = ctx;
    l->ids[l->n++] = row->id;
    return l->stop_after && l->n >= l->stop_after;
}

static struct listing list(struct store *st, int state, const char *kind, int64_t uid, uid_t viewer, uint64_t limit)
{
    struct job_filter f = {.state = state, .kind = kind, .uid = uid, .viewer = viewer, .limit = limit};
    struct listing l = {0};
    struct dashi_error err = {0};
    assert_int_equal(store_job_list(st, &f, collect_job, &l, &err), 0);
    return l;
}

static void test_list_filters(void **state)
{
    struct fixture *fx = *state;
    int64_t a = insert(&fx->st, "les", 1000, false, 1);
    int64_t b = insert(&fx->st, "rollout", 1000, true, 2);  /* private to 1000 */
    int64_t c = insert(&fx->st, "rollout", 1001, false, 3);
    int64_t d = insert(&fx->st, "train", 1001, true, 4);    /* private to 1001 */
    struct dashi_error err = {0};
    assert_int_equal(store_job_set_state(&fx->st, c, JOB_RUNNING, 5, NULL, &err), 0);

    struct listing l = list(&fx->st, -1, NULL, -1, 0, 0); /* root sees all, newest first */
    assert_int_equal(l.n, 4);
    assert_true(l.ids[0] == d && l.ids[1] == c && l.ids[2] == b && l.ids[3] == a);

    l = list(&fx->st, -1, NULL, -1, 1000, 0);
    assert_int_equal(l.n, 3);
    assert_true(l.ids[0] == c && l.ids[1] == b && l.ids[2] == a);
    l = list(&fx->st, -1, NULL, -1, 1001, 0);
    assert_int_equal(l.n, 3);
    assert_true(l.ids[0] == d && l.ids[1] == c && l.ids[2] == a);
    l = list(&fx->st, -1, NULL, -1, 2000, 0);
    assert_int_equal(l.n, 2);
    l = list(&fx->st, -1, NULL, 1000, 1001, 0); /* 1000's jobs as 1001 sees them */
    assert_int_equal(l.n, 1);
    assert_true(l.ids[0] == a);

    l = list(&fx->st, -1, "rollout", -1, 0, 0);
    assert_int_equal(l.n, 2);
    l = list(&fx->st, JOB_RUNNING, NULL, -1, 0, 0);
    assert_int_equal(l.n, 1);
    assert_true(l.ids[0] == c);
    l = list(&fx->st, JOB_QUEUED, "rollout", 1000, 0, 0);
    assert_int_equal(l.n, 1);
    assert_true(l.ids[0] == b);
    l = list(&fx->st, -1, NULL, -1, 0, 2);
    assert_int_equal(l.n, 2);
    assert_true(l.ids[0] == d);

    struct job_filter f = {.state = -1, .uid = -1};
    struct listing stop = {.stop_after = 1};
    assert_int_equal(store_job_list(&fx->st, &f, collect_job, &stop, &err), 0);
    assert_int_equal(stop.n, 1);

    int64_t *ids;
    size_t n;
    assert_int_equal(store_jobs_in_state(&fx->st, JOB_QUEUED, &ids, &n, &err), 0);
    assert_int_equal(n, 3);
    assert_true(ids[0] == a && ids[1] == b && ids[2] == d);
    free(ids);
    assert_int_equal(store_jobs_in_state(&fx->st, JOB_SUCCEEDED, &ids, &n, &err), 0);
    assert_int_equal(n, 0);
    free(ids);
}

struct metric_sum {
    int n;
    int64_t last_step;
    char last_key[16];
    double sum;
    int nan;
    bool ordered;
};

static int collect_metric(void *ctx, const char *key, int64_t step, double value)
{
    struct metric_sum *m = ctx;
    int cmp = strcmp(key, m->last_key);
    if (m->n > 0 && (cmp < 0 || (cmp == 0 && step <= m->last_step)))
        m->ordered = false;
    snprintf(m->last_key, sizeof m->last_key, "%s", key);
    m->last_step = step;
    if (isnan(value))
        m->nan++;
    else
        m->sum += value;
    m->n++;
    return 0;
}

static int count_commit(void *ctx)
{
    ++*(int *)ctx;
    return 0; /* let it commit */
}

static void test_metrics_batch(void **state)
{
    struct fixture *fx = *state;
    int64_t id = insert(&fx->st, "les", 1000, false, 1);
    enum { N = 10000 };
    struct metric *m = calloc(N, sizeof *m);
    double expect_energy = 0;
    for (int i = 0; i < N; i++) {
        m[i].key = i % 2 ? "energy" : "enstrophy";
        m[i].step = i / 2;
        m[i].value = i * 0.5;
        if (i % 2)
            expect_energy += m[i].value;
    }
    struct dashi_error err = {0};
    struct timespec t0, t1;
    int commits = 0;
    sqlite3_commit_hook(fx->st.db, count_commit, &commits);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(store_metrics_add(&fx->st, id, m, N, &err), 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    sqlite3_commit_hook(fx->st.db, NULL, NULL);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
    assert_int_equal(commits, 1); /* the whole batch is one transaction */
    /* ~0.15 s under ASan here; the bound only catches something pathological */
    assert_true(secs < 10.0);

    struct metric_sum all = {.ordered = true};
    assert_int_equal(store_metrics(&fx->st, id, NULL, NULL, 1000000, collect_metric, &all, &err), 0);
    assert_int_equal(all.n, N);
    assert_true(all.ordered);
    struct metric_sum energy = {.ordered = true};
    assert_int_equal(store_metrics(&fx->st, id, "energy", NULL, 1000000, collect_metric, &energy, &err), 0);
    assert_int_equal(energy.n, N / 2);
    assert_true(energy.sum == expect_energy);

    /* replace, summary scalar, NaN */
    struct metric extra[3] = {{"energy", 0, 42.0}, {"rel_l2", -1, 0.25}, {"corr", 3, NAN}};
    assert_int_equal(store_metrics_add(&fx->st, id, extra, 3, &err), 0);
    energy = (struct metric_sum){.ordered = true};
    assert_int_equal(store_metrics(&fx->st, id, "energy", NULL, 1000000, collect_metric, &energy, &err), 0);
    assert_int_equal(energy.n, N / 2);
    assert_true(energy.sum == expect_energy - 0.5 + 42.0);
    struct metric_sum corr = {.ordered = true};
    assert_int_equal(store_metrics(&fx->st, id, "corr", NULL, 1000000, collect_metric, &corr, &err), 0);
    assert_int_equal(corr.n, 1);
    assert_int_equal(corr.nan, 1);
    struct metric_sum rel = {.ordered = true};
    assert_int_equal(store_metrics(&fx->st, id, "rel_l2", NULL, 1000000, collect_metric, &rel, &err), 0);
    assert_int_equal(rel.last_step, -1);

    /* a batch for a job that does not exist leaves nothing */
    assert_int_equal(store_metrics_add(&fx->st, 777777, m, 10, &err), -1);
    assert_int_equal(err.code, DASHI_E_NOT_FOUND);
    free(m);
}

struct hash_list {
    int n;
    struct zhash h[8];
};

static int collect_hash(void *ctx, const struct zhash *h)
{
    struct hash_list *l = ctx;
    if (l->n < 8)
        l->h[l->n] = *h;
    l->n++;
    return 0;
}

/* Keyset pages: each starts after the last row of the previous one, none repeats or skips
 * a row, and the last is short. */
static void test_hashes_paged(void **state)
{
    struct fixture *fx = *state;
    int64_t id = insert(&fx->st, "rollout", 1000, false, 1);
    struct zhash h[7];
    for (int i = 0; i < 7; i++) {
        h[i] = (struct zhash){.traj = (uint32_t)(i / 4), .step = (uint64_t)(100 - i)};
        snprintf(h[i].hex, sizeof h[i].hex, "%032x", i);
    }
    struct dashi_error err = {0};
    assert_int_equal(store_hashes_add(&fx->st, id, h, 7, &err), 0);
    struct zhash after, seen[7];
    int total = 0, pages = 0;
    for (const struct zhash *cur = NULL;; cur = &after) {
        struct hash_list l = {0};
        assert_int_equal(store_hashes(&fx->st, id, cur, 3, collect_hash, &l, &err), 0);
        assert_true(l.n <= 3 && total + l.n <= 7);
        for (int i = 0; i < l.n; i++)
            seen[total + i] = l.h[i];
        total += l.n;
        pages++;
        if (l.n < 3)
            break;
        after = l.h[l.n - 1];
    }
    assert_int_equal(total, 7);
    assert_int_equal(pages, 3);
    for (int i = 1; i < 7; i++)
        assert_true(seen[i - 1].traj < seen[i].traj || (seen[i - 1].traj == seen[i].traj && seen[i - 1].step < seen[i].step));

    struct metric m[5] = {{"b", 1, 1.0}, {"a", 2, 2.0}, {"a", -1, 3.0}, {"b", 0, 4.0}, {"a", 7, 5.0}};
    assert_int_equal(store_metrics_add(&fx->st, id, m, 5, &err), 0);
    struct metric_cursor mc = {"a", 2};
    struct metric_sum rest = {.ordered = true};
    assert_int_equal(store_metrics(&fx->st, id, NULL, &mc, 2, collect_metric, &rest, &err), 0);
    assert_int_equal(rest.n, 2); /* ("a", 7) then ("b", 0) */
    assert_true(rest.ordered);
    assert_string_equal(rest.last_key, "b");
    assert_int_equal(rest.last_step, 0);
    assert_true(rest.sum == 5.0 + 4.0);

    int64_t newer = insert(&fx->st, "rollout", 1000, false, 1);
    struct job_filter f = {.state = -1, .uid = -1, .viewer = 0, .limit = 100, .before_id = newer};
    struct listing l = {0};
    assert_int_equal(store_job_list(&fx->st, &f, collect_job, &l, &err), 0);
    assert_int_equal(l.n, 1);
    assert_int_equal(l.ids[0], id);
}

static void test_hashes(void **state)
{
    struct fixture *fx = *state;
    int64_t id = insert(&fx->st, "rollout", 1000, false, 1);
    struct zhash h[3] = {{1, 10, "4a327343ec85d1cc40eb22ae0db7bd9b"},
                         {0, 20, "33cea45f83903ec80cef4e51690d69da"},
                         {0, 10, "cae66941d9efbd404e4d88758ea67670"}};
    struct dashi_error err = {0};
    assert_int_equal(store_hashes_add(&fx->st, id, h, 3, &err), 0);
    struct hash_list l = {0};
    assert_int_equal(store_hashes(&fx->st, id, NULL, 1000000, collect_hash, &l, &err), 0);
    assert_int_equal(l.n, 3);
    assert_true(l.h[0].traj == 0 && l.h[0].step == 10);
    assert_string_equal(l.h[0].hex, h[2].hex);
    assert_true(l.h[1].traj == 0 && l.h[1].step == 20);
    assert_true(l.h[2].traj == 1 && l.h[2].step == 10);
    assert_string_equal(l.h[2].hex, h[0].hex);

    struct zhash bad = {0, 30, "XYZ"};
    assert_int_equal(store_hashes_add(&fx->st, id, &bad, 1, &err), -1);
}

struct blob_list {
    int n;
    char names[4][32];
    char hashes[4][65];
};

static int collect_blob(void *ctx, const char *name, const char *hash)
{
    struct blob_list *l = ctx;
    if (l->n < 4) {
        snprintf(l->names[l->n], sizeof l->names[0], "%s", name);
        snprintf(l->hashes[l->n], sizeof l->hashes[0], "%s", hash);
    }
    l->n++;
    return 0;
}

static void test_blob_records(void **state)
{
    struct fixture *fx = *state;
    struct blobstore bs;
    struct dashi_error err = {0};
    assert_int_equal(blobstore_open(&bs, fx->dir, &err), 0);
    float v[6] = {1, 2, 3, 4, 5, NAN};
    uint64_t shape[2] = {2, 3};
    struct blob_meta meta, got;
    assert_int_equal(blobstore_put_array(&bs, NPY_F4, 2, shape, v, &meta, &err), 0);
    assert_int_equal(store_blob_record(&fx->st, &meta, 1000, 50, &err), 0);
    assert_int_equal(store_blob_record(&fx->st, &meta, 1001, 60, &err), 0); /* same bytes again */
    assert_int_equal(store_blob_get(&fx->st, meta.hash, &got, &err), 0);
    assert_string_equal(got.hash, meta.hash);
    assert_int_equal(got.info.dtype, NPY_F4);
    assert_int_equal(got.info.ndim, 2);
    assert_int_equal(got.info.shape[0], 2);
    assert_int_equal(got.info.shape[1], 3);
    assert_int_equal(got.info.count, 6);
    assert_int_equal(got.info.nbytes, 24);
    assert_int_equal(got.info.header_len, meta.info.header_len);
    assert_int_equal(got.size, meta.size);
    assert_false(got.all_finite);

    double scalar = 1;
    assert_int_equal(blobstore_put_array(&bs, NPY_F8, 0, NULL, &scalar, &meta, &err), 0);
    assert_int_equal(store_blob_record(&fx->st, &meta, 0, 70, &err), 0);
    assert_int_equal(store_blob_get(&fx->st, meta.hash, &got, &err), 0);
    assert_int_equal(got.info.ndim, 0);
    assert_int_equal(got.info.count, 1);
    assert_true(got.all_finite);

    assert_int_equal(store_blob_get(&fx->st, "0000000000000000000000000000000000000000000000000000000000000000",
                                    &got, &err), -1);
    assert_int_equal(err.code, DASHI_E_NOT_FOUND);

    /* inputs and outputs of a job */
    int64_t id = insert(&fx->st, "rollout", 1000, false, 1);
    assert_int_equal(store_job_blob_add(&fx->st, id, "input", "z0", meta.hash, &err), 0);
    assert_int_equal(store_job_blob_add(&fx->st, id, "input", "A", got.hash, &err), 0);
    assert_int_equal(store_job_blob_add(&fx->st, id, "output", "z", meta.hash, &err), 0);
    assert_int_equal(store_job_blob_add(&fx->st, id, "other", "z", meta.hash, &err), -1);
    assert_int_equal(store_job_blob_add(&fx->st, 888888, "input", "z", meta.hash, &err), -1);
    assert_int_equal(err.code, DASHI_E_NOT_FOUND);
    struct blob_list l = {0};
    assert_int_equal(store_job_blobs(&fx->st, id, "input", collect_blob, &l, &err), 0);
    assert_int_equal(l.n, 2);
    assert_string_equal(l.names[0], "A");
    assert_string_equal(l.names[1], "z0");
    assert_string_equal(l.hashes[1], meta.hash);
    l = (struct blob_list){0};
    assert_int_equal(store_job_blobs(&fx->st, id, "output", collect_blob, &l, &err), 0);
    assert_int_equal(l.n, 1);
}

struct txn_ctx {
    struct store *st;
    int64_t id;
    bool fail;
};

static int txn_body(void *ctx, struct dashi_error *err)
{
    struct txn_ctx *t = ctx;
    struct job_row r = sample_job("decode", 1000, false, 9);
    int rc = store_job_insert(t->st, &r, err); /* nests inside the outer transaction */
    t->id = r.id;
    job_row_free(&r);
    if (rc < 0)
        return -1;
    struct metric m = {"x", 0, 1.0};
    if (store_metrics_add(t->st, t->id, &m, 1, err) < 0)
        return -1;
    return t->fail ? dashi_fail(err, DASHI_E_INTERNAL, "", "deliberate") : 0;
}

static void test_transaction(void **state)
{
    struct fixture *fx = *state;
    struct dashi_error err = {0};
    struct txn_ctx ok = {.st = &fx->st};
    assert_int_equal(store_transaction(&fx->st, txn_body, &ok, &err), 0);
    struct job_row row;
    assert_int_equal(store_job_get(&fx->st, ok.id, &row, &err), 0);
    job_row_free(&row);

    struct txn_ctx bad = {.st = &fx->st, .fail = true};
    assert_int_equal(store_transaction(&fx->st, txn_body, &bad, &err), -1);
    assert_int_equal(store_job_get(&fx->st, bad.id, &row, &err), -1);
    assert_int_equal(err.code, DASHI_E_NOT_FOUND);
    struct metric_sum none = {.ordered = true};
    assert_int_equal(store_metrics(&fx->st, bad.id, NULL, NULL, 1000000, collect_metric, &none, &err), 0);
    assert_int_equal(none.n, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_migrations_and_pragmas, setup, teardown),
        cmocka_unit_test_setup_teardown(test_newer_database_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_job_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_state_transitions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_filters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_metrics_batch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hashes_paged, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hashes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_blob_records, setup, teardown),
        cmocka_unit_test_setup_teardown(test_transaction, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
