/* SPDX-License-Identifier: MIT */
/* Fault injection into the Vulkan runtime (DASHI_VK_FAULT) and the re-creation of a lost
 * device (vk_runtime_reset), on lavapipe: the rules' grammar and counting, an injected
 * VK_ERROR_DEVICE_LOST that every later submission repeats until the device is re-created,
 * a failed and then a successful re-creation that keeps the descriptive fields, and
 * injected out-of-device-memory that counts device allocations only. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

#include "vk.h"

static void test_parse(void **state)
{
    (void)state;
    struct vk_fault f;
    struct dashi_error err = {0};
    assert_int_equal(vk_fault_parse(NULL, &f, &err), 0);
    assert_false(f.enabled);
    assert_int_equal(vk_fault_parse("", &f, &err), 0);
    assert_false(f.enabled);

    assert_int_equal(vk_fault_parse("device_lost:7,oom:usr1:3,recreate_fail:2", &f, &err), 0);
    assert_true(f.enabled);
    assert_string_equal(f.spec, "device_lost:7,oom:usr1:3,recreate_fail:2");
    assert_false(f.rule[VK_FAULT_SUBMIT].on_signal);
    assert_int_equal(f.rule[VK_FAULT_SUBMIT].at, 7);
    assert_int_equal(f.rule[VK_FAULT_SUBMIT].count, 1);
    assert_true(f.rule[VK_FAULT_ALLOC].on_signal);
    assert_int_equal(f.rule[VK_FAULT_ALLOC].count, 3);
    assert_int_equal(f.recreate_failures, 2);

    static const char *const bad[] = {"device_lost", "device_lost:0", "device_lost:-1", "device_lost:x",
                                      "oom:1:0", "oom:1:2:3", "recreate_fail:0", "recreate_fail",
                                      "gpu_on_fire:1", "oom:1,oom:2", "device_lost:99999999999999999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err = (struct dashi_error){0};
        assert_int_equal(vk_fault_parse(bad[i], &f, &err), -1);
        assert_int_equal(err.code, DASHI_E_BAD_VALUE);
        assert_string_equal(err.field, "DASHI_VK_FAULT");
        assert_non_null(strstr(err.message, bad[i]));
        assert_false(f.enabled);
    }
}

static void test_counting(void **state)
{
    (void)state;
    struct vk_fault f;
    struct dashi_error err = {0};
    assert_int_equal(vk_fault_parse("device_lost:3:2", &f, &err), 0);
    bool want[] = {false, false, true, true, false, false};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        assert_int_equal(vk_fault_hit(&f, VK_FAULT_SUBMIT), want[i]);
        assert_false(vk_fault_hit(&f, VK_FAULT_ALLOC)); /* no rule: never */
    }
    assert_false(vk_fault_arm(&f)); /* nothing waits for the signal */

    assert_int_equal(vk_fault_parse("oom:usr1:2", &f, &err), 0);
    for (int i = 0; i < 5; i++)
        assert_false(vk_fault_hit(&f, VK_FAULT_ALLOC));
    for (int round = 0; round < 2; round++) { /* every arm fails the next two */
        assert_true(vk_fault_arm(&f));
        assert_true(vk_fault_hit(&f, VK_FAULT_ALLOC));
        assert_true(vk_fault_hit(&f, VK_FAULT_ALLOC));
        assert_false(vk_fault_hit(&f, VK_FAULT_ALLOC));
    }
}

/* A lavapipe runtime opened with DASHI_VK_FAULT=spec, as the daemon reads it. */
static void open_with_faults(struct vk_runtime *vk, const char *spec)
{
    setenv("DASHI_VK_FAULT", spec, 1);
    struct dashi_error err = {0};
    int rc = vk_runtime_open(vk, "lavapipe", NULL, &err);
    unsetenv("DASHI_VK_FAULT");
    assert_int_equal(rc, 0);
    assert_true(vk->fault.enabled);
}

/* Uploads and downloads a few doubles: true when they come back. */
static bool round_trip(struct vk_runtime *vk, struct dashi_error *err)
{
    double in[4] = {1.5, -2, 3.25, 1e300}, out[4] = {0};
    struct vk_buffer b;
    if (vk_buffer_alloc(vk, sizeof in, VK_MEM_DEVICE, &b, err) != 0)
        return false;
    bool ok = vk_upload(vk, &b, 0, in, sizeof in, err) == 0 && vk_download(vk, &b, 0, out, sizeof out, err) == 0 &&
              memcmp(in, out, sizeof in) == 0;
    vk_buffer_free(vk, &b);
    return ok;
}

static void test_device_lost_and_reset(void **state)
{
    (void)state;
    struct vk_runtime vk;
    struct dashi_error err = {0};
    open_with_faults(&vk, "device_lost:2,recreate_fail:1");
    vk.memory_budget = 64 << 20; /* as the daemon's device_memory_budget does */
    char name[sizeof vk.device_name];
    memcpy(name, vk.device_name, sizeof name);
    assert_false(vk_runtime_lost(&vk)); /* a healthy device: vkDeviceWaitIdle succeeds */

    /* Submission 1 (the upload) runs, 2 (the download) is lost; so is every later one. */
    assert_false(round_trip(&vk, &err));
    assert_int_equal(err.code, DASHI_E_VULKAN);
    assert_non_null(strstr(err.message, "VK_ERROR_DEVICE_LOST"));
    assert_true(vk.lost && vk_runtime_lost(&vk));
    err = (struct dashi_error){0};
    assert_false(round_trip(&vk, &err));
    assert_non_null(strstr(err.message, "lost before"));

    const struct vk_kernel *k;
    uint32_t spec[4] = {4, 1, 8, 2};
    assert_int_equal(vk_kernel_get(&vk, "rollout_exact_f64", 3, 12, spec, 4, &k, &err), 0);

    /* The first re-creation fails (injected): no device, still lost, and it can be retried. */
    err = (struct dashi_error){0};
    assert_int_equal(vk_runtime_reset(&vk, &err), -1);
    assert_int_equal(err.code, DASHI_E_VULKAN);
    assert_true(vk.device == VK_NULL_HANDLE && vk_runtime_lost(&vk));
    assert_int_equal(vk_runtime_reset(&vk, &err), 0);
    assert_false(vk_runtime_lost(&vk));
    assert_null(vk.kernels); /* the old device's pipelines are gone */
    assert_string_equal(vk.device_name, name);
    assert_int_equal(vk.memory_budget, 64 << 20);
    assert_int_equal(vk.memory_used, 0);
    assert_true(round_trip(&vk, &err));
    assert_int_equal(vk_kernel_get(&vk, "rollout_exact_f64", 3, 12, spec, 4, &k, &err), 0);
    vk_runtime_close(&vk);
}

static void test_oom(void **state)
{
    (void)state;
    struct vk_runtime vk;
    struct dashi_error err = {0};
    open_with_faults(&vk, "oom:2");
    struct vk_buffer a, b, h;
    assert_int_equal(vk_buffer_alloc(&vk, 1024, VK_MEM_DEVICE, &a, &err), 0);
    assert_int_equal(vk_buffer_alloc(&vk, 1024, VK_MEM_HOST, &h, &err), 0); /* not counted */
    assert_int_equal(vk_buffer_alloc(&vk, 1024, VK_MEM_DEVICE, &b, &err), -1);
    assert_int_equal(err.code, DASHI_E_DEVICE_MEMORY);
    assert_int_equal(b.block, -1);
    assert_int_equal(vk_buffer_alloc(&vk, 1024, VK_MEM_DEVICE, &b, &err), 0);
    assert_false(vk_runtime_lost(&vk)); /* out of memory is not a lost device */
    vk_buffer_free(&vk, &a);
    vk_buffer_free(&vk, &b);
    vk_buffer_free(&vk, &h);
    vk_runtime_close(&vk);
}

int main(void)
{
    /* lavapipe stays mapped past vkDestroyInstance (see test_vk_runtime.c). */
    (void)dlopen("libvulkan_lvp.so", RTLD_NOW | RTLD_NODELETE);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_counting),
        cmocka_unit_test(test_device_lost_and_reset),
        cmocka_unit_test(test_oom),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
