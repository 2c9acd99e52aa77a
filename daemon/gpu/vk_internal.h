/* SPDX-License-Identifier: MIT */
/* Private to the Vulkan runtime (vk_runtime.c, vk_alloc.c, vk_cmd.c, vk_kernel.c):
 * the allocator's blocks, the kernel cache entries and the helpers the files share. */
#ifndef DASHI_VK_INTERNAL_H
#define DASHI_VK_INTERNAL_H

#include "vk.h"

/* Default size of a shared memory block; larger requests get a dedicated block. */
#define VK_BLOCK_BYTES ((VkDeviceSize)64 << 20)
/* Staging buffer used by vk_upload / vk_download; bigger transfers are chunked. */
#define VK_STAGING_BYTES ((size_t)16 << 20)
#define VK_MAX_SPEC 16

struct vk_free_range {
    VkDeviceSize offset, size;
};

/* One VkDeviceMemory with one VkBuffer over all of it; ranges are handed out first-fit
 * from a free list kept sorted by offset (so neighbours coalesce on free). */
struct vk_block {
    VkDeviceMemory memory; /* VK_NULL_HANDLE: slot unused */
    VkBuffer buffer;
    VkDeviceSize size;
    enum vk_mem_kind kind;
    void *mapped;
    bool dedicated;
    struct vk_free_range *free;
    int nfree, cap_free;
};

struct vk_kernel_entry {
    struct vk_kernel kernel;
    char name[64];
    uint32_t spec[VK_MAX_SPEC];
    uint32_t nspec;
    struct vk_kernel_entry *next;
};

const char *vk_result_name(VkResult r);
/* Alignment of every sub-allocation. */
VkDeviceSize vk_alloc_alignment(const struct vk_runtime *vk);
void vk_alloc_destroy_all(struct vk_runtime *vk);
void vk_kernels_destroy_all(struct vk_runtime *vk);

#endif
