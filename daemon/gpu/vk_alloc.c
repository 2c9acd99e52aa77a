/* SPDX-License-Identifier: MIT */
/* Buffer sub-allocation. Memory comes in blocks (VK_BLOCK_BYTES, or one dedicated block
 * per larger request), each with one VkBuffer over all of it, so a vk_buffer is just
 * (block buffer, offset, size). Ranges are handed out first-fit from a per-block free
 * list sorted by offset; freeing merges a range with its free neighbours. Device-local
 * bytes handed out are counted against vk->memory_budget. */
#include "vk_internal.h"

#include <stdlib.h>
#include <string.h>

VkDeviceSize vk_alloc_alignment(const struct vk_runtime *vk)
{
    VkPhysicalDeviceProperties p;
    vkGetPhysicalDeviceProperties(vk->phys, &p);
    VkDeviceSize a = p.limits.minStorageBufferOffsetAlignment;
    return a > 256 ? a : 256;
}

static VkDeviceSize round_up(VkDeviceSize x, VkDeviceSize a)
{
    return (x + a - 1) / a * a;
}

static int find_memory_type(const struct vk_runtime *vk, uint32_t type_bits, enum vk_mem_kind kind)
{
    VkPhysicalDeviceMemoryProperties mp;
    vkGetPhysicalDeviceMemoryProperties(vk->phys, &mp);
    const VkMemoryPropertyFlags host = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
    /* In order of preference; host readback prefers cached memory. */
    VkMemoryPropertyFlags prefs[2];
    if (kind == VK_MEM_DEVICE) {
        prefs[0] = VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT;
        prefs[1] = 0;
    } else {
        prefs[0] = host | VK_MEMORY_PROPERTY_HOST_CACHED_BIT;
        prefs[1] = host;
    }
    for (int k = 0; k < 2; k++)
        for (uint32_t i = 0; i < mp.memoryTypeCount; i++)
            if ((type_bits & (1u << i)) && (mp.memoryTypes[i].propertyFlags & prefs[k]) == prefs[k])
                return (int)i;
    return -1;
}

static void block_release(struct vk_runtime *vk, struct vk_block *b)
{
    if (b->mapped)
        vkUnmapMemory(vk->device, b->memory);
    if (b->buffer)
        vkDestroyBuffer(vk->device, b->buffer, NULL);
    if (b->memory)
        vkFreeMemory(vk->device, b->memory, NULL);
    free(b->free);
    memset(b, 0, sizeof *b);
}

/* A new block in a free slot of vk->blocks; returns its index or -1. */
static int block_create(struct vk_runtime *vk, VkDeviceSize size, enum vk_mem_kind kind, bool dedicated,
                        struct dashi_error *err)
{
    int slot = -1;
    for (int i = 0; i < vk->nblocks && slot < 0; i++)
        if (!vk->blocks[i].memory)
            slot = i;
    if (slot < 0) {
        if (vk->nblocks == vk->cap_blocks) {
            int cap = vk->cap_blocks ? vk->cap_blocks * 2 : 16;
            struct vk_block *nb = realloc(vk->blocks, (size_t)cap * sizeof *nb);
            if (!nb)
                return dashi_fail(err, DASHI_E_INTERNAL, "", "out of memory");
            vk->blocks = nb;
            vk->cap_blocks = cap;
        }
        slot = vk->nblocks++;
        memset(&vk->blocks[slot], 0, sizeof vk->blocks[slot]);
    }
    struct vk_block *b = &vk->blocks[slot];
    b->kind = kind;
    b->size = size;
    b->dedicated = dedicated;
    VkBufferCreateInfo bci = {.sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO,
                              .size = size,
                              .usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_SRC_BIT |
                                       VK_BUFFER_USAGE_TRANSFER_DST_BIT,
                              .sharingMode = VK_SHARING_MODE_EXCLUSIVE};
    VkResult r = vkCreateBuffer(vk->device, &bci, NULL, &b->buffer);
    if (r != VK_SUCCESS)
        goto vkfail_buffer;
    VkMemoryRequirements req;
    vkGetBufferMemoryRequirements(vk->device, b->buffer, &req);
    int type = find_memory_type(vk, req.memoryTypeBits, kind);
    if (type < 0) {
        block_release(vk, b);
        return dashi_fail(err, DASHI_E_VULKAN, "", "no suitable memory type for %s buffers",
                          kind == VK_MEM_DEVICE ? "device" : "host");
    }
    VkMemoryAllocateInfo mai = {
        .sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO, .allocationSize = req.size, .memoryTypeIndex = (uint32_t)type};
    r = vkAllocateMemory(vk->device, &mai, NULL, &b->memory);
    if (r != VK_SUCCESS)
        goto vkfail_alloc;
    r = vkBindBufferMemory(vk->device, b->buffer, b->memory, 0);
    if (r != VK_SUCCESS)
        goto vkfail_bind;
    if (kind == VK_MEM_HOST) {
        r = vkMapMemory(vk->device, b->memory, 0, VK_WHOLE_SIZE, 0, &b->mapped);
        if (r != VK_SUCCESS)
            goto vkfail_map;
    }
    b->free = malloc(sizeof *b->free);
    if (!b->free) {
        block_release(vk, b);
        return dashi_fail(err, DASHI_E_INTERNAL, "", "out of memory");
    }
    b->free[0] = (struct vk_free_range){0, size};
    b->nfree = b->cap_free = 1;
    return slot;

    const char *what;
vkfail_buffer: what = "vkCreateBuffer"; goto out;
vkfail_alloc: what = "vkAllocateMemory"; goto out;
vkfail_bind: what = "vkBindBufferMemory"; goto out;
vkfail_map: what = "vkMapMemory"; goto out;
out:
    block_release(vk, b);
    return vk_fail(err, r, what);
}

/* First fit inside one block; returns the offset or (VkDeviceSize)-1. */
static VkDeviceSize block_take(struct vk_block *b, VkDeviceSize size)
{
    for (int i = 0; i < b->nfree; i++) {
        struct vk_free_range *f = &b->free[i];
        if (f->size < size)
            continue;
        VkDeviceSize off = f->offset;
        f->offset += size;
        f->size -= size;
        if (f->size == 0) {
            memmove(f, f + 1, (size_t)(b->nfree - i - 1) * sizeof *f);
            b->nfree--;
        }
        return off;
    }
    return (VkDeviceSize)-1;
}

/* Returns a range to the free list, merging it with adjacent free ranges. */
static int block_give(struct vk_block *b, VkDeviceSize off, VkDeviceSize size)
{
    int i = 0;
    while (i < b->nfree && b->free[i].offset < off)
        i++;
    bool merge_prev = i > 0 && b->free[i - 1].offset + b->free[i - 1].size == off;
    bool merge_next = i < b->nfree && off + size == b->free[i].offset;
    if (merge_prev && merge_next) {
        b->free[i - 1].size += size + b->free[i].size;
        memmove(&b->free[i], &b->free[i + 1], (size_t)(b->nfree - i - 1) * sizeof *b->free);
        b->nfree--;
    } else if (merge_prev) {
        b->free[i - 1].size += size;
    } else if (merge_next) {
        b->free[i].offset = off;
        b->free[i].size += size;
    } else {
        if (b->nfree == b->cap_free) {
            int cap = b->cap_free * 2;
            struct vk_free_range *nf = realloc(b->free, (size_t)cap * sizeof *nf);
            if (!nf)
                return -1; /* the range leaks inside the block; harmless */
            b->free = nf;
            b->cap_free = cap;
        }
        memmove(&b->free[i + 1], &b->free[i], (size_t)(b->nfree - i) * sizeof *b->free);
        b->free[i] = (struct vk_free_range){off, size};
        b->nfree++;
    }
    return 0;
}

int vk_buffer_alloc(struct vk_runtime *vk, VkDeviceSize size, enum vk_mem_kind kind, struct vk_buffer *out,
                    struct dashi_error *err)
{
    memset(out, 0, sizeof *out);
    out->block = -1;
    if (size == 0)
        return dashi_fail(err, DASHI_E_INTERNAL, "size", "vk_buffer_alloc: zero size");
    if (size > vk->max_storage_range)
        return dashi_fail(err, DASHI_E_DEVICE_MEMORY, "", "buffer of %llu bytes exceeds the device's %llu-byte "
                          "storage buffer range", (unsigned long long)size,
                          (unsigned long long)vk->max_storage_range);
    VkDeviceSize rounded = round_up(size, vk_alloc_alignment(vk));
    if (kind == VK_MEM_DEVICE && vk->memory_used + rounded > vk->memory_budget)
        return dashi_fail(err, DASHI_E_DEVICE_MEMORY, "", "%llu bytes requested, %llu of the %llu-byte device "
                          "budget in use", (unsigned long long)size, (unsigned long long)vk->memory_used,
                          (unsigned long long)vk->memory_budget);
    if (kind == VK_MEM_DEVICE && vk_fault_hit(&vk->fault, VK_FAULT_ALLOC))
        return vk_fail(err, VK_ERROR_OUT_OF_DEVICE_MEMORY, "vkAllocateMemory (injected by DASHI_VK_FAULT)");
    int slot = -1;
    VkDeviceSize off = (VkDeviceSize)-1;
    if (rounded <= VK_BLOCK_BYTES) {
        for (int i = 0; i < vk->nblocks && slot < 0; i++) {
            struct vk_block *b = &vk->blocks[i];
            if (!b->memory || b->kind != kind || b->dedicated)
                continue;
            off = block_take(b, rounded);
            if (off != (VkDeviceSize)-1)
                slot = i;
        }
    }
    if (slot < 0) {
        bool dedicated = rounded > VK_BLOCK_BYTES;
        slot = block_create(vk, dedicated ? rounded : VK_BLOCK_BYTES, kind, dedicated, err);
        if (slot < 0)
            return -1;
        off = block_take(&vk->blocks[slot], rounded);
    }
    struct vk_block *b = &vk->blocks[slot];
    out->buffer = b->buffer;
    out->offset = off;
    out->size = rounded;
    out->mapped = b->mapped ? (char *)b->mapped + off : NULL;
    out->block = slot;
    out->kind = kind;
    if (kind == VK_MEM_DEVICE)
        vk->memory_used += rounded;
    return 0;
}

void vk_buffer_free(struct vk_runtime *vk, struct vk_buffer *buf)
{
    if (!buf->buffer || buf->block < 0 || buf->block >= vk->nblocks || !vk->blocks[buf->block].memory) {
        buf->block = -1;
        return;
    }
    struct vk_block *b = &vk->blocks[buf->block];
    if (buf->kind == VK_MEM_DEVICE)
        vk->memory_used -= buf->size;
    /* Dedicated blocks go back to the driver at once; shared blocks stay for reuse. */
    if (b->dedicated)
        block_release(vk, b);
    else
        block_give(b, buf->offset, buf->size);
    memset(buf, 0, sizeof *buf);
    buf->block = -1;
}

VkDeviceSize vk_alloc_trim(struct vk_runtime *vk)
{
    VkDeviceSize released = 0;
    for (int i = 0; i < vk->nblocks; i++) {
        struct vk_block *b = &vk->blocks[i];
        bool empty = b->memory && !b->dedicated && b->nfree == 1 && b->free[0].offset == 0 &&
                     b->free[0].size == b->size;
        if (empty) {
            released += b->size;
            block_release(vk, b);
        }
    }
    return released;
}

void vk_alloc_destroy_all(struct vk_runtime *vk)
{
    for (int i = 0; i < vk->nblocks; i++)
        if (vk->blocks[i].memory)
            block_release(vk, &vk->blocks[i]);
    free(vk->blocks);
    vk->blocks = NULL;
    vk->nblocks = vk->cap_blocks = 0;
    vk->memory_used = 0;
}
