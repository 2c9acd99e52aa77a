/* SPDX-License-Identifier: MIT */
/* The Vulkan runtime on lavapipe: device selection, allocator, transfers, a kernel,
 * command buffers with timestamps, the persisted pipeline cache, error naming. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rollout_ref.h"
#include "thread_claim.h"
#include "vk.h"
#include "vk_internal.h"

struct fixture {
    struct vk_runtime vk;
    char dir[64];
};

/* The Vulkan loader (1.3.239, before VK_LOADER_DISABLE_DYNAMIC_LIBRARY_UNLOADING) unloads
 * lavapipe at vkDestroyInstance; lavapipe keeps 128 bytes in a global for the process's
 * life, which LeakSanitizer then reports from an "<unknown module>" that no suppression
 * can name. Keeping the driver mapped leaves that memory reachable, as it really is. */
static void keep_lavapipe_mapped(void)
{
    (void)dlopen("libvulkan_lvp.so", RTLD_NOW | RTLD_NODELETE);
}

static int setup(void **state)
{
    keep_lavapipe_mapped();
    struct fixture *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    snprintf(f->dir, sizeof f->dir, "/tmp/test_vk_XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    struct dashi_error err = {0};
    if (vk_runtime_open(&f->vk, "lavapipe", f->dir, &err) != 0) {
        fprintf(stderr, "vk_runtime_open: %s\n", err.message);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    vk_runtime_close(&f->vk);
    char path[128];
    snprintf(path, sizeof path, "%s/pipeline_cache.bin", f->dir);
    unlink(path);
    rmdir(f->dir);
    free(f);
    return 0;
}

static void test_device_reported(void **state)
{
    struct fixture *f = *state;
    struct vk_runtime *vk = &f->vk;
    assert_true(strstr(vk->device_name, "llvmpipe") != NULL);
    assert_true(vk->is_cpu);
    assert_true(vk->fp64 && vk->int64);
    assert_true(vk->subgroup_size >= 1);
    assert_true(vk->max_workgroup_size >= 128);
    assert_true(vk->max_shared_bytes >= 16384);
    assert_true(vk->max_storage_range > 0);
    assert_true(vk->memory_budget > 0);
    assert_true(vk->driver_name[0] && vk->api_version[0]);

    char list[4096];
    struct dashi_error err = {0};
    assert_int_equal(vk_list_devices(list, sizeof list, &err), 0);
    assert_non_null(strstr(list, "llvmpipe"));
    assert_non_null(strstr(list, "(cpu)"));
}

static void test_unknown_device_is_no_gpu(void **state)
{
    (void)state;
    struct vk_runtime vk;
    struct dashi_error err = {0};
    assert_int_equal(vk_runtime_open(&vk, "no-such-gpu-xyz", NULL, &err), -1);
    assert_int_equal(err.code, DASHI_E_NO_GPU);
    assert_string_equal(err.field, "device");
    assert_int_equal(vk_runtime_open(&vk, "999", NULL, &err), -1);
    assert_int_equal(err.code, DASHI_E_NO_GPU);
    vk_runtime_close(&vk); /* safe on the zeroed struct a failed open leaves */
}

static void test_vk_fail_names_result(void **state)
{
    (void)state;
    struct dashi_error err = {0};
    assert_int_equal(vk_fail(&err, VK_ERROR_DEVICE_LOST, "vkQueueSubmit"), -1);
    assert_int_equal(err.code, DASHI_E_VULKAN);
    assert_non_null(strstr(err.message, "vkQueueSubmit: VK_ERROR_DEVICE_LOST"));
}

/* xorshift: deterministic sizes and free order. */
static uint32_t next_rand(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

static void test_allocator(void **state)
{
    struct fixture *f = *state;
    struct vk_runtime *vk = &f->vk;
    struct dashi_error err = {0};
    VkDeviceSize align = vk_alloc_alignment(vk);
    assert_true(align >= 256 && (align & (align - 1)) == 0);
    VkDeviceSize used0 = vk->memory_used;
    enum { N = 200 };
    struct vk_buffer b[N];
    uint32_t seed = 12345;
    for (int i = 0; i < N; i++) {
        VkDeviceSize size = 1 + next_rand(&seed) % (200 * 1024);
        assert_int_equal(vk_buffer_alloc(vk, size, VK_MEM_DEVICE, &b[i], &err), 0);
        assert_true(b[i].size >= size);
        assert_int_equal(b[i].offset % align, 0);
        assert_true(b[i].block >= 0);
    }
    /* No two ranges of one block overlap. */
    for (int i = 0; i < N; i++)
        for (int j = i + 1; j < N; j++)
            if (b[i].block == b[j].block)
                assert_true(b[i].offset + b[i].size <= b[j].offset || b[j].offset + b[j].size <= b[i].offset);
    int blocks_before = vk->nblocks;
    /* Free every other range, then the rest in a scrambled order. */
    for (int i = 0; i < N; i += 2)
        vk_buffer_free(vk, &b[i]);
    for (int k = 0; k < N / 2; k++) {
        int i = 2 * (int)(next_rand(&seed) % (N / 2)) + 1;
        while (b[i].block < 0)
            i = (i + 2) % N;
        vk_buffer_free(vk, &b[i]);
    }
    assert_int_equal(vk->memory_used, used0);
    /* Coalesced: every shared block is one free range again, so a range of a whole
     * block's size fits without a new block. */
    for (int i = 0; i < vk->nblocks; i++)
        if (vk->blocks[i].memory && !vk->blocks[i].dedicated && vk->blocks[i].kind == VK_MEM_DEVICE) {
            assert_int_equal(vk->blocks[i].nfree, 1);
            assert_int_equal(vk->blocks[i].free[0].size, vk->blocks[i].size);
        }
    struct vk_buffer whole;
    assert_int_equal(vk_buffer_alloc(vk, VK_BLOCK_BYTES, VK_MEM_DEVICE, &whole, &err), 0);
    assert_int_equal(vk->nblocks, blocks_before);
    vk_buffer_free(vk, &whole);
    vk_buffer_free(vk, &whole); /* safe on an emptied buffer */

    /* A request above the block size gets a dedicated block, returned on free. */
    struct vk_buffer big;
    assert_int_equal(vk_buffer_alloc(vk, VK_BLOCK_BYTES + 1, VK_MEM_DEVICE, &big, &err), 0);
    assert_true(vk->blocks[big.block].dedicated);
    int slot = big.block;
    vk_buffer_free(vk, &big);
    assert_null(vk->blocks[slot].memory);

    /* Host buffers are mapped. */
    struct vk_buffer h;
    assert_int_equal(vk_buffer_alloc(vk, 1000, VK_MEM_HOST, &h, &err), 0);
    assert_non_null(h.mapped);
    memset(h.mapped, 0xab, 1000);
    vk_buffer_free(vk, &h);
    assert_int_equal(vk->memory_used, used0);
}

static void test_over_budget(void **state)
{
    struct fixture *f = *state;
    struct vk_runtime *vk = &f->vk;
    struct dashi_error err = {0};
    struct vk_buffer b;
    assert_int_equal(vk_buffer_alloc(vk, vk->memory_budget + 1, VK_MEM_DEVICE, &b, &err), -1);
    assert_int_equal(err.code, DASHI_E_DEVICE_MEMORY);
    assert_int_equal(b.block, -1);
    /* The budget counts what is handed out: shrink it to 1 MiB above the current use. */
    VkDeviceSize saved = vk->memory_budget;
    vk->memory_budget = vk->memory_used + (1 << 20);
    struct vk_buffer small;
    assert_int_equal(vk_buffer_alloc(vk, 512 << 10, VK_MEM_DEVICE, &small, &err), 0);
    assert_int_equal(vk_buffer_alloc(vk, 768 << 10, VK_MEM_DEVICE, &b, &err), -1);
    assert_int_equal(err.code, DASHI_E_DEVICE_MEMORY);
    vk_buffer_free(vk, &small);
    assert_int_equal(vk_buffer_alloc(vk, 768 << 10, VK_MEM_DEVICE, &b, &err), 0);
    vk_buffer_free(vk, &b);
    vk->memory_budget = saved;
}

static void test_upload_download(void **state)
{
    struct fixture *f = *state;
    struct vk_runtime *vk = &f->vk;
    struct dashi_error err = {0};
    const size_t sizes[] = {1, 4, 1000, 65536 + 3, VK_STAGING_BYTES + 12345};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        size_t n = sizes[s];
        unsigned char *src = malloc(n), *dst = malloc(n);
        assert_non_null(src);
        assert_non_null(dst);
        uint32_t seed = 777 + (uint32_t)s;
        for (size_t i = 0; i < n; i++)
            src[i] = (unsigned char)next_rand(&seed);
        struct vk_buffer b;
        assert_int_equal(vk_buffer_alloc(vk, n + 4096, VK_MEM_DEVICE, &b, &err), 0);
        assert_int_equal(vk_upload(vk, &b, 4096, src, n, &err), 0);
        memset(dst, 0, n);
        assert_int_equal(vk_download(vk, &b, 4096, dst, n, &err), 0);
        assert_memory_equal(src, dst, n);
        vk_buffer_free(vk, &b);
        free(src);
        free(dst);
    }
}

/* One step of the exact rollout kernel, dispatched by hand, equals the C loop bit for bit;
 * timestamps around it give a non-negative time. */
static void test_kernel_runs(void **state)
{
    struct fixture *f = *state;
    struct vk_runtime *vk = &f->vk;
    struct dashi_error err = {0};
    enum { D = 37, B = 2 };
    double A[D * D], z[2 * B * D], ref[B * D], got[B * D];
    uint32_t seed = 99;
    for (int i = 0; i < D * D; i++)
        A[i] = (double)(int32_t)next_rand(&seed) / 2147483648.0;
    for (int i = 0; i < B * D; i++)
        z[i] = (double)(int32_t)next_rand(&seed) / 2147483648.0;
    rollout_ref_step_f64(A, z, ref, D, B);

    const struct vk_kernel *k, *k2;
    uint32_t spec[4] = {D, B, 8, 2};
    assert_int_equal(vk_kernel_get(vk, "rollout_exact_f64", 3, 12, spec, 4, &k, &err), 0);
    assert_int_equal(vk_kernel_get(vk, "rollout_exact_f64", 3, 12, spec, 4, &k2, &err), 0);
    assert_ptr_equal(k, k2); /* cached */
    assert_int_equal(vk_kernel_get(vk, "no_such_shader", 3, 12, spec, 4, &k2, &err), -1);

    struct vk_buffer a, s, flags;
    assert_int_equal(vk_buffer_alloc(vk, sizeof A, VK_MEM_DEVICE, &a, &err), 0);
    assert_int_equal(vk_buffer_alloc(vk, sizeof z, VK_MEM_DEVICE, &s, &err), 0);
    assert_int_equal(vk_buffer_alloc(vk, 256, VK_MEM_DEVICE, &flags, &err), 0);
    assert_int_equal(vk_upload(vk, &a, 0, A, sizeof A, &err), 0);
    assert_int_equal(vk_upload(vk, &s, 0, z, B * D * sizeof(double), &err), 0);
    const struct vk_buffer *bufs[3] = {&a, &s, &flags};
    VkDescriptorSet set;
    assert_int_equal(vk_descriptor_set(vk, k, bufs, &set, &err), 0);
    struct vk_cmd c;
    assert_int_equal(vk_cmd_create(vk, &c, &err), 0);
    assert_int_equal(vk_cmd_begin(vk, &c, &err), 0);
    vk_cmd_fill_zero(&c, &flags, 0, 256);
    vk_cmd_barrier(&c);
    int t0 = vk_cmd_timestamp(&c);
    uint32_t push[3] = {1, 0, B * D};
    vk_cmd_dispatch(&c, k, set, push, (D + 7) / 8, 1, 1);
    vk_cmd_barrier(&c);
    int t1 = vk_cmd_timestamp(&c);
    assert_int_equal(vk_cmd_submit_wait(vk, &c, &err), 0);
    if (vk->timestamp_period_ns > 0)
        assert_true(vk_cmd_elapsed_ms(vk, &c, t0, t1) >= 0.0);
    else
        assert_true(vk_cmd_elapsed_ms(vk, &c, t0, t1) < 0.0);
    assert_int_equal(vk_download(vk, &s, B * D * sizeof(double), got, sizeof got, &err), 0);
    assert_memory_equal(got, ref, sizeof ref);
    /* Resubmitting the ended command buffer runs it again. */
    assert_int_equal(vk_cmd_submit_wait(vk, &c, &err), 0);
    vk_cmd_destroy(vk, &c);
    vk_descriptor_set_free(vk, set);
    vk_buffer_free(vk, &a);
    vk_buffer_free(vk, &s);
    vk_buffer_free(vk, &flags);
}

struct submit_call {
    struct vk_runtime *vk;
    struct vk_cmd *cmd;
};

static void submit(void *arg)
{
    struct submit_call *c = arg;
    struct dashi_error err = {0};
    (void)vk_cmd_submit_wait(c->vk, c->cmd, &err);
}

/* Once another thread claimed the runtime (as the daemon's GPU thread does), a submission
 * from this one aborts; the owner's own submissions go through. */
static void test_submit_owner_checked(void **state)
{
    struct fixture *f = *state;
    struct dashi_error err = {0};
    struct vk_cmd cmd = {0};
    assert_int_equal(vk_cmd_create(&f->vk, &cmd, &err), 0);
    assert_int_equal(vk_cmd_begin(&f->vk, &cmd, &err), 0);
    claim_elsewhere(&f->vk.owner);
    struct submit_call call = {&f->vk, &cmd};
    expect_abort(submit, &call);
    thread_owner_claim(&f->vk.owner); /* this thread again, for the tests that follow */
    assert_int_equal(vk_cmd_submit_wait(&f->vk, &cmd, &err), 0);
    vk_cmd_destroy(&f->vk, &cmd);
}

static long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

/* Runs after test_kernel_runs built a pipeline: closing writes the cache, reopening
 * accepts it, and a corrupt cache file is ignored rather than fatal. */
static void test_pipeline_cache_persisted(void **state)
{
    struct fixture *f = *state;
    struct dashi_error err = {0};
    char path[128];
    snprintf(path, sizeof path, "%s/pipeline_cache.bin", f->dir);
    VkPhysicalDeviceProperties props;
    vkGetPhysicalDeviceProperties(f->vk.phys, &props);
    vk_runtime_close(&f->vk);
    /* lavapipe (Mesa 22.3) serialises only the 32-byte header; real drivers add data. */
    long n = file_size(path);
    assert_true(n >= 32);
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    unsigned char hdr[32];
    assert_int_equal(fread(hdr, 1, 32, fp), 32);
    fclose(fp);
    uint32_t word[4];
    memcpy(word, hdr, sizeof word);
    assert_int_equal(word[1], VK_PIPELINE_CACHE_HEADER_VERSION_ONE);
    assert_int_equal(word[2], props.vendorID);
    assert_int_equal(word[3], props.deviceID);
    assert_memory_equal(hdr + 16, props.pipelineCacheUUID, VK_UUID_SIZE);
    /* Written through a temporary file that is renamed: none is left behind. */
    char cmd[160];
    snprintf(cmd, sizeof cmd, "test $(ls %s | wc -l) -eq 1", f->dir);
    assert_int_equal(system(cmd), 0);

    assert_int_equal(vk_runtime_open(&f->vk, "lavapipe", f->dir, &err), 0);
    const struct vk_kernel *k;
    uint32_t spec[4] = {37, 2, 8, 2};
    assert_int_equal(vk_kernel_get(&f->vk, "rollout_exact_f64", 3, 12, spec, 4, &k, &err), 0);
    vk_runtime_close(&f->vk);
    assert_true(file_size(path) >= n);

    fp = fopen(path, "wb");
    assert_non_null(fp);
    fputs("not a pipeline cache, but long enough to have a header...", fp);
    fclose(fp);
    assert_int_equal(vk_runtime_open(&f->vk, "auto", f->dir, &err), 0);
    assert_int_equal(vk_kernel_get(&f->vk, "rollout_exact_f64", 3, 12, spec, 4, &k, &err), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unknown_device_is_no_gpu),
        cmocka_unit_test(test_vk_fail_names_result),
        cmocka_unit_test(test_device_reported),
        cmocka_unit_test(test_allocator),
        cmocka_unit_test(test_over_budget),
        cmocka_unit_test(test_upload_download),
        cmocka_unit_test(test_kernel_runs),
        cmocka_unit_test(test_submit_owner_checked),
        cmocka_unit_test(test_pipeline_cache_persisted),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
