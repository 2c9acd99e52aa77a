/* SPDX-License-Identifier: MIT */
/* The chunk-tree blob address (blob_tree.h): the pool with any number of threads, the
 * stream fed in pieces of any size and the serial leaves give one address; leaves and
 * roots are separated; a piece of a blob starting on a chunk boundary hashes to the
 * whole blob's leaves. The address itself is checked against an independent computation
 * in tests/e2e/test_blob_address.sh. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "blob_tree.h"

#define C BLOB_TREE_CHUNK
static const uint64_t sizes[] = {0, 1, C - 1, C, C + 1, 3 * C + 5};

static uint8_t *bytes(uint64_t n)
{
    uint8_t *p = malloc(n ? n : 1);
    assert_non_null(p);
    uint32_t x = 12345;
    for (uint64_t i = 0; i < n; i++) {
        x = x * 1664525u + 1013904223u;
        p[i] = (uint8_t)(x >> 24);
    }
    return p;
}

/* Serial: each leaf on its own, then the root. */
static void serial_root(const uint8_t *data, uint64_t size, uint8_t root[BLOB_TREE_HASH])
{
    uint64_t n = blob_tree_leaf_count(size, C);
    uint8_t *leaves = malloc(n * BLOB_TREE_HASH);
    assert_non_null(leaves);
    for (uint64_t i = 0; i < n; i++) {
        uint64_t off = i * C;
        blob_tree_leaf(i, data + off, size - off < C ? size - off : C, leaves + i * BLOB_TREE_HASH);
    }
    blob_tree_root(size, C, leaves, n, root);
    free(leaves);
}

/* The stream fed in pieces of `piece` bytes (the last one shorter). */
static void stream_root(const uint8_t *data, uint64_t size, size_t piece, uint8_t root[BLOB_TREE_HASH])
{
    struct blob_tree_stream s;
    assert_int_equal(blob_tree_stream_init(&s, C), 0);
    for (uint64_t off = 0; off < size; off += piece)
        assert_int_equal(blob_tree_stream_update(&s, data + off, size - off < piece ? size - off : piece), 0);
    assert_int_equal(blob_tree_stream_final(&s, root), 0);
    assert_int_equal(s.nleaves, blob_tree_leaf_count(size, C));
    blob_tree_stream_free(&s);
}

static void test_parallel_equals_serial(void **state)
{
    (void)state;
    uint8_t *data = bytes(3 * C + 5);
    struct blob_tree_pool *pools[] = {NULL, blob_tree_pool_new(1), blob_tree_pool_new(2), blob_tree_pool_new(3),
                                      blob_tree_pool_new(8)};
    for (size_t k = 1; k < sizeof pools / sizeof *pools; k++)
        assert_non_null(pools[k]);
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        uint8_t want[BLOB_TREE_HASH], got[BLOB_TREE_HASH];
        serial_root(data, sizes[i], want);
        for (size_t k = 0; k < sizeof pools / sizeof *pools; k++) { /* each pool reused for every size */
            assert_int_equal(blob_tree_hash(pools[k], data, sizes[i], C, got), 0);
            assert_memory_equal(got, want, BLOB_TREE_HASH);
        }
        static const size_t pieces[] = {7, (1u << 20) + 3, C, 5 * C};
        for (size_t k = 0; k < sizeof pieces / sizeof *pieces; k++) {
            stream_root(data, sizes[i], pieces[k], got);
            assert_memory_equal(got, want, BLOB_TREE_HASH);
        }
    }
    for (size_t k = 0; k < sizeof pools / sizeof *pools; k++)
        blob_tree_pool_free(pools[k]);
    free(data);
}

/* Addresses differ whenever the bytes or their size differ, and a root never equals a
 * leaf of the same bytes (the tag bytes 0x00 and 0x01). */
static void test_separation(void **state)
{
    (void)state;
    uint8_t *data = bytes(2 * C);
    uint8_t a[BLOB_TREE_HASH], b[BLOB_TREE_HASH], leaf[BLOB_TREE_HASH];
    serial_root(data, 1, a);
    blob_tree_leaf(0, data, 1, leaf);
    assert_memory_not_equal(a, leaf, BLOB_TREE_HASH);
    serial_root(data, 0, b);
    assert_memory_not_equal(a, b, BLOB_TREE_HASH);
    memset(data, 0, 2 * C); /* two equal chunks still get different leaves: the index is hashed */
    uint8_t l0[BLOB_TREE_HASH], l1[BLOB_TREE_HASH];
    blob_tree_leaf(0, data, C, l0);
    blob_tree_leaf(1, data + C, C, l1);
    assert_memory_not_equal(l0, l1, BLOB_TREE_HASH);
    serial_root(data, 2 * C, a);
    data[C + 17] ^= 1; /* one bit in the second chunk */
    serial_root(data, 2 * C, b);
    assert_memory_not_equal(a, b, BLOB_TREE_HASH);
    free(data);
}

/* Leaves of a piece starting at chunk k (first = k) are the whole blob's leaves k... */
static void test_piece_leaves(void **state)
{
    (void)state;
    uint64_t size = 3 * C + 5;
    uint8_t *data = bytes(size);
    uint8_t whole[4 * BLOB_TREE_HASH], piece[2 * BLOB_TREE_HASH];
    struct blob_tree_pool *p = blob_tree_pool_new(2);
    assert_non_null(p);
    blob_tree_pool_leaves(p, data, size, C, 0, whole);
    blob_tree_pool_leaves(p, data + 2 * C, size - 2 * C, C, 2, piece);
    assert_memory_equal(piece, whole + 2 * BLOB_TREE_HASH, 2 * BLOB_TREE_HASH);
    blob_tree_pool_free(p);
    free(data);
}

static void test_thread_count(void **state)
{
    (void)state;
    assert_int_equal(blob_tree_threads(3), 3);
    assert_int_equal(blob_tree_threads(1000), BLOB_TREE_MAX_THREADS);
    int dflt = blob_tree_threads(0);
    assert_true(dflt >= 1 && dflt <= 8);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parallel_equals_serial),
        cmocka_unit_test(test_separation),
        cmocka_unit_test(test_piece_leaves),
        cmocka_unit_test(test_thread_count),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
