/* SPDX-License-Identifier: MIT */
/* The les job kind's validation: defaults, every rejected field named, ic blobs checked
 * through a real store and blob store in a temporary directory, memory against lavapipe. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blobstore.h"
#include "job.h"
#include "store.h"
#include "vk.h"

extern const struct job_kind job_kind_les;

struct fixture {
    char dir[64];
    struct store store;
    struct blobstore blobs;
    struct vk_runtime vk;
    struct job_submit_ctx ctx;
    char ic64[DASHI_HASH_HEX + 1];
};

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof *fx);
    struct dashi_error err = {0};
    snprintf(fx->dir, sizeof fx->dir, "/tmp/dashi-lesjob-XXXXXX");
    char db[128];
    if (!mkdtemp(fx->dir))
        return -1;
    snprintf(db, sizeof db, "%s/state.db", fx->dir);
    if (store_open(&fx->store, db, &err) || blobstore_open(&fx->blobs, fx->dir, &err) ||
        vk_runtime_open(&fx->vk, "lavapipe", NULL, &err)) {
        fprintf(stderr, "setup: %s\n", err.message);
        return -1;
    }
    static double field[64 * 64];
    for (int i = 0; i < 64 * 64; i++)
        field[i] = sin(0.1 * i);
    uint64_t shape[2] = {64, 64};
    struct blob_meta meta;
    if (blobstore_put_array(&fx->blobs, NPY_F8, 2, shape, field, &meta, &err) ||
        store_blob_record(&fx->store, &meta, 0, 0.0, &err))
        return -1;
    snprintf(fx->ic64, sizeof fx->ic64, "%s", meta.hash);
    fx->ctx = (struct job_submit_ctx){.store = &fx->store, .blobs = &fx->blobs, .vk = &fx->vk, .uid = 0};
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    store_close(&fx->store);
    vk_runtime_close(&fx->vk);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", fx->dir);
    int rc = system(cmd);
    free(fx);
    return rc == 0 ? 0 : -1;
}

/* Packs a map from "key", type, value triples: 'u' uint64, 'f' double, 's' string, 'b' bool. */
static int validate(struct fixture *fx, struct dashi_error *err, struct job_plan *plan, const char *spec, ...)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    va_list ap;
    va_start(ap, spec);
    msgpack_pack_map(&pk, strlen(spec));
    for (const char *t = spec; *t; t++) {
        const char *key = va_arg(ap, const char *);
        msgpack_pack_str(&pk, strlen(key));
        msgpack_pack_str_body(&pk, key, strlen(key));
        if (*t == 'u')
            msgpack_pack_uint64(&pk, va_arg(ap, uint64_t));
        else if (*t == 'f')
            msgpack_pack_double(&pk, va_arg(ap, double));
        else if (*t == 'b')
            va_arg(ap, int) ? msgpack_pack_true(&pk) : msgpack_pack_false(&pk);
        else {
            const char *s = va_arg(ap, const char *);
            msgpack_pack_str(&pk, strlen(s));
            msgpack_pack_str_body(&pk, s, strlen(s));
        }
    }
    va_end(ap);
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    assert_int_equal(msgpack_unpack_next(&u, sb.data, sb.size, NULL), MSGPACK_UNPACK_SUCCESS);
    void *params = NULL;
    memset(plan, 0, sizeof *plan);
    int rc = job_kind_les.validate(&fx->ctx, &u.data, &params, plan, err);
    if (rc == 0) {
        /* the resolved parameters re-validate (what resume does) */
        msgpack_sbuffer sb2;
        msgpack_sbuffer_init(&sb2);
        msgpack_packer pk2;
        msgpack_packer_init(&pk2, &sb2, msgpack_sbuffer_write);
        job_kind_les.pack_params(params, &pk2);
        msgpack_unpacked u2;
        msgpack_unpacked_init(&u2);
        assert_int_equal(msgpack_unpack_next(&u2, sb2.data, sb2.size, NULL), MSGPACK_UNPACK_SUCCESS);
        void *again = NULL;
        struct job_plan plan2;
        struct dashi_error err2 = {0};
        assert_int_equal(job_kind_les.validate(&fx->ctx, &u2.data, &again, &plan2, &err2), 0);
        assert_int_equal(plan2.mem_estimate, plan->mem_estimate);
        job_kind_les.free_params(again);
        msgpack_unpacked_destroy(&u2);
        msgpack_sbuffer_destroy(&sb2);
        job_kind_les.free_params(params);
    }
    msgpack_unpacked_destroy(&u);
    msgpack_sbuffer_destroy(&sb);
    return rc;
}

static void test_defaults(void **state)
{
    struct fixture *fx = *state;
    struct dashi_error err = {0};
    struct job_plan plan;
    assert_int_equal(validate(fx, &err, &plan, ""), 0);
    assert_int_equal(plan.total_steps, 300);
    assert_string_equal(plan.precision, "f64");
    assert_string_equal(plan.mode, "dashi");
    assert_true(plan.mem_estimate > 0);
    assert_int_equal(validate(fx, &err, &plan, "us", "N", (uint64_t)128, "precision", "f32"), 0);
    assert_string_equal(plan.precision, "f32");
}

static void test_rejections_name_the_field(void **state)
{
    struct fixture *fx = *state;
    struct dashi_error err = {0};
    struct job_plan plan;
    assert_int_equal(validate(fx, &err, &plan, "u", "N", (uint64_t)63), -1);
    assert_string_equal(err.field, "N");
    assert_int_equal(validate(fx, &err, &plan, "f", "dt", NAN), -1);
    assert_string_equal(err.field, "dt");
    assert_int_equal(validate(fx, &err, &plan, "f", "dt", 0.0), -1);
    assert_string_equal(err.field, "dt");
    assert_int_equal(validate(fx, &err, &plan, "u", "steps", (uint64_t)0), -1);
    assert_string_equal(err.field, "steps");
    assert_int_equal(validate(fx, &err, &plan, "u", "bogus", (uint64_t)1), -1);
    assert_int_equal(err.code, DASHI_E_UNKNOWN_FIELD);
    assert_int_equal(validate(fx, &err, &plan, "bs", "dealias", 1, "mode", "reference"), -1);
    assert_string_equal(err.field, "dealias");
    assert_int_equal(validate(fx, &err, &plan, "u", "N", (uint64_t)65536), -1); /* trajectory size */
    assert_int_equal(err.code, DASHI_E_TOO_LARGE);
    assert_string_equal(err.field, "save_every");
    assert_int_equal(validate(fx, &err, &plan, "uu", "N", (uint64_t)65536, "save_every", (uint64_t)0), -1);
    assert_int_equal(err.code, DASHI_E_DEVICE_MEMORY);
    assert_string_equal(err.field, "N");
    assert_int_equal(validate(fx, &err, &plan, "uu", "steps", (uint64_t)10, "save_every", (uint64_t)11), -1);
    assert_string_equal(err.field, "save_every");
}

static void test_ic_blob(void **state)
{
    struct fixture *fx = *state;
    struct dashi_error err = {0};
    struct job_plan plan;
    assert_int_equal(validate(fx, &err, &plan, "s", "ic", fx->ic64), 0);
    assert_int_equal(plan.ninputs, 1);
    assert_string_equal(plan.inputs[0].hash, fx->ic64);
    assert_int_equal(validate(fx, &err, &plan, "su", "ic", fx->ic64, "N", (uint64_t)32), -1);
    assert_string_equal(err.field, "ic");
    assert_int_equal(validate(fx, &err, &plan, "su", "ic", fx->ic64, "seed", (uint64_t)3), -1);
    assert_string_equal(err.field, "ic");
    char missing[DASHI_HASH_HEX + 1];
    memset(missing, 'a', DASHI_HASH_HEX);
    missing[DASHI_HASH_HEX] = 0;
    assert_int_equal(validate(fx, &err, &plan, "s", "ic", missing), -1);
    assert_int_equal(err.code, DASHI_E_NOT_FOUND);
    assert_string_equal(err.field, "ic");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_rejections_name_the_field),
        cmocka_unit_test(test_ic_blob),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
