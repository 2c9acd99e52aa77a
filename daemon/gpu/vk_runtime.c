/* SPDX-License-Identifier: MIT */
/* The Vulkan runtime's life cycle: instance, physical-device selection, logical device
 * with one compute queue, pools, the persisted pipeline cache, and error naming.
 * Allocation, command buffers and kernels live in vk_alloc.c, vk_cmd.c, vk_kernel.c. */
#include "vk_internal.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DESC_POOL_SETS 4096
#define DESC_POOL_BUFFERS (DESC_POOL_SETS * 8)

const char *vk_result_name(VkResult r)
{
    switch (r) {
#define N(x) case x: return #x;
    N(VK_SUCCESS) N(VK_NOT_READY) N(VK_TIMEOUT) N(VK_EVENT_SET) N(VK_EVENT_RESET) N(VK_INCOMPLETE)
    N(VK_ERROR_OUT_OF_HOST_MEMORY) N(VK_ERROR_OUT_OF_DEVICE_MEMORY) N(VK_ERROR_INITIALIZATION_FAILED)
    N(VK_ERROR_DEVICE_LOST) N(VK_ERROR_MEMORY_MAP_FAILED) N(VK_ERROR_LAYER_NOT_PRESENT)
    N(VK_ERROR_EXTENSION_NOT_PRESENT) N(VK_ERROR_FEATURE_NOT_PRESENT) N(VK_ERROR_INCOMPATIBLE_DRIVER)
    N(VK_ERROR_TOO_MANY_OBJECTS) N(VK_ERROR_FORMAT_NOT_SUPPORTED) N(VK_ERROR_FRAGMENTED_POOL)
    N(VK_ERROR_UNKNOWN) N(VK_ERROR_OUT_OF_POOL_MEMORY) N(VK_ERROR_INVALID_EXTERNAL_HANDLE)
    N(VK_ERROR_FRAGMENTATION) N(VK_ERROR_INVALID_OPAQUE_CAPTURE_ADDRESS) N(VK_PIPELINE_COMPILE_REQUIRED)
    N(VK_ERROR_INVALID_SHADER_NV)
#undef N
    default: return "VK_RESULT_UNKNOWN";
    }
}

int vk_fail(struct dashi_error *err, VkResult r, const char *what)
{
    if (r == VK_ERROR_OUT_OF_DEVICE_MEMORY)
        return dashi_fail(err, DASHI_E_DEVICE_MEMORY, "", "out of device memory: %s: %s (%d)", what,
                          vk_result_name(r), (int)r);
    dashi_code code = DASHI_E_VULKAN;
    return dashi_fail(err, code, "", "%s: %s (%d)", what, vk_result_name(r), (int)r);
}

static const char *device_type_name(VkPhysicalDeviceType t)
{
    switch (t) {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return "discrete";
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return "integrated";
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return "virtual";
    case VK_PHYSICAL_DEVICE_TYPE_CPU: return "cpu";
    default: return "other";
    }
}

/* Preference of "auto": smaller is better. */
static int device_type_rank(VkPhysicalDeviceType t)
{
    switch (t) {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return 0;
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return 1;
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return 2;
    case VK_PHYSICAL_DEVICE_TYPE_CPU: return 3;
    default: return 4;
    }
}

static int create_instance(VkInstance *out, struct dashi_error *err)
{
    uint32_t version = VK_API_VERSION_1_0;
    VkResult r = vkEnumerateInstanceVersion(&version);
    if (r != VK_SUCCESS)
        return vk_fail(err, r, "vkEnumerateInstanceVersion");
    if (version < VK_API_VERSION_1_2)
        return dashi_fail(err, DASHI_E_NO_GPU, "device", "Vulkan loader supports only %u.%u, need 1.2",
                          VK_API_VERSION_MAJOR(version), VK_API_VERSION_MINOR(version));
    VkApplicationInfo app = {
        .sType = VK_STRUCTURE_TYPE_APPLICATION_INFO,
        .pApplicationName = "dashid",
        .pEngineName = "dashid",
        .apiVersion = VK_API_VERSION_1_2,
    };
    /* Layers (validation) come from VK_INSTANCE_LAYERS through the loader. */
    VkInstanceCreateInfo ci = {.sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO, .pApplicationInfo = &app};
    r = vkCreateInstance(&ci, NULL, out);
    if (r == VK_ERROR_INCOMPATIBLE_DRIVER)
        return dashi_fail(err, DASHI_E_NO_GPU, "device", "vkCreateInstance: no Vulkan driver (%s)",
                          vk_result_name(r));
    if (r != VK_SUCCESS)
        return vk_fail(err, r, "vkCreateInstance");
    return 0;
}

/* The physical devices (malloc'ed) of an instance; an empty list is not an error here. */
static int enumerate_devices(VkInstance inst, VkPhysicalDevice **out, uint32_t *n, struct dashi_error *err)
{
    *out = NULL;
    *n = 0;
    VkResult r = vkEnumeratePhysicalDevices(inst, n, NULL);
    if (r != VK_SUCCESS)
        return vk_fail(err, r, "vkEnumeratePhysicalDevices");
    if (*n == 0)
        return 0;
    *out = calloc(*n, sizeof **out);
    if (!*out)
        return dashi_fail(err, DASHI_E_INTERNAL, "", "out of memory");
    r = vkEnumeratePhysicalDevices(inst, n, *out);
    if (r != VK_SUCCESS && r != VK_INCOMPLETE) {
        free(*out);
        *out = NULL;
        return vk_fail(err, r, "vkEnumeratePhysicalDevices");
    }
    return 0;
}

static bool is_lavapipe(VkPhysicalDevice pd)
{
    VkPhysicalDeviceDriverProperties drv = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_DRIVER_PROPERTIES};
    VkPhysicalDeviceProperties2 p2 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2, .pNext = &drv};
    vkGetPhysicalDeviceProperties2(pd, &p2);
    return drv.driverID == VK_DRIVER_ID_MESA_LLVMPIPE || strstr(p2.properties.deviceName, "llvmpipe") != NULL;
}

static bool all_digits(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!isdigit((unsigned char)*s))
            return false;
    return true;
}

/* The index among devs[0..n) that `want` names by the selection rule documented in vk.h,
 * -1 when none does. */
static int select_index(const VkPhysicalDevice *devs, uint32_t n, const char *want)
{
    int pick = -1;
    if (!want || !*want || strcmp(want, "auto") == 0) {
        int best_rank = 99;
        for (uint32_t i = 0; i < n; i++) {
            VkPhysicalDeviceProperties p;
            vkGetPhysicalDeviceProperties(devs[i], &p);
            int rank = device_type_rank(p.deviceType);
            if (rank < best_rank) {
                best_rank = rank;
                pick = (int)i;
            }
        }
    } else if (strcmp(want, "lavapipe") == 0) {
        for (uint32_t i = 0; i < n && pick < 0; i++)
            if (is_lavapipe(devs[i]))
                pick = (int)i;
    } else if (all_digits(want)) {
        unsigned long idx = strtoul(want, NULL, 10);
        if (idx < n)
            pick = (int)idx;
    } else {
        for (uint32_t i = 0; i < n && pick < 0; i++) {
            VkPhysicalDeviceProperties p;
            vkGetPhysicalDeviceProperties(devs[i], &p);
            if (strcasestr(p.deviceName, want))
                pick = (int)i;
        }
    }
    return pick;
}

/* Implements the selection rule documented in vk.h; never substitutes another device. */
static int select_device(VkInstance inst, const char *want, VkPhysicalDevice *out, struct dashi_error *err)
{
    VkPhysicalDevice *devs;
    uint32_t n;
    if (enumerate_devices(inst, &devs, &n, err) != 0)
        return -1;
    int pick = select_index(devs, n, want);
    if (pick >= 0)
        *out = devs[pick];
    free(devs);
    if (pick < 0)
        return dashi_fail(err, DASHI_E_NO_GPU, "device", "no Vulkan device matches \"%s\" (%u devices present)",
                          want ? want : "auto", n);
    return 0;
}

/* "all": every discrete GPU, else the one "auto" picks. */
static void select_all(const VkPhysicalDevice *devs, uint32_t n, uint32_t *idx, int max, int *count)
{
    for (uint32_t i = 0; i < n && *count < max; i++) {
        VkPhysicalDeviceProperties p;
        vkGetPhysicalDeviceProperties(devs[i], &p);
        if (p.deviceType == VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU)
            idx[(*count)++] = i;
    }
    int best = select_index(devs, n, "auto");
    if (*count == 0 && best >= 0)
        idx[(*count)++] = (uint32_t)best;
}

/* One item of a list: a name that matches nothing is the caller's error, naming it. */
static int select_item(const VkPhysicalDevice *devs, uint32_t n, const char *item, uint32_t *idx, int max, int *count,
                       struct dashi_error *err)
{
    int pick = select_index(devs, n, item);
    if (pick < 0)
        return dashi_fail(err, DASHI_E_NO_GPU, "devices", "no Vulkan device matches \"%s\" (%u devices present)",
                          item, n);
    for (int k = 0; k < *count; k++)
        if (idx[k] == (uint32_t)pick)
            return 0; /* named twice: opened once */
    if (*count == max)
        return dashi_fail(err, DASHI_E_BAD_VALUE, "devices", "at most %d devices", max);
    idx[(*count)++] = (uint32_t)pick;
    return 0;
}

int vk_select_devices(const char *list, uint32_t *idx, int max, int *count, struct dashi_error *err)
{
    *count = 0;
    VkInstance inst;
    if (create_instance(&inst, err) != 0)
        return -1;
    VkPhysicalDevice *devs = NULL;
    uint32_t n = 0;
    int rc = enumerate_devices(inst, &devs, &n, err);
    if (rc == 0 && (!list || !*list || strcmp(list, "all") == 0)) {
        select_all(devs, n, idx, max, count);
    } else if (rc == 0) {
        char buf[256];
        snprintf(buf, sizeof buf, "%s", list);
        char *save = NULL;
        for (char *item = strtok_r(buf, ",", &save); item && rc == 0; item = strtok_r(NULL, ",", &save))
            rc = select_item(devs, n, item, idx, max, count, err);
    }
    free(devs); /* NULL after a failed enumeration */
    vkDestroyInstance(inst, NULL);
    if (rc == 0 && *count == 0)
        rc = dashi_fail(err, DASHI_E_NO_GPU, "devices", "no Vulkan device found (%u present)", n);
    return rc;
}

int vk_list_devices(char *buf, size_t cap, struct dashi_error *err)
{
    if (cap == 0)
        return dashi_fail(err, DASHI_E_INTERNAL, "", "vk_list_devices: empty buffer");
    buf[0] = 0;
    VkInstance inst;
    if (create_instance(&inst, err) != 0)
        return -1;
    VkPhysicalDevice *devs;
    uint32_t n;
    if (enumerate_devices(inst, &devs, &n, err) != 0) {
        vkDestroyInstance(inst, NULL);
        return -1;
    }
    size_t len = 0;
    for (uint32_t i = 0; i < n && len < cap; i++) {
        VkPhysicalDeviceProperties p;
        vkGetPhysicalDeviceProperties(devs[i], &p);
        int w = snprintf(buf + len, cap - len, "%u: %s (%s)\n", i, p.deviceName, device_type_name(p.deviceType));
        if (w < 0)
            break;
        len += (size_t)w;
    }
    free(devs);
    vkDestroyInstance(inst, NULL);
    return 0;
}

static void describe_device(struct vk_runtime *vk)
{
    VkPhysicalDeviceSubgroupProperties sub = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES};
    VkPhysicalDeviceDriverProperties drv = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_DRIVER_PROPERTIES,
                                            .pNext = &sub};
    VkPhysicalDeviceProperties2 p2 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2, .pNext = &drv};
    vkGetPhysicalDeviceProperties2(vk->phys, &p2);
    const VkPhysicalDeviceProperties *p = &p2.properties;
    snprintf(vk->device_name, sizeof vk->device_name, "%s", p->deviceName);
    snprintf(vk->driver_name, sizeof vk->driver_name, "%.*s", (int)sizeof vk->driver_name - 1, drv.driverName);
    snprintf(vk->driver_info, sizeof vk->driver_info, "%.*s", (int)sizeof vk->driver_info - 1, drv.driverInfo);
    snprintf(vk->api_version, sizeof vk->api_version, "%u.%u.%u", VK_API_VERSION_MAJOR(p->apiVersion),
             VK_API_VERSION_MINOR(p->apiVersion), VK_API_VERSION_PATCH(p->apiVersion));
    vk->is_cpu = p->deviceType == VK_PHYSICAL_DEVICE_TYPE_CPU;
    vk->subgroup_size = sub.subgroupSize;
    vk->max_workgroup_size = p->limits.maxComputeWorkGroupSize[0];
    if (p->limits.maxComputeWorkGroupInvocations < vk->max_workgroup_size)
        vk->max_workgroup_size = p->limits.maxComputeWorkGroupInvocations;
    vk->max_shared_bytes = p->limits.maxComputeSharedMemorySize;
    vk->max_storage_range = p->limits.maxStorageBufferRange;

    /* Budget: 80% of the largest device-local heap (lavapipe has one heap, device-local). */
    VkPhysicalDeviceMemoryProperties mp;
    vkGetPhysicalDeviceMemoryProperties(vk->phys, &mp);
    VkDeviceSize heap = 0;
    for (uint32_t i = 0; i < mp.memoryHeapCount; i++)
        if ((mp.memoryHeaps[i].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT) && mp.memoryHeaps[i].size > heap)
            heap = mp.memoryHeaps[i].size;
    if (heap == 0)
        for (uint32_t i = 0; i < mp.memoryHeapCount; i++)
            if (mp.memoryHeaps[i].size > heap)
                heap = mp.memoryHeaps[i].size;
    vk->memory_budget = heap / 10 * 8;
}

/* The first compute-capable queue family, preferring one with timestamps. */
static int pick_queue_family(struct vk_runtime *vk, struct dashi_error *err)
{
    uint32_t n = 0;
    vkGetPhysicalDeviceQueueFamilyProperties(vk->phys, &n, NULL);
    VkQueueFamilyProperties *q = calloc(n ? n : 1, sizeof *q);
    if (!q)
        return dashi_fail(err, DASHI_E_INTERNAL, "", "out of memory");
    vkGetPhysicalDeviceQueueFamilyProperties(vk->phys, &n, q);
    int pick = -1;
    bool timestamps = false;
    for (uint32_t i = 0; i < n; i++) {
        if (!(q[i].queueFlags & VK_QUEUE_COMPUTE_BIT))
            continue;
        bool ts = q[i].timestampValidBits > 0;
        if (pick < 0 || (ts && !timestamps)) {
            pick = (int)i;
            timestamps = ts;
        }
    }
    free(q);
    if (pick < 0)
        return dashi_fail(err, DASHI_E_NO_GPU, "device", "%s has no compute queue", vk->device_name);
    vk->queue_family = (uint32_t)pick;
    if (timestamps) {
        VkPhysicalDeviceProperties p;
        vkGetPhysicalDeviceProperties(vk->phys, &p);
        vk->timestamp_period_ns = p.limits.timestampPeriod;
    }
    return 0;
}

/* Vulkan's pipeline-cache header (version one): reuse only a cache this device wrote. */
static bool cache_header_matches(const struct vk_runtime *vk, const unsigned char *d, size_t n)
{
    if (n < 32)
        return false;
    uint32_t hdr_len, hdr_ver, vendor, device;
    memcpy(&hdr_len, d, 4);
    memcpy(&hdr_ver, d + 4, 4);
    memcpy(&vendor, d + 8, 4);
    memcpy(&device, d + 12, 4);
    VkPhysicalDeviceProperties p;
    vkGetPhysicalDeviceProperties(vk->phys, &p);
    return hdr_len >= 32 && hdr_len <= n && hdr_ver == VK_PIPELINE_CACHE_HEADER_VERSION_ONE &&
           vendor == p.vendorID && device == p.deviceID && memcmp(d + 16, p.pipelineCacheUUID, VK_UUID_SIZE) == 0;
}

static unsigned char *read_file(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    unsigned char *data = NULL;
    if (fseek(f, 0, SEEK_END) == 0) {
        long len = ftell(f);
        if (len > 0 && len < (1L << 30) && fseek(f, 0, SEEK_SET) == 0 && (data = malloc((size_t)len))) {
            if (fread(data, 1, (size_t)len, f) == (size_t)len) {
                *n = (size_t)len;
            } else {
                free(data);
                data = NULL;
            }
        }
    }
    fclose(f);
    return data;
}

static int set_pipeline_cache_path(struct vk_runtime *vk, const char *state_dir, struct dashi_error *err)
{
    if (!state_dir || !*state_dir)
        return 0;
    int w = snprintf(vk->pipeline_cache_path, sizeof vk->pipeline_cache_path, "%s/pipeline_cache.bin", state_dir);
    if (w < 0 || (size_t)w >= sizeof vk->pipeline_cache_path)
        return dashi_fail(err, DASHI_E_IO, "state_dir", "state directory path too long");
    return 0;
}

/* From the persisted file when there is one this device wrote, else empty. */
static int create_pipeline_cache(struct vk_runtime *vk, struct dashi_error *err)
{
    unsigned char *data = NULL;
    size_t n = 0;
    if (vk->pipeline_cache_path[0]) {
        data = read_file(vk->pipeline_cache_path, &n);
        if (data && !cache_header_matches(vk, data, n)) { /* another device or driver: start empty */
            free(data);
            data = NULL;
            n = 0;
        }
    }
    VkPipelineCacheCreateInfo ci = {
        .sType = VK_STRUCTURE_TYPE_PIPELINE_CACHE_CREATE_INFO, .initialDataSize = data ? n : 0, .pInitialData = data};
    VkResult r = vkCreatePipelineCache(vk->device, &ci, NULL, &vk->pipeline_cache);
    if (r != VK_SUCCESS && data) { /* a corrupt file must not stop the daemon */
        ci.initialDataSize = 0;
        ci.pInitialData = NULL;
        r = vkCreatePipelineCache(vk->device, &ci, NULL, &vk->pipeline_cache);
    }
    free(data);
    if (r != VK_SUCCESS)
        return vk_fail(err, r, "vkCreatePipelineCache");
    return 0;
}

/* Written to a temporary file and renamed, so a crash never leaves a torn cache. */
static void save_pipeline_cache(struct vk_runtime *vk)
{
    if (!vk->pipeline_cache || !vk->pipeline_cache_path[0])
        return;
    size_t n = 0;
    if (vkGetPipelineCacheData(vk->device, vk->pipeline_cache, &n, NULL) != VK_SUCCESS || n == 0)
        return;
    void *data = malloc(n);
    if (!data)
        return;
    if (vkGetPipelineCacheData(vk->device, vk->pipeline_cache, &n, data) == VK_SUCCESS) {
        char tmp[sizeof vk->pipeline_cache_path + 32];
        snprintf(tmp, sizeof tmp, "%s.tmp.%ld", vk->pipeline_cache_path, (long)getpid());
        FILE *f = fopen(tmp, "wb");
        if (f) {
            bool ok = fwrite(data, 1, n, f) == n;
            ok = (fflush(f) == 0) && ok && fsync(fileno(f)) == 0;
            ok = (fclose(f) == 0) && ok;
            if (!ok || rename(tmp, vk->pipeline_cache_path) != 0)
                unlink(tmp);
        }
    }
    free(data);
}

bool vk_device_has_extension(VkPhysicalDevice phys, const char *name)
{
    uint32_t n = 0;
    if (vkEnumerateDeviceExtensionProperties(phys, NULL, &n, NULL) != VK_SUCCESS || n == 0)
        return false;
    VkExtensionProperties *ext = calloc(n, sizeof *ext);
    if (!ext)
        return false;
    bool have = false;
    if (vkEnumerateDeviceExtensionProperties(phys, NULL, &n, ext) == VK_SUCCESS)
        for (uint32_t i = 0; i < n && !have; i++)
            have = strcmp(ext[i].extensionName, name) == 0;
    free(ext);
    return have;
}

/* Whether the device multiplies 16×32 by 32×16 int8 matrices into int32 within one
 * subgroup of 32 (VK_NV_cooperative_matrix: the KHR extension is newer than Debian 12's
 * glslang). Only the shape and types the split product's shader uses are accepted. */
static bool has_int8_matrix(struct vk_runtime *vk)
{
    if (vk->is_cpu || vk->subgroup_size != 32 || !vk_device_has_extension(vk->phys, VK_NV_COOPERATIVE_MATRIX_EXTENSION_NAME))
        return false;
    PFN_vkGetPhysicalDeviceCooperativeMatrixPropertiesNV get =
        (PFN_vkGetPhysicalDeviceCooperativeMatrixPropertiesNV)vkGetInstanceProcAddr(
            vk->instance, "vkGetPhysicalDeviceCooperativeMatrixPropertiesNV");
    if (!get)
        return false;
    uint32_t n = 0;
    if (get(vk->phys, &n, NULL) != VK_SUCCESS || n == 0)
        return false;
    VkCooperativeMatrixPropertiesNV *p = calloc(n, sizeof *p);
    if (!p)
        return false;
    for (uint32_t i = 0; i < n; i++)
        p[i].sType = VK_STRUCTURE_TYPE_COOPERATIVE_MATRIX_PROPERTIES_NV;
    bool shape = false;
    if (get(vk->phys, &n, p) == VK_SUCCESS)
        for (uint32_t i = 0; i < n && !shape; i++)
            shape = p[i].MSize == 16 && p[i].NSize == 16 && p[i].KSize == 32 && p[i].AType == VK_COMPONENT_TYPE_SINT8_NV &&
                    p[i].BType == VK_COMPONENT_TYPE_SINT8_NV && p[i].CType == VK_COMPONENT_TYPE_SINT32_NV &&
                    p[i].DType == VK_COMPONENT_TYPE_SINT32_NV && p[i].scope == VK_SCOPE_SUBGROUP_NV;
    free(p);
    if (!shape)
        return false;
    VkPhysicalDeviceCooperativeMatrixFeaturesNV cm = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_COOPERATIVE_MATRIX_FEATURES_NV};
    VkPhysicalDevice8BitStorageFeatures s8 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_8BIT_STORAGE_FEATURES, .pNext = &cm};
    VkPhysicalDeviceShaderFloat16Int8Features i8 = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_FLOAT16_INT8_FEATURES, .pNext = &s8};
    VkPhysicalDeviceFeatures2 f2 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2, .pNext = &i8};
    vkGetPhysicalDeviceFeatures2(vk->phys, &f2);
    vk->float16 = i8.shaderFloat16; /* for fp16 matrices (bench/matrix.c) */
    return cm.cooperativeMatrix && s8.storageBuffer8BitAccess && i8.shaderInt8;
}

/* The features and the queue family the device is created with, once at open: a
 * re-created device (vk_runtime_reset) gets the same, so these fields never change. */
static int probe_features(struct vk_runtime *vk, struct dashi_error *err)
{
    VkPhysicalDeviceFeatures have;
    vkGetPhysicalDeviceFeatures(vk->phys, &have);
    vk->fp64 = have.shaderFloat64;
    vk->int64 = have.shaderInt64;
    if (!vk->fp64 || !vk->int64)
        return dashi_fail(err, DASHI_E_NO_GPU, "device", "%s lacks shaderFloat64/shaderInt64", vk->device_name);
    if (pick_queue_family(vk, err) != 0)
        return -1;
    VkPhysicalDeviceShaderAtomicInt64Features a64 = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_ATOMIC_INT64_FEATURES};
    VkPhysicalDeviceFeatures2 f2 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2, .pNext = &a64};
    vkGetPhysicalDeviceFeatures2(vk->phys, &f2);
    vk->int64_atomics = a64.shaderBufferInt64Atomics;
    vk->int8_matrix = has_int8_matrix(vk);
    vk->pipeline_stats = getenv("DASHI_VK_PIPELINE_STATS") &&
                         vk_device_has_extension(vk->phys, VK_KHR_PIPELINE_EXECUTABLE_PROPERTIES_EXTENSION_NAME);
    return 0;
}

/* The logical device, its queue and pools, with what probe_features found. */
static int create_device(struct vk_runtime *vk, struct dashi_error *err)
{
    float prio = 1.0f;
    VkDeviceQueueCreateInfo qci = {.sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO,
                                   .queueFamilyIndex = vk->queue_family,
                                   .queueCount = 1,
                                   .pQueuePriorities = &prio};
    VkPhysicalDeviceFeatures want = {.shaderFloat64 = VK_TRUE, .shaderInt64 = VK_TRUE};
    /* 64-bit integer atomics on buffers (the atoms reductions' fixed-point sums): optional,
     * enabled when present; kernels that need them check vk->int64_atomics. */
    VkPhysicalDeviceShaderAtomicInt64Features a64_want = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_ATOMIC_INT64_FEATURES,
        .shaderBufferInt64Atomics = VK_TRUE};
    VkPhysicalDeviceCooperativeMatrixFeaturesNV cm_want = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_COOPERATIVE_MATRIX_FEATURES_NV, .cooperativeMatrix = VK_TRUE};
    VkPhysicalDevice8BitStorageFeatures s8_want = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_8BIT_STORAGE_FEATURES, .pNext = &cm_want, .storageBuffer8BitAccess = VK_TRUE};
    VkPhysicalDeviceShaderFloat16Int8Features i8_want = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_FLOAT16_INT8_FEATURES, .pNext = &s8_want, .shaderInt8 = VK_TRUE,
        .shaderFloat16 = vk->float16};
    const char *exts[2];
    uint32_t nexts = 0;
    if (vk->int8_matrix)
        exts[nexts++] = VK_NV_COOPERATIVE_MATRIX_EXTENSION_NAME;
    void *chain = vk->int8_matrix ? (void *)&i8_want : NULL;
    if (vk->int64_atomics) {
        a64_want.pNext = chain;
        chain = &a64_want;
    }
    /* Kernel statistics for tuning (bench/README.md), only when asked. */
    VkPhysicalDevicePipelineExecutablePropertiesFeaturesKHR pe_want = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PIPELINE_EXECUTABLE_PROPERTIES_FEATURES_KHR,
        .pipelineExecutableInfo = VK_TRUE};
    if (vk->pipeline_stats) {
        pe_want.pNext = chain;
        chain = &pe_want;
        exts[nexts++] = VK_KHR_PIPELINE_EXECUTABLE_PROPERTIES_EXTENSION_NAME;
    }
    VkDeviceCreateInfo dci = {.sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO,
                              .pNext = chain,
                              .queueCreateInfoCount = 1,
                              .pQueueCreateInfos = &qci,
                              .enabledExtensionCount = nexts,
                              .ppEnabledExtensionNames = exts,
                              .pEnabledFeatures = &want};
    VkResult r = vkCreateDevice(vk->phys, &dci, NULL, &vk->device);
    if (r != VK_SUCCESS)
        return vk_fail(err, r, "vkCreateDevice");
    vkGetDeviceQueue(vk->device, vk->queue_family, 0, &vk->queue);

    VkCommandPoolCreateInfo pci = {.sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO,
                                   .flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT,
                                   .queueFamilyIndex = vk->queue_family};
    r = vkCreateCommandPool(vk->device, &pci, NULL, &vk->cmd_pool);
    if (r != VK_SUCCESS)
        return vk_fail(err, r, "vkCreateCommandPool");
    VkDescriptorPoolSize size = {.type = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, .descriptorCount = DESC_POOL_BUFFERS};
    VkDescriptorPoolCreateInfo dpci = {.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO,
                                       .flags = VK_DESCRIPTOR_POOL_CREATE_FREE_DESCRIPTOR_SET_BIT,
                                       .maxSets = DESC_POOL_SETS,
                                       .poolSizeCount = 1,
                                       .pPoolSizes = &size};
    r = vkCreateDescriptorPool(vk->device, &dpci, NULL, &vk->desc_pool);
    if (r != VK_SUCCESS)
        return vk_fail(err, r, "vkCreateDescriptorPool");
    return 0;
}

int vk_runtime_open(struct vk_runtime *vk, const char *device, const char *state_dir, struct dashi_error *err)
{
    memset(vk, 0, sizeof *vk);
    thread_owner_claim(&vk->owner);
    if (vk_fault_parse(getenv("DASHI_VK_FAULT"), &vk->fault, err) != 0)
        return -1;
    if (set_pipeline_cache_path(vk, state_dir, err) != 0 || create_instance(&vk->instance, err) != 0)
        return -1;
    if (select_device(vk->instance, device, &vk->phys, err) != 0)
        goto fail;
    describe_device(vk);
    if (probe_features(vk, err) != 0 || create_device(vk, err) != 0 || create_pipeline_cache(vk, err) != 0)
        goto fail;
    return 0;
fail:
    vk->pipeline_cache_path[0] = 0; /* nothing worth saving */
    vk_runtime_close(vk);
    return -1;
}

/* Everything made from the logical device, and the device itself. */
static void destroy_device(struct vk_runtime *vk)
{
    if (!vk->device)
        return;
    vk_kernels_destroy_all(vk);
    vk_alloc_destroy_all(vk);
    if (vk->pipeline_cache)
        vkDestroyPipelineCache(vk->device, vk->pipeline_cache, NULL);
    if (vk->desc_pool)
        vkDestroyDescriptorPool(vk->device, vk->desc_pool, NULL);
    if (vk->cmd_pool)
        vkDestroyCommandPool(vk->device, vk->cmd_pool, NULL);
    vkDestroyDevice(vk->device, NULL);
    vk->pipeline_cache = VK_NULL_HANDLE;
    vk->desc_pool = VK_NULL_HANDLE;
    vk->cmd_pool = VK_NULL_HANDLE;
    vk->queue = VK_NULL_HANDLE;
    vk->device = VK_NULL_HANDLE;
}

void vk_runtime_close(struct vk_runtime *vk)
{
    if (vk->device) {
        vkDeviceWaitIdle(vk->device); /* best effort: a lost device is closed anyway */
        if (!vk->lost)
            save_pipeline_cache(vk);
        destroy_device(vk);
    }
    if (vk->instance)
        vkDestroyInstance(vk->instance, NULL);
    memset(vk, 0, sizeof *vk);
}

bool vk_runtime_lost(struct vk_runtime *vk)
{
    if (!vk->lost && (!vk->device || vkDeviceWaitIdle(vk->device) == VK_ERROR_DEVICE_LOST))
        vk->lost = true;
    return vk->lost;
}

int vk_runtime_reset(struct vk_runtime *vk, struct dashi_error *err)
{
    thread_owner_check(&vk->owner, "vk_runtime_reset");
    if (vk->device)
        vkDeviceWaitIdle(vk->device); /* returns at once on a lost device */
    destroy_device(vk);
    vk->lost = true; /* until the new device exists */
    if (vk->fault.recreate_failures > 0) {
        vk->fault.recreate_failures--;
        return vk_fail(err, VK_ERROR_INITIALIZATION_FAILED, "vkCreateDevice (injected by DASHI_VK_FAULT)");
    }
    if (create_device(vk, err) != 0 || create_pipeline_cache(vk, err) != 0) {
        destroy_device(vk);
        return -1;
    }
    vk->lost = false;
    return 0;
}
