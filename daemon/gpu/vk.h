/* SPDX-License-Identifier: MIT */
/* The Vulkan runtime the daemon owns for its lifetime: one instance, one device, one
 * compute queue, buffers sub-allocated from a few large memory blocks, kernels (compute
 * pipelines from embedded SPIR-V) cached by name and specialisation, a pipeline cache
 * persisted in the state directory, and command buffers with timestamp queries.
 * Used from one thread at a time (the daemon's GPU thread; tests and benches directly). */
#ifndef DASHI_VK_H
#define DASHI_VK_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <vulkan/vulkan.h>

#include "errors.h"
#include "thread_owner.h"

enum vk_mem_kind {
    VK_MEM_DEVICE,   /* device-local; filled by vk_upload / kernels */
    VK_MEM_HOST,     /* host-visible, coherent, persistently mapped (staging, readback) */
};

/* A range inside one of the runtime's memory blocks, bound to its own VkBuffer-sized
 * window: (buffer, offset, size) is what descriptors and copies use. */
struct vk_buffer {
    VkBuffer buffer;      /* the block's VkBuffer */
    VkDeviceSize offset;  /* of this range inside the block (aligned) */
    VkDeviceSize size;
    void *mapped;         /* host pointer to the range for VK_MEM_HOST, else NULL */
    int block;            /* allocator bookkeeping; -1 when empty */
    enum vk_mem_kind kind;
};

struct vk_kernel {
    VkPipeline pipeline;
    VkPipelineLayout layout;
    VkDescriptorSetLayout set_layout;
    uint32_t bindings;   /* storage buffers at bindings 0..bindings-1 of set 0 */
    uint32_t push_bytes; /* push-constant range size (0: none) */
};

/* Fault injection, for testing what the daemon does when the device fails: read once
 * from the environment variable DASHI_VK_FAULT by vk_runtime_open (docs/cli.md, "The GPU
 * thread and device loss"), a comma-separated list of rules:
 *   device_lost:WHEN[:K]  K queue submissions (vk_cmd_submit_wait) fail with
 *                         VK_ERROR_DEVICE_LOST, and the runtime counts as lost
 *   oom:WHEN[:K]          K device-memory allocations (vk_buffer_alloc) fail with
 *                         VK_ERROR_OUT_OF_DEVICE_MEMORY
 *   recreate_fail:M       the first M re-creations of a lost device (vk_runtime_reset) fail
 * WHEN is N (the Nth such call since vk_runtime_open, N >= 1) or `usr1` (the next call
 * after each vk_fault_arm, which the daemon calls on SIGUSR1); K defaults to 1. */
enum vk_fault_op { VK_FAULT_SUBMIT, VK_FAULT_ALLOC, VK_FAULT_OPS };
struct vk_fault_rule {
    bool on_signal;              /* armed by vk_fault_arm, not counted from the start */
    uint64_t at;                 /* counted rules: index of the first failing call */
    uint64_t count;              /* consecutive calls that fail (0: no rule) */
    uint64_t seen;               /* calls so far (the runtime's thread only) */
    atomic_uint_fast64_t pending;/* calls still to fail; set by the count or by vk_fault_arm */
};
struct vk_fault {
    bool enabled;
    char spec[128];              /* DASHI_VK_FAULT as given, for the log */
    struct vk_fault_rule rule[VK_FAULT_OPS];
    uint64_t recreate_failures;  /* re-creations still to fail */
};
/* Parses a DASHI_VK_FAULT value (NULL or empty: no faults); E_BAD_VALUE naming it. */
int vk_fault_parse(const char *spec, struct vk_fault *out, struct dashi_error *err);
/* Whether this call of kind op is to fail (counts it). */
bool vk_fault_hit(struct vk_fault *f, enum vk_fault_op op);
/* Arms the usr1 rules: each fails its next K calls. Any thread (atomic). Returns whether
 * any rule waits for it. */
bool vk_fault_arm(struct vk_fault *f);

struct vk_block; /* private to vk_runtime.c */
struct vk_kernel_entry;

struct vk_runtime {
    VkInstance instance;
    VkPhysicalDevice phys;
    VkDevice device;
    VkQueue queue;
    uint32_t queue_family;
    VkCommandPool cmd_pool;
    VkDescriptorPool desc_pool;
    VkPipelineCache pipeline_cache;
    char pipeline_cache_path[4096]; /* empty: not persisted */

    /* What jobs record about the device. */
    char device_name[256];
    char driver_name[128];   /* e.g. "llvmpipe" / "NVIDIA" */
    char driver_info[128];   /* driver version string */
    char api_version[32];
    bool is_cpu;             /* VK_PHYSICAL_DEVICE_TYPE_CPU (lavapipe) */
    bool fp64, int64;
    bool int64_atomics;      /* shaderBufferInt64Atomics, enabled when the device has it */
    /* int8 × int8 → int32 subgroup matrices of 16×16×32 (VK_NV_cooperative_matrix with
     * shaderInt8 and 8-bit storage buffers), enabled when the device has them: the tensor
     * cores that the rollout's split product runs on (docs/numerics.md). */
    bool int8_matrix;
    bool float16; /* shaderFloat16, enabled with int8_matrix when the device has it */
    bool pipeline_stats; /* DASHI_VK_PIPELINE_STATS=1 where supported: kernels print the
                          * driver's statistics (registers...) to stderr when built */
    uint32_t subgroup_size;
    uint32_t max_workgroup_size; /* x dimension */
    uint32_t max_shared_bytes;
    VkDeviceSize max_storage_range;
    VkDeviceSize memory_budget;  /* bytes of device-local memory jobs may use */
    VkDeviceSize memory_used;
    float timestamp_period_ns;   /* 0 when timestamps are unsupported on the queue */

    struct vk_block *blocks;
    int nblocks, cap_blocks;
    struct vk_kernel_entry *kernels;

    /* Set when a call returned VK_ERROR_DEVICE_LOST (real or injected): every object of
     * the device is useless from then on; vk_runtime_reset re-creates them. */
    bool lost;
    struct vk_fault fault;
    /* The thread that submits work and re-creates the device: the one that opened the
     * runtime, until another claims it (the daemon's GPU thread does, at its start). */
    struct thread_owner owner;
};

/* device: "auto" (first discrete GPU, else integrated, else lavapipe), "lavapipe",
 * a decimal index into vkEnumeratePhysicalDevices, or a substring of the device name.
 * Fails with E_NO_GPU when the requested device is absent (never substitutes another)
 * and when the chosen device lacks shaderFloat64/shaderInt64.
 * state_dir may be NULL (no persisted pipeline cache). */
int vk_runtime_open(struct vk_runtime *vk, const char *device, const char *state_dir, struct dashi_error *err);
/* The physical devices (indexes for vk_runtime_open, at most max, into idx) that a
 * `devices` list names: "all" (or empty) is every discrete GPU, else the one "auto"
 * picks; otherwise a comma-separated list of items, each selected as vk_runtime_open's
 * `device` (a device named twice counts once). E_NO_GPU naming `devices` when an item
 * matches nothing or no device exists. */
int vk_select_devices(const char *list, uint32_t *idx, int max, int *count, struct dashi_error *err);
/* Whether the device is lost: a call returned VK_ERROR_DEVICE_LOST (vk->lost), or it
 * does now (vkDeviceWaitIdle is asked). Called after an operation failed, to tell a lost
 * device from an error of the operation's own. */
bool vk_runtime_lost(struct vk_runtime *vk);
/* Re-creates the logical device on the same physical device after a loss: destroys every
 * kernel, buffer block, pool and the pipeline cache (not saved: it came from a lost
 * device) and creates them again, the pipeline cache from its file. Everything obtained
 * from the runtime before (buffers, kernels, descriptor sets, command buffers) must have
 * been released first. The descriptive fields (device_name, features, limits,
 * memory_budget) do not change, so other threads may read them meanwhile. On failure the
 * runtime has no device (E_VULKAN / E_NO_GPU) and vk_runtime_reset may be called again. */
/* Owner thread only (vk->owner). */
int vk_runtime_reset(struct vk_runtime *vk, struct dashi_error *err);
/* Whether the physical device offers the named device extension. */
bool vk_device_has_extension(VkPhysicalDevice phys, const char *name);
/* Waits idle, saves the pipeline cache (unless the device was lost), destroys everything.
 * Safe on a zeroed struct. */
void vk_runtime_close(struct vk_runtime *vk);
/* Lists devices as "index: name (type)" lines into buf, for `dashid --list-devices`. */
int vk_list_devices(char *buf, size_t cap, struct dashi_error *err);

/* Sub-allocation: ranges are aligned for storage-buffer use; large requests get their
 * own block. E_DEVICE_MEMORY when size exceeds the budget or maxStorageBufferRange. */
int vk_buffer_alloc(struct vk_runtime *vk, VkDeviceSize size, enum vk_mem_kind kind, struct vk_buffer *out,
                    struct dashi_error *err);
void vk_buffer_free(struct vk_runtime *vk, struct vk_buffer *b); /* safe on an empty buffer */
/* Gives every shared block with nothing handed out back to the driver (they are otherwise
 * kept for reuse); returns the bytes released. The GPU thread calls it when an allocation
 * ran out of device memory, so memory cached for earlier jobs never makes a job fail. */
VkDeviceSize vk_alloc_trim(struct vk_runtime *vk);

/* The compute kernel of an embedded shader module (see shaders.h) with `bindings`
 * storage buffers, a push-constant block of push_bytes, and specialisation constants
 * spec[0..nspec) as uint32 at constant_id 0..nspec-1. Built once and cached for the
 * runtime's life; the pointer stays valid until vk_runtime_close. */
int vk_kernel_get(struct vk_runtime *vk, const char *shader, uint32_t bindings, uint32_t push_bytes,
                  const uint32_t *spec, uint32_t nspec, const struct vk_kernel **out, struct dashi_error *err);

/* A descriptor set binding bufs[0..kernel->bindings) to bindings 0.. of set 0. */
int vk_descriptor_set(struct vk_runtime *vk, const struct vk_kernel *k, const struct vk_buffer *const *bufs,
                      VkDescriptorSet *out, struct dashi_error *err);
void vk_descriptor_set_free(struct vk_runtime *vk, VkDescriptorSet set);

/* A command buffer with a fence and a timestamp query pool. Record with the vk_cmd_*
 * calls, then vk_cmd_submit_wait; it can be reset and reused with vk_cmd_begin. */
#define VK_CMD_MAX_TIMESTAMPS 64
struct vk_cmd {
    VkCommandBuffer cb;
    VkFence fence;
    VkQueryPool queries;
    uint32_t timestamps; /* written so far */
    bool recording;
    bool pending;        /* submitted, not yet waited for (vk_cmd_submit) */
};
int vk_cmd_create(struct vk_runtime *vk, struct vk_cmd *c, struct dashi_error *err);
void vk_cmd_destroy(struct vk_runtime *vk, struct vk_cmd *c);
int vk_cmd_begin(struct vk_runtime *vk, struct vk_cmd *c, struct dashi_error *err);
/* Workgroups for `items` invocations in groups of wg, laid out as gx × gy with gx at most
 * 65535 (the x count every device allows); kernels recover the index as
 * (group.y·gx + group.x)·wg + local and skip indices ≥ items. */
struct vk_grid {
    uint32_t gx, gy;
};
struct vk_grid vk_grid_for(uint64_t items, uint32_t wg);
void vk_cmd_dispatch(struct vk_cmd *c, const struct vk_kernel *k, VkDescriptorSet set, const void *push,
                     uint32_t gx, uint32_t gy, uint32_t gz);
/* Makes every earlier shader/transfer write visible to every later shader/transfer access. */
void vk_cmd_barrier(struct vk_cmd *c);
void vk_cmd_copy(struct vk_cmd *c, const struct vk_buffer *src, VkDeviceSize src_off, const struct vk_buffer *dst,
                 VkDeviceSize dst_off, VkDeviceSize size);
void vk_cmd_fill_zero(struct vk_cmd *c, const struct vk_buffer *dst, VkDeviceSize off, VkDeviceSize size);
/* Writes a timestamp (no-op when unsupported); returns its index or -1. */
int vk_cmd_timestamp(struct vk_cmd *c);
/* Ends, submits, waits for the fence (E_VULKAN, naming VK_ERROR_DEVICE_LOST etc.). */
/* Owner thread only (vk->owner). */
int vk_cmd_submit_wait(struct vk_runtime *vk, struct vk_cmd *c, struct dashi_error *err);
/* The same in two halves, so the host can record the next work while this runs:
 * vk_cmd_submit ends and submits; vk_cmd_wait waits for its fence (0 at once when
 * nothing is pending). Submissions on the one queue run in order; each ends with a
 * barrier that orders it before every later submission. */
int vk_cmd_submit(struct vk_runtime *vk, struct vk_cmd *c, struct dashi_error *err);
int vk_cmd_wait(struct vk_runtime *vk, struct vk_cmd *c, struct dashi_error *err);
/* Milliseconds between two timestamps of the last submission; negative if unavailable. */
double vk_cmd_elapsed_ms(struct vk_runtime *vk, struct vk_cmd *c, int from, int to);

/* Synchronous transfers through an internal staging buffer (chunked for any size). */
int vk_upload(struct vk_runtime *vk, const struct vk_buffer *dst, VkDeviceSize off, const void *src, size_t n,
              struct dashi_error *err);
int vk_download(struct vk_runtime *vk, const struct vk_buffer *src, VkDeviceSize off, void *dst, size_t n,
                struct dashi_error *err);

/* Turns a VkResult into an E_VULKAN error naming the call; returns -1. */
int vk_fail(struct dashi_error *err, VkResult r, const char *what);

#endif
