/* SPDX-License-Identifier: MIT */
/* The fair-share scheduler weighed by per-user shares from the configuration, and the
 * configuration's limit and share keys. Real scheduler and config code; no GPU. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "scheduler.h"
#include "thread_claim.h"

static const struct job_kind test_kind = {.name = "test"};

static uint32_t split_units_of(const void *params)
{
    return *(const uint32_t *)params;
}

static void free_units(void *params)
{
    free(params);
}

/* A kind whose jobs split into the units their params hold (a uint32_t, malloc'd). */
static const struct job_kind split_kind = {.name = "split", .split_units = split_units_of,
                                           .free_params = free_units};

static struct sched_job *new_job(int64_t id, uid_t uid, int priority)
{
    struct sched_job *j = calloc(1, sizeof *j);
    assert_non_null(j);
    j->id = id;
    j->kind = &test_kind;
    j->uid = uid;
    j->priority = priority;
    j->plan.mem_estimate = 1;
    return j;
}

/* Writes text to a temporary config file and loads it over the defaults. */
static int load_config(struct daemon_config *cfg, const char *text, struct dashi_error *err)
{
    char path[] = "/tmp/dashi-test-config-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    config_defaults(cfg);
    int rc = config_load_file(cfg, path, err);
    unlink(path);
    return rc;
}

/* User 1000 used 3 s, user 2000 2 s. Equal shares: 2000 goes next; with share 2, user
 * 1000's weighed usage is 1.5 s and it goes next. */
static void test_share_weighs_usage(void **state)
{
    (void)state;
    struct daemon_config cfg;
    struct dashi_error err = {0};
    assert_int_equal(load_config(&cfg, "share.1000 = 2\n", &err), 0);
    for (int with_share = 0; with_share < 2; with_share++) {
        struct scheduler s;
        assert_int_equal(scheduler_init(&s, 1 << 20, 1e9), 0);
        s.cfg = with_share ? &cfg : NULL;
        struct sched_job *a = new_job(1, 1000, 0), *b = new_job(2, 2000, 0);
        scheduler_add(&s, a);
        scheduler_add(&s, b);
        double now = now_seconds();
        scheduler_charge(&s, a, 3.0, now);
        scheduler_charge(&s, b, 2.0, now);
        struct sched_job *next = scheduler_next(&s, 0);
        assert_ptr_equal(next, with_share ? a : b);
        scheduler_destroy(&s);
    }
}

/* Usage decides before priority: a user who has used less goes first even with a lower
 * priority job; within one user, priority, then the least GPU time. */
static void test_order_usage_priority_gpu_time(void **state)
{
    (void)state;
    struct scheduler s;
    assert_int_equal(scheduler_init(&s, 1 << 20, 1e9), 0);
    struct sched_job *busy = new_job(1, 1000, 10), *light = new_job(2, 2000, -10);
    scheduler_add(&s, busy);
    scheduler_add(&s, light);
    double now = now_seconds();
    scheduler_charge(&s, busy, 5.0, now);
    assert_ptr_equal(scheduler_next(&s, 0), light);
    struct sched_job *hi = new_job(3, 2000, 5);
    scheduler_add(&s, hi);
    assert_ptr_equal(scheduler_next(&s, 0), hi);
    hi->priority = -10;   /* now equal priority with `light`: less GPU time goes first */
    hi->gpu_seconds = 1.0;
    assert_ptr_equal(scheduler_next(&s, 0), light);
    scheduler_destroy(&s);
}

static void test_config_limits(void **state)
{
    (void)state;
    struct daemon_config cfg;
    struct dashi_error err = {0};
    assert_int_equal(load_config(&cfg,
                                 "max_steps = 1000\n"
                                 "max_gpu_memory = 1GiB\n"
                                 "max_queued_jobs = 7\n"
                                 "limit.root.max_steps = 5 # root's own\n"
                                 "limit.65534.max_gpu_memory = 2M\n"
                                 "share.65534 = 0.5\n"
                                 "checkpoint_every_s = 2.5\n"
                                 "device_memory_budget = 3K\n",
                                 &err),
                     0);
    struct user_limits root = config_user_limits(&cfg, 0), nobody = config_user_limits(&cfg, 65534),
                       other = config_user_limits(&cfg, 4242);
    assert_int_equal(root.max_steps, 5);
    assert_int_equal(root.max_gpu_memory, 1ull << 30);
    assert_int_equal(root.max_queued_jobs, 7);
    assert_true(root.share == 1.0);
    assert_int_equal(nobody.max_steps, 1000);
    assert_int_equal(nobody.max_gpu_memory, 2ull << 20);
    assert_true(nobody.share == 0.5);
    assert_int_equal(other.max_steps, 1000);
    assert_int_equal(other.max_gpu_memory, 1ull << 30);
    assert_true(cfg.checkpoint_every_s == 2.5);
    assert_int_equal(cfg.device_memory_budget, 3072);
}

static void test_config_rejects_bad_limits(void **state)
{
    (void)state;
    static const char *const bad[][2] = {
        {"limit.root.max_bogus = 3\n", "limit.root.max_bogus"},
        {"limit.no_such_user_q9.max_steps = 3\n", "limit.no_such_user_q9.max_steps"},
        {"share.root = 0\n", "share.root"},
        {"share.root = -1\n", "share.root"},
        {"max_gpu_memory = 12X\n", "max_gpu_memory"},
        {"max_steps = 0\n", "max_steps"},
        {"limit..max_steps = 1\n", "limit..max_steps"},
        {"checkpoint_every_s = nan\n", "checkpoint_every_s"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct daemon_config cfg;
        struct dashi_error err = {0};
        assert_int_equal(load_config(&cfg, bad[i][0], &err), -1);
        assert_string_equal(err.field, "config");
        if (!strstr(err.message, bad[i][1]))
            fail_msg("message for '%s' should name the key: %s", bad[i][0], err.message);
    }
}

static void next_job(void *s)
{
    (void)scheduler_next(s, 0);
}

/* The reason scheduler_reason reports for job id ("" when it ran); the job must be active. */
static const char *reason_of(struct scheduler *s, int64_t id, char out[SCHED_REASON_MAX])
{
    bool started;
    assert_true(scheduler_reason(s, id, out, SCHED_REASON_MAX, &started));
    return out;
}

/* Each pass records why it passed a job over, from the same tests that chose the job that
 * ran: a dependency, the device-memory budget, fair share, priority, order. */
static void test_pass_over_reasons(void **state)
{
    (void)state;
    char r[SCHED_REASON_MAX];
    struct scheduler s;
    assert_int_equal(scheduler_init(&s, 100u << 20, 1e9), 0);
    struct sched_job *busy = new_job(1, 1000, 0), *light = new_job(2, 2000, 0);
    struct sched_job *dep = new_job(3, 2000, 0), *big = new_job(4, 2000, 0);
    dep->plan.ndeps = 1;
    dep->plan.deps[0] = 2;
    dep->waiting = true;
    light->plan.mem_estimate = 10u << 20;
    big->plan.mem_estimate = 95u << 20; /* fits the budget alone, not beside `light` once it started */
    scheduler_add(&s, busy);
    scheduler_add(&s, light);
    scheduler_add(&s, dep);
    assert_string_equal(reason_of(&s, 3, r), "waiting for job 2"); /* known at once */
    scheduler_charge(&s, busy, 5.0, now_seconds());
    assert_ptr_equal(scheduler_next(&s, 0), light);
    assert_string_equal(reason_of(&s, 1, r), "fair share: uid 2000 first");
    assert_string_equal(reason_of(&s, 2, r), "");
    assert_string_equal(reason_of(&s, 3, r), "waiting for job 2");
    scheduler_add(&s, big);
    assert_string_equal(reason_of(&s, 4, r), ""); /* not considered yet */
    assert_ptr_equal(scheduler_next(&s, 0), light);
    assert_string_equal(reason_of(&s, 4, r), "device memory (needs 95.0 MiB, 90.0 of 100.0 MiB free)");
    struct sched_job *hi = new_job(5, 2000, 5), *same = new_job(6, 2000, 0);
    scheduler_add(&s, hi);
    scheduler_add(&s, same);
    assert_ptr_equal(scheduler_next(&s, 0), hi);
    assert_string_equal(reason_of(&s, 6, r), "priority: job 5 first");
    hi->priority = 0; /* equal priority, equal GPU time: the older started job goes first */
    assert_ptr_equal(scheduler_next(&s, 0), light);
    assert_string_equal(reason_of(&s, 6, r), "behind job 2");
    assert_string_equal(reason_of(&s, 5, r), ""); /* started: running, not queued */
    scheduler_destroy(&s);
}

/* The pool: a pinned job is taken only by its device (the others say why they pass it
 * over); a device that runs a job leaves a new one to an idle device; a job whose
 * producer ran on a device waits for that device. */
static void test_pool_placement(void **state)
{
    (void)state;
    char r[SCHED_REASON_MAX];
    struct scheduler s;
    assert_int_equal(scheduler_init(&s, 1u << 20, 1e9), 0);
    assert_int_equal(scheduler_add_device(&s, 1u << 20, NULL, NULL), 1);
    struct sched_job *pinned = new_job(1, 1000, 0), *free_job = new_job(2, 1000, 0);
    pinned->pin = 2; /* device 1 */
    scheduler_add(&s, pinned);
    scheduler_add(&s, free_job);
    assert_ptr_equal(scheduler_next(&s, 0), free_job);
    assert_string_equal(reason_of(&s, 1, r), "waiting for device 1 (pinned)");
    assert_ptr_equal(scheduler_next(&s, 1), pinned);
    assert_int_equal(free_job->device, 0);
    assert_int_equal(pinned->device, 1);
    scheduler_destroy(&s);

    assert_int_equal(scheduler_init(&s, 1u << 20, 1e9), 0);
    assert_int_equal(scheduler_add_device(&s, 1u << 20, NULL, NULL), 1);
    struct sched_job *x = new_job(1, 1000, 0), *y = new_job(2, 1000, 0), *z = new_job(3, 1000, 0);
    z->plan.ndeps = 1;
    z->plan.deps[0] = 1;
    z->waiting = true;
    scheduler_add(&s, x);
    scheduler_add(&s, y);
    scheduler_add(&s, z);
    assert_ptr_equal(scheduler_next(&s, 0), x);
    assert_ptr_equal(scheduler_next(&s, 0), x); /* y is left to idle device 1 */
    assert_ptr_equal(scheduler_next(&s, 1), y);
    scheduler_remove(&s, x); /* x ended on device 0: z, its consumer, goes there */
    assert_int_equal(z->affinity, 1);
    z->waiting = false;
    assert_ptr_equal(scheduler_next(&s, 1), y);
    assert_string_equal(reason_of(&s, 3, r), "waiting for device 0 (its inputs are there)");
    assert_ptr_equal(scheduler_next(&s, 0), z);
    scheduler_destroy(&s);
}

/* Part ranges: contiguous, in order, covering every unit once, sizes within one. */
static void test_split_ranges(void **state)
{
    (void)state;
    static const uint32_t units[] = {2, 3, 7, 512, 513, 65536};
    for (size_t u = 0; u < sizeof units / sizeof units[0]; u++)
        for (int n = 1; n <= 16 && (uint32_t)n <= units[u]; n++) {
            uint32_t next = 0, least = UINT32_MAX, most = 0;
            for (int k = 0; k < n; k++) {
                uint32_t first, count;
                sched_split_range(units[u], n, k, &first, &count);
                assert_int_equal(first, next);
                next = first + count;
                least = count < least ? count : least;
                most = count > most ? count : most;
            }
            assert_int_equal(next, units[u]);
            assert_true(least >= 1 && most - least <= 1);
        }
    uint32_t first, count;
    sched_split_range(7, 3, 2, &first, &count); /* 3 + 2 + 2 */
    assert_int_equal(first, 5);
    assert_int_equal(count, 2);
}

static struct sched_job *new_split_job(int64_t id, uint32_t units)
{
    struct sched_job *j = new_job(id, 1000, 0);
    j->kind = &split_kind;
    uint32_t *p = malloc(sizeof *p);
    assert_non_null(p);
    *p = units;
    j->params = p;
    return j;
}

/* A job that splits, started while the other devices are idle, runs as one part per
 * device (the others' parts started there), counted once against its user's queue; a
 * busy device, a pin, one unit or no room leave it whole. The job's outcome is its first
 * part's that did not succeed, told to the last part to end; every part stops then. */
static void test_split_parts(void **state)
{
    (void)state;
    struct scheduler s;
    assert_int_equal(scheduler_init(&s, 4, 1e9), 0);
    for (int k = 1; k < 3; k++)
        assert_int_equal(scheduler_add_device(&s, 4, NULL, NULL), k);
    struct sched_job *j = new_split_job(1, 10);
    scheduler_add(&s, j);
    assert_ptr_equal(scheduler_next(&s, 1), j);
    assert_non_null(j->split);
    assert_int_equal(j->split->nparts, 3);
    assert_int_equal(j->part, 0);
    assert_int_equal(j->device, 1);
    struct sched_job *p1 = scheduler_next(&s, 0), *p2 = scheduler_next(&s, 2);
    assert_true(p1->split == j->split && p1->part == 1 && p1->started && p1->id == 1);
    assert_true(p2->split == j->split && p2->part == 2 && p2->device == 2);
    assert_int_equal(scheduler_count_user(&s, 1000), 1);
    struct sched_device_view v;
    scheduler_device_view(&s, 2, &v);
    assert_int_equal(v.started, 1);
    assert_int_equal(scheduler_cancel(&s, 1), 0); /* every part is flagged */
    assert_true(atomic_load(&p1->cancel) && atomic_load(&p2->cancel));
    struct dashi_error why;
    dashi_fail(&why, DASHI_E_CANCELLED, "", "cancelled");
    scheduler_charge(&s, p2, 2.0, now_seconds());
    scheduler_charge(&s, j, 1.0, now_seconds());
    assert_true(scheduler_job_seconds(&s, p1) == 3.0);
    assert_false(scheduler_part_ended(&s, p2, JOB_CANCELLED, &why));
    assert_true(atomic_load(&j->split->abort));
    assert_false(scheduler_part_ended(&s, j, JOB_SUCCEEDED, NULL));
    assert_false(scheduler_part_ended(&s, j, JOB_SUCCEEDED, NULL)); /* counted once */
    assert_true(scheduler_part_ended(&s, p1, JOB_INTERRUPTED, NULL));
    assert_int_equal(p1->split->state, JOB_CANCELLED);
    scheduler_remove(&s, p2);
    scheduler_remove(&s, j);
    scheduler_remove(&s, p1); /* the last frees the params */
    scheduler_device_view(&s, 0, &v);
    assert_int_equal(v.mem_started, 0);
    scheduler_destroy(&s);

    assert_int_equal(scheduler_init(&s, 4, 1e9), 0);
    assert_int_equal(scheduler_add_device(&s, 2, NULL, NULL), 1); /* room for 2 */
    struct sched_job *pinned = new_split_job(1, 10), *one = new_split_job(2, 1);
    pinned->pin = 1; /* device 0 */
    scheduler_add(&s, pinned);
    assert_ptr_equal(scheduler_next(&s, 0), pinned);
    assert_null(pinned->split);
    scheduler_remove(&s, pinned);
    scheduler_add(&s, one);
    assert_ptr_equal(scheduler_next(&s, 0), one);
    assert_null(one->split);
    scheduler_remove(&s, one);
    struct sched_job *big = new_split_job(3, 10), *small = new_split_job(4, 10);
    big->plan.mem_estimate = 3; /* more than device 1 has */
    scheduler_add(&s, big);
    assert_ptr_equal(scheduler_next(&s, 0), big);
    assert_null(big->split);
    scheduler_add(&s, small);
    assert_ptr_equal(scheduler_next(&s, 1), small);
    assert_null(small->split); /* device 0 runs `big` */
    scheduler_destroy(&s);
}

/* The GPU-thread calls abort when another thread makes them once the GPU thread claimed
 * the scheduler (scheduler_next returns at once here: stop was requested). */
static void test_gpu_thread_calls_checked(void **state)
{
    (void)state;
    struct scheduler s;
    assert_int_equal(scheduler_init(&s, 1, 3600), 0);
    scheduler_request_stop(&s);
    assert_null(scheduler_next(&s, 0)); /* unclaimed: any thread */
    claim_elsewhere(&s.dev[0].gpu);
    expect_abort(next_job, &s);
    scheduler_destroy(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_share_weighs_usage),
        cmocka_unit_test(test_order_usage_priority_gpu_time),
        cmocka_unit_test(test_pass_over_reasons),
        cmocka_unit_test(test_config_limits),
        cmocka_unit_test(test_config_rejects_bad_limits),
        cmocka_unit_test(test_gpu_thread_calls_checked),
        cmocka_unit_test(test_pool_placement),
        cmocka_unit_test(test_split_ranges),
        cmocka_unit_test(test_split_parts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
