/* SPDX-License-Identifier: MIT */
/* The kinds' parameter tables (job_params.h) and the input-blob check (job_refs.c),
 * through the job-kind interface over a real SQLite store. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "job.h"
#include "scratch_dir.h"
#include "store.h"

#define SOME_HASH "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

struct fixture {
    char dir[96], path[128];
    struct store st;
    struct job_submit_ctx ctx;
    msgpack_sbuffer sb;
    msgpack_zone zone;
};

static int setup(void **state)
{
    static struct fixture fx;
    memset(&fx, 0, sizeof fx);
    struct dashi_error err;
    if (scratch_dir_make(fx.dir, sizeof fx.dir, "params") != 0)
        return -1;
    snprintf(fx.path, sizeof fx.path, "%s/dashid.db", fx.dir);
    if (store_open(&fx.st, fx.path, &err) != 0) {
        fprintf(stderr, "store_open: %s\n", err.message);
        return -1;
    }
    fx.ctx = (struct job_submit_ctx){.store = &fx.st, .uid = 1000};
    msgpack_sbuffer_init(&fx.sb);
    msgpack_zone_init(&fx.zone, 4096);
    *state = &fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    store_close(&fx->st);
    msgpack_sbuffer_destroy(&fx->sb);
    msgpack_zone_destroy(&fx->zone);
    scratch_dir_remove(fx->dir);
    return 0;
}

/* What the fixture's buffer holds, as an object living in its zone. */
static msgpack_object unpack(struct fixture *fx)
{
    msgpack_object o;
    assert_int_equal(msgpack_unpack(fx->sb.data, fx->sb.size, NULL, &fx->zone, &o), MSGPACK_UNPACK_SUCCESS);
    return o;
}

static int validate(struct fixture *fx, const char *kind, const msgpack_object *args, void **params,
                    struct dashi_error *err)
{
    struct job_plan plan;
    memset(&plan, 0, sizeof plan);
    *params = NULL;
    return job_kind_find(kind)->validate(&fx->ctx, args, params, &plan, err);
}

static void pack_rollout_args(struct fixture *fx)
{
    msgpack_packer pk;
    msgpack_sbuffer_clear(&fx->sb);
    msgpack_packer_init(&pk, &fx->sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 3);
    pk_kv_str(&pk, "op", SOME_HASH);
    pk_kv_str(&pk, "z0", SOME_HASH);
    pk_kv_u64(&pk, "steps", 1);
}

/* A blob that is not there is E_NOT_FOUND naming the argument. */
static void test_missing_blob_is_not_found(void **state)
{
    struct fixture *fx = *state;
    pack_rollout_args(fx);
    msgpack_object args = unpack(fx);
    void *params;
    struct dashi_error err;
    assert_int_equal(validate(fx, "rollout", &args, &params, &err), -1);
    assert_string_equal(dashi_code_name(err.code), "E_NOT_FOUND");
    assert_string_equal(err.field, "op");
}

/* A database error while looking the blob up is the store's own error (E_DB), not a
 * claim that the blob does not exist. The blobs table is moved away by a second
 * connection, so the store's next lookup fails in SQLite. */
static void test_store_error_passes_through(void **state)
{
    struct fixture *fx = *state;
    sqlite3 *db;
    assert_int_equal(sqlite3_open(fx->path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "ALTER TABLE blobs RENAME TO blobs_moved", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    pack_rollout_args(fx);
    msgpack_object args = unpack(fx);
    void *params;
    struct dashi_error err;
    assert_int_equal(validate(fx, "rollout", &args, &params, &err), -1);
    printf("rollout with the blobs table gone: %s field=%s: %s\n", dashi_code_name(err.code), err.field, err.message);
    assert_string_equal(dashi_code_name(err.code), "E_DB");
    assert_string_equal(err.field, "op");
}

/* Packed parameters hold every default, and validating them again packs the same bytes
 * (what a resume and a dependency's revalidation rely on). */
static void test_les_params_round_trip(void **state)
{
    struct fixture *fx = *state;
    const struct job_kind *les = job_kind_find("les");
    msgpack_object empty = {.type = MSGPACK_OBJECT_MAP};
    void *params;
    struct dashi_error err;
    assert_int_equal(validate(fx, "les", &empty, &params, &err), 0);
    msgpack_packer pk;
    msgpack_sbuffer_clear(&fx->sb);
    msgpack_packer_init(&pk, &fx->sb, msgpack_sbuffer_write);
    les->pack_params(params, &pk);
    les->free_params(params);
    msgpack_object packed = unpack(fx);
    uint64_t n, steps;
    double dt;
    assert_int_equal(arg_u64(&packed, "N", true, 0, 0, UINT64_MAX, &n, &err), 0);
    assert_int_equal(arg_u64(&packed, "steps", true, 0, 0, UINT64_MAX, &steps, &err), 0);
    assert_int_equal(arg_f64(&packed, "dt", true, 0, 0, 1, &dt, &err), 0);
    assert_int_equal(n, 64);
    assert_int_equal(steps, 300);
    assert_true(dt == 0.01);
    assert_null(args_find(&packed, "ic")); /* seed and ic exclude each other: only seed is stored */
    assert_non_null(args_find(&packed, "seed"));

    size_t first_len = fx->sb.size;
    char first[1024];
    assert_true(first_len <= sizeof first);
    memcpy(first, fx->sb.data, first_len);
    assert_int_equal(validate(fx, "les", &packed, &params, &err), 0);
    msgpack_sbuffer_clear(&fx->sb);
    les->pack_params(params, &pk);
    les->free_params(params);
    assert_int_equal(fx->sb.size, first_len);
    assert_memory_equal(fx->sb.data, first, first_len);
}

/* kind with {key: value} (and `from` for atoms: its required input) is refused. */
static void expect_refused(struct fixture *fx, const char *kind, const char *key, int64_t value, const char *code,
                           const char *field)
{
    bool atoms = strcmp(kind, "atoms") == 0;
    msgpack_packer pk;
    msgpack_sbuffer_clear(&fx->sb);
    msgpack_packer_init(&pk, &fx->sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, atoms ? 2 : 1);
    if (atoms)
        pk_kv_str(&pk, "from", SOME_HASH);
    pk_kv_i64(&pk, key, value); /* an integer: what integer and number arguments both take */
    msgpack_object args = unpack(fx);
    void *params;
    struct dashi_error err;
    assert_int_equal(validate(fx, kind, &args, &params, &err), -1);
    assert_string_equal(dashi_code_name(err.code), code);
    assert_string_equal(err.field, field);
}

/* Bounds come from the tables, exclusive minimums included; a track job refuses an
 * evolve-only argument naming the mode, before looking at its input. */
static void test_table_bounds_and_modes(void **state)
{
    struct fixture *fx = *state;
    expect_refused(fx, "les", "dt", 0, "E_BAD_VALUE", "dt");
    expect_refused(fx, "les", "steps", 0, "E_BAD_VALUE", "steps");
    expect_refused(fx, "les", "bogus", 1, "E_UNKNOWN_FIELD", "bogus");
    expect_refused(fx, "atoms", "steps", 3, "E_BAD_VALUE", "steps");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_missing_blob_is_not_found, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_error_passes_through, setup, teardown),
        cmocka_unit_test_setup_teardown(test_les_params_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_table_bounds_and_modes, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
