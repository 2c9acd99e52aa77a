/* SPDX-License-Identifier: MIT */
/* The resident-results cache (daemon/resident.c) on lavapipe's real buffers: least recently
 * used eviction within the budget, pins, entries not yet durable held, hashes bound late,
 * layouts checked, everything freed by resident_clear (ASan checks the host side). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "resident.h"
#include "vk.h"

#define UNIT 4096u

static struct vk_runtime vk;

static int setup(void **state)
{
    (void)state;
    struct dashi_error err = {0};
    if (vk_runtime_open(&vk, "lavapipe", NULL, &err) != 0) {
        fprintf(stderr, "setup: %s\n", err.message);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    vk_runtime_close(&vk);
    return 0;
}

static const struct resident_layout LAYOUT = {.dtype = NPY_F8, .ndim = 1, .shape = {UNIT / 8}};

/* A hash of 64 hex digits made of one repeated character. */
static const char *hash_of(char c)
{
    static char h[4][DASHI_HASH_HEX + 1];
    static int next;
    char *s = h[next++ % 4];
    memset(s, c, DASHI_HASH_HEX);
    s[DASHI_HASH_HEX] = 0;
    return s;
}

static bool put(struct resident *r, int64_t job, char c, bool durable)
{
    struct vk_buffer buf;
    struct dashi_error err = {0};
    assert_int_equal(vk_buffer_alloc(&vk, UNIT, VK_MEM_DEVICE, &buf, &err), 0);
    if (resident_put(r, job, "trajectory", c ? hash_of(c) : "", durable, &buf, UNIT, &LAYOUT))
        return true;
    vk_buffer_free(&vk, &buf);
    return false;
}

static bool resident(struct resident *r, char c)
{
    const struct vk_buffer *b = resident_acquire(r, hash_of(c), &LAYOUT);
    resident_release(r, b);
    return b != NULL;
}

static void lru_eviction_within_the_budget(void **state)
{
    (void)state;
    struct resident r;
    resident_init(&r, &vk, 2 * UNIT);
    assert_true(put(&r, 1, 'a', true));
    assert_true(put(&r, 2, 'b', true));
    assert_true(resident(&r, 'a')); /* a is now the more recently used */
    assert_true(put(&r, 3, 'c', true));
    assert_true(resident(&r, 'a'));
    assert_false(resident(&r, 'b'));
    assert_true(resident(&r, 'c'));
    assert_int_equal(r.bytes, 2 * UNIT);
    assert_int_equal(r.evictions, 1);
    assert_int_equal(resident_room(&r), 0);
    struct vk_buffer big;
    struct dashi_error err = {0};
    assert_int_equal(vk_buffer_alloc(&vk, 3 * UNIT, VK_MEM_DEVICE, &big, &err), 0);
    assert_false(resident_put(&r, 4, "x", "", true, &big, 3 * UNIT, &LAYOUT)); /* over the budget */
    vk_buffer_free(&vk, &big);
    resident_clear(&r);
    assert_int_equal(r.bytes, 0);
}

static void pinned_and_not_durable_entries_stay(void **state)
{
    (void)state;
    struct resident r;
    resident_init(&r, &vk, 2 * UNIT);
    assert_true(put(&r, 1, 'a', false)); /* its blob is not on disk yet */
    assert_true(put(&r, 2, 'b', true));
    const struct vk_buffer *b = resident_acquire(&r, hash_of('b'), &LAYOUT);
    assert_non_null(b);
    assert_int_equal(resident_pinned_bytes(&r), 2 * UNIT);
    resident_evict_to(&r, 0);
    assert_int_equal(r.bytes, 2 * UNIT); /* nothing could go */
    assert_false(put(&r, 3, 'c', true)); /* no room, nothing evictable */
    resident_release(&r, b);
    resident_evict_to(&r, UNIT);
    assert_false(resident(&r, 'b'));
    assert_true(resident(&r, 'a'));
    resident_mark_durable(&r, hash_of('a'));
    assert_int_equal(resident_pinned_bytes(&r), 0);
    resident_evict_to(&r, 0);
    assert_int_equal(r.bytes, 0);
    assert_int_equal(r.evictions, 2);
}

static void hash_bound_later_and_layout_checked(void **state)
{
    (void)state;
    struct resident r;
    resident_init(&r, &vk, 4 * UNIT);
    assert_true(put(&r, 7, 0, false));
    assert_false(resident(&r, 'd'));
    resident_bind_hash(&r, 7, "trajectory", hash_of('d'));
    assert_true(resident(&r, 'd'));
    struct resident_layout other = LAYOUT;
    other.shape[0]++;
    assert_null(resident_acquire(&r, hash_of('d'), &other));
    other = LAYOUT;
    other.dtype = NPY_F4;
    assert_null(resident_acquire(&r, hash_of('d'), &other));
    assert_null(resident_acquire(&r, "", &LAYOUT));
    resident_clear(&r); /* frees the pinned-by-durability entry too */
    assert_int_equal(r.bytes, 0);
}

/* The I/O thread's reports (resident_published, any thread): a published blob binds its
 * entry's hash and makes it durable (evictable); a write that failed frees the entry. */
static void published_reports_bind_or_free(void **state)
{
    (void)state;
    struct resident r;
    assert_int_equal(resident_init(&r, &vk, 4 * UNIT), 0);
    assert_true(put(&r, 7, 0, false));
    assert_true(put(&r, 8, 0, false));
    assert_int_equal(resident_pinned_bytes(&r), 2 * UNIT); /* neither is on disk yet */
    resident_published(&r, 7, "trajectory", hash_of('e'));
    resident_published(&r, 8, "trajectory", "");
    assert_int_equal(resident_pinned_bytes(&r), 0); /* 7 durable, 8 freed */
    assert_int_equal(r.bytes, UNIT);
    assert_true(resident(&r, 'e'));
    resident_destroy(&r);
    assert_int_equal(r.bytes, 0);
}

static void a_zero_budget_keeps_nothing(void **state)
{
    (void)state;
    struct resident r;
    resident_init(&r, &vk, 0);
    assert_false(put(&r, 1, 'a', true));
    assert_int_equal(r.bytes, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(lru_eviction_within_the_budget),
        cmocka_unit_test(pinned_and_not_durable_entries_stay),
        cmocka_unit_test(hash_bound_later_and_layout_checked),
        cmocka_unit_test(published_reports_bind_or_free),
        cmocka_unit_test(a_zero_budget_keeps_nothing),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
