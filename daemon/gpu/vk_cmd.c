/* SPDX-License-Identifier: MIT */
/* Command buffers with a fence and timestamp queries, and the synchronous staging
 * transfers built on them. A vk_cmd that was submitted and not begun again can be
 * submitted again as is (vk_cmd_submit_wait on an ended buffer resubmits it): the
 * rollout engine records its per-step dispatches once and replays them. */
#include "vk_internal.h"

#include <stdint.h>
#include <string.h>

int vk_cmd_create(struct vk_runtime *vk, struct vk_cmd *c, struct dashi_error *err)
{
    memset(c, 0, sizeof *c);
    VkCommandBufferAllocateInfo ai = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
                                      .commandPool = vk->cmd_pool,
                                      .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
                                      .commandBufferCount = 1};
    VkResult r = vkAllocateCommandBuffers(vk->device, &ai, &c->cb);
    if (r != VK_SUCCESS)
        return vk_fail(err, r, "vkAllocateCommandBuffers");
    VkFenceCreateInfo fci = {.sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
    r = vkCreateFence(vk->device, &fci, NULL, &c->fence);
    if (r != VK_SUCCESS) {
        vk_cmd_destroy(vk, c);
        return vk_fail(err, r, "vkCreateFence");
    }
    if (vk->timestamp_period_ns > 0) {
        VkQueryPoolCreateInfo qci = {.sType = VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO,
                                     .queryType = VK_QUERY_TYPE_TIMESTAMP,
                                     .queryCount = VK_CMD_MAX_TIMESTAMPS};
        r = vkCreateQueryPool(vk->device, &qci, NULL, &c->queries);
        if (r != VK_SUCCESS) {
            vk_cmd_destroy(vk, c);
            return vk_fail(err, r, "vkCreateQueryPool");
        }
    }
    return 0;
}

void vk_cmd_destroy(struct vk_runtime *vk, struct vk_cmd *c)
{
    if (!vk->device)
        return;
    if (c->pending) /* a command buffer in flight may not be freed; a lost device returns at once */
        (void)vkWaitForFences(vk->device, 1, &c->fence, VK_TRUE, UINT64_MAX);
    if (c->queries)
        vkDestroyQueryPool(vk->device, c->queries, NULL);
    if (c->fence)
        vkDestroyFence(vk->device, c->fence, NULL);
    if (c->cb)
        vkFreeCommandBuffers(vk->device, vk->cmd_pool, 1, &c->cb);
    memset(c, 0, sizeof *c);
}

int vk_cmd_begin(struct vk_runtime *vk, struct vk_cmd *c, struct dashi_error *err)
{
    (void)vk;
    VkResult r = vkResetCommandBuffer(c->cb, 0);
    if (r != VK_SUCCESS)
        return vk_fail(err, r, "vkResetCommandBuffer");
    /* Not ONE_TIME_SUBMIT: the recording may be replayed. */
    VkCommandBufferBeginInfo bi = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
    r = vkBeginCommandBuffer(c->cb, &bi);
    if (r != VK_SUCCESS)
        return vk_fail(err, r, "vkBeginCommandBuffer");
    c->recording = true;
    c->timestamps = 0;
    if (c->queries)
        vkCmdResetQueryPool(c->cb, c->queries, 0, VK_CMD_MAX_TIMESTAMPS);
    return 0;
}

void vk_cmd_dispatch(struct vk_cmd *c, const struct vk_kernel *k, VkDescriptorSet set, const void *push,
                     uint32_t gx, uint32_t gy, uint32_t gz)
{
    vkCmdBindPipeline(c->cb, VK_PIPELINE_BIND_POINT_COMPUTE, k->pipeline);
    vkCmdBindDescriptorSets(c->cb, VK_PIPELINE_BIND_POINT_COMPUTE, k->layout, 0, 1, &set, 0, NULL);
    if (k->push_bytes && push)
        vkCmdPushConstants(c->cb, k->layout, VK_SHADER_STAGE_COMPUTE_BIT, 0, k->push_bytes, push);
    vkCmdDispatch(c->cb, gx, gy, gz);
}

static void memory_barrier(struct vk_cmd *c, VkPipelineStageFlags dst_stage, VkAccessFlags dst_access)
{
    VkMemoryBarrier mb = {.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
                          .srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT,
                          .dstAccessMask = dst_access};
    vkCmdPipelineBarrier(c->cb, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT, dst_stage,
                         0, 1, &mb, 0, NULL, 0, NULL);
}

void vk_cmd_barrier(struct vk_cmd *c)
{
    memory_barrier(c, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT,
                   VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_READ_BIT |
                       VK_ACCESS_TRANSFER_WRITE_BIT);
}

void vk_cmd_copy(struct vk_cmd *c, const struct vk_buffer *src, VkDeviceSize src_off, const struct vk_buffer *dst,
                 VkDeviceSize dst_off, VkDeviceSize size)
{
    VkBufferCopy region = {.srcOffset = src->offset + src_off, .dstOffset = dst->offset + dst_off, .size = size};
    vkCmdCopyBuffer(c->cb, src->buffer, dst->buffer, 1, &region);
}

void vk_cmd_fill_zero(struct vk_cmd *c, const struct vk_buffer *dst, VkDeviceSize off, VkDeviceSize size)
{
    vkCmdFillBuffer(c->cb, dst->buffer, dst->offset + off, size, 0);
}

int vk_cmd_timestamp(struct vk_cmd *c)
{
    if (!c->queries || c->timestamps >= VK_CMD_MAX_TIMESTAMPS)
        return -1;
    vkCmdWriteTimestamp(c->cb, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, c->queries, c->timestamps);
    return (int)c->timestamps++;
}

/* Submission is where a lost device shows: the runtime remembers it (vk->lost). */
static int submit_failed(struct vk_runtime *vk, struct dashi_error *err, VkResult r, const char *what)
{
    if (r == VK_ERROR_DEVICE_LOST)
        vk->lost = true;
    return vk_fail(err, r, what);
}

int vk_cmd_submit(struct vk_runtime *vk, struct vk_cmd *c, struct dashi_error *err)
{
    thread_owner_check(&vk->owner, "vk_cmd_submit");
    VkResult r;
    if (c->recording) {
        /* Device writes must be visible to host reads after the fence and to the
         * shaders and copies of later submissions. */
        memory_barrier(c, VK_PIPELINE_STAGE_HOST_BIT | VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT |
                              VK_PIPELINE_STAGE_TRANSFER_BIT,
                       VK_ACCESS_HOST_READ_BIT | VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT |
                           VK_ACCESS_TRANSFER_READ_BIT | VK_ACCESS_TRANSFER_WRITE_BIT);
        r = vkEndCommandBuffer(c->cb);
        c->recording = false;
        if (r != VK_SUCCESS)
            return vk_fail(err, r, "vkEndCommandBuffer");
    }
    if (vk->lost) /* nothing runs on a lost device: no call may pretend otherwise */
        return vk_fail(err, VK_ERROR_DEVICE_LOST, "vkQueueSubmit (the device was lost before)");
    if (vk_fault_hit(&vk->fault, VK_FAULT_SUBMIT))
        return submit_failed(vk, err, VK_ERROR_DEVICE_LOST, "vkQueueSubmit (injected by DASHI_VK_FAULT)");
    r = vkResetFences(vk->device, 1, &c->fence);
    if (r != VK_SUCCESS)
        return submit_failed(vk, err, r, "vkResetFences");
    VkSubmitInfo si = {.sType = VK_STRUCTURE_TYPE_SUBMIT_INFO, .commandBufferCount = 1, .pCommandBuffers = &c->cb};
    r = vkQueueSubmit(vk->queue, 1, &si, c->fence);
    if (r != VK_SUCCESS)
        return submit_failed(vk, err, r, "vkQueueSubmit");
    c->pending = true;
    return 0;
}

int vk_cmd_wait(struct vk_runtime *vk, struct vk_cmd *c, struct dashi_error *err)
{
    if (!c->pending)
        return 0;
    c->pending = false; /* signalled, or the device is lost: either way nothing is left to wait for */
    VkResult r = vkWaitForFences(vk->device, 1, &c->fence, VK_TRUE, UINT64_MAX);
    if (r != VK_SUCCESS)
        return submit_failed(vk, err, r, "vkWaitForFences");
    return 0;
}

int vk_cmd_submit_wait(struct vk_runtime *vk, struct vk_cmd *c, struct dashi_error *err)
{
    if (vk_cmd_submit(vk, c, err) != 0)
        return -1;
    return vk_cmd_wait(vk, c, err);
}

double vk_cmd_elapsed_ms(struct vk_runtime *vk, struct vk_cmd *c, int from, int to)
{
    if (!c->queries || from < 0 || to < 0 || (uint32_t)from >= c->timestamps || (uint32_t)to >= c->timestamps)
        return -1.0;
    uint64_t t[2];
    VkResult r = vkGetQueryPoolResults(vk->device, c->queries, (uint32_t)from, 1, sizeof t[0], &t[0], sizeof t[0],
                                       VK_QUERY_RESULT_64_BIT);
    if (r == VK_SUCCESS)
        r = vkGetQueryPoolResults(vk->device, c->queries, (uint32_t)to, 1, sizeof t[1], &t[1], sizeof t[1],
                                  VK_QUERY_RESULT_64_BIT);
    if (r != VK_SUCCESS)
        return -1.0;
    return (double)(int64_t)(t[1] - t[0]) * vk->timestamp_period_ns * 1e-6;
}

/* One staging buffer and command buffer per transfer: transfers are not hot paths. */
static int transfer(struct vk_runtime *vk, const struct vk_buffer *dev, VkDeviceSize off, void *host, size_t n,
                    bool upload, struct dashi_error *err)
{
    if (n == 0)
        return 0;
    if (off + n > dev->size)
        return dashi_fail(err, DASHI_E_INTERNAL, "", "%s of %zu bytes at %llu overruns a %llu-byte buffer",
                          upload ? "upload" : "download", n, (unsigned long long)off,
                          (unsigned long long)dev->size);
    size_t chunk = n < VK_STAGING_BYTES ? n : VK_STAGING_BYTES;
    struct vk_buffer staging;
    if (vk_buffer_alloc(vk, chunk, VK_MEM_HOST, &staging, err) != 0)
        return -1;
    struct vk_cmd c;
    if (vk_cmd_create(vk, &c, err) != 0) {
        vk_buffer_free(vk, &staging);
        return -1;
    }
    int rc = 0;
    for (size_t done = 0; done < n && rc == 0; done += chunk) {
        size_t len = n - done < chunk ? n - done : chunk;
        if (upload)
            memcpy(staging.mapped, (const char *)host + done, len);
        rc = vk_cmd_begin(vk, &c, err);
        if (rc != 0)
            break;
        if (upload)
            vk_cmd_copy(&c, &staging, 0, dev, off + done, len);
        else
            vk_cmd_copy(&c, dev, off + done, &staging, 0, len);
        rc = vk_cmd_submit_wait(vk, &c, err);
        if (rc == 0 && !upload)
            memcpy((char *)host + done, staging.mapped, len);
    }
    vk_cmd_destroy(vk, &c);
    vk_buffer_free(vk, &staging);
    return rc;
}

int vk_upload(struct vk_runtime *vk, const struct vk_buffer *dst, VkDeviceSize off, const void *src, size_t n,
              struct dashi_error *err)
{
    return transfer(vk, dst, off, (void *)src, n, true, err);
}

int vk_download(struct vk_runtime *vk, const struct vk_buffer *src, VkDeviceSize off, void *dst, size_t n,
                struct dashi_error *err)
{
    return transfer(vk, src, off, dst, n, false, err);
}

struct vk_grid vk_grid_for(uint64_t items, uint32_t wg)
{
    uint64_t groups = (items + wg - 1) / wg;
    uint32_t gx = (uint32_t)(groups < 65535u ? groups : 65535u);
    if (gx == 0)
        return (struct vk_grid){0, 0};
    return (struct vk_grid){gx, (uint32_t)((groups + gx - 1) / gx)};
}
