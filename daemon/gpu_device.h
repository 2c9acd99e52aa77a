/* SPDX-License-Identifier: MIT */
/* One GPU of the pool (docs/architecture.md "The device pool"): its Vulkan runtime, FFT
 * plan cache, health, resident results and GPU thread. struct daemon holds an array of
 * them (config devices); the scheduler keeps each one's memory budget, running job and
 * load counters (struct sched_device, under its mutex), since placement decides by them.
 * Thread ownership: the device's GPU thread owns vk, fft and resident once it runs;
 * health is shared (device_health.h); index and the runtime's descriptive fields are
 * immutable after start. */
#ifndef DASHI_GPU_DEVICE_H
#define DASHI_GPU_DEVICE_H

#include <stdbool.h>
#include <uv.h>

#include "config.h"
#include "device_health.h"
#include "errors.h"
#include "resident.h"
#include "vk.h"

#define GPU_MAX_DEVICES 16 /* SCHED_MAX_DEVICES */

struct daemon;
struct fft_cache;

struct gpu_device {
    struct daemon *d;
    int index;              /* in the pool: what pins, ping and job records name */
    struct vk_runtime vk;
    struct fft_cache *fft;  /* VkFFT plans, kept until the device is lost */
    struct device_health health;
    struct resident resident; /* outputs kept on this device for their consumers */
    uv_thread_t thread;
    bool thread_started;
    struct { bool health, vk, resident; } opened;
};

/* Opens physical device `phys` (a vk_runtime_open index) as pool device `index`: its
 * runtime, plan cache, health and resident cache, within cfg's budgets. faulty: whether
 * DASHI_VK_FAULT applies to it (DASHI_VK_FAULT_DEVICE, docs/cli.md). */
int gpu_device_open(struct gpu_device *g, struct daemon *d, int index, uint32_t phys, bool faulty,
                    const struct daemon_config *cfg, struct dashi_error *err);
void gpu_device_close(struct gpu_device *g); /* what was opened; the thread has ended */

#endif
