/* SPDX-License-Identifier: MIT */
/* Opening and closing one device of the pool (gpu_device.h). */
#include "gpu_device.h"

#include <stdio.h>

#include "fft_vkfft.h"
#include "wire.h" /* DASHI_RELEASE */

int gpu_device_open(struct gpu_device *g, struct daemon *d, int index, uint32_t phys, bool faulty,
                    const struct daemon_config *cfg, struct dashi_error *err)
{
    g->d = d;
    g->index = index;
    if (device_health_init(&g->health) != 0)
        return dashi_fail(err, DASHI_E_INTERNAL, "", "cannot initialise a mutex");
    g->opened.health = true;
    char which[16];
    snprintf(which, sizeof which, "%u", phys);
    if (vk_runtime_open(&g->vk, which, cfg->state_dir, err) != 0)
        return -1;
    g->opened.vk = true;
    if (!faulty)
        g->vk.fault.enabled = false; /* DASHI_VK_FAULT_DEVICE names another device */
    if (g->vk.fault.enabled)
        fprintf(stderr, "dashid: fault injection on device %d: DASHI_VK_FAULT=%s\n", index, g->vk.fault.spec);
    if (cfg->device_memory_budget && cfg->device_memory_budget < g->vk.memory_budget)
        g->vk.memory_budget = cfg->device_memory_budget; /* leave the rest to others on the device */
    if (fft_cache_create(&g->vk, &g->fft, err) != 0)
        return -1;
    if (resident_init(&g->resident, &g->vk,
                      cfg->resident_bytes_set ? cfg->resident_bytes : resident_default_budget(g->vk.memory_budget)))
        return dashi_fail(err, DASHI_E_INTERNAL, "", "cannot initialise the resident cache");
    g->opened.resident = true;
    fprintf(stderr, "dashid %s: device %d: %s (%s %s)%s\n", DASHI_RELEASE, index, g->vk.device_name,
            g->vk.driver_name, g->vk.driver_info,
            g->vk.is_cpu ? " - a CPU implementation of Vulkan: no GPU in use" : "");
    return 0;
}

void gpu_device_close(struct gpu_device *g)
{
    if (g->opened.resident)
        resident_destroy(&g->resident); /* its buffers went with the GPU thread; the mailbox here */
    fft_cache_destroy(g->fft);          /* before the runtime its plans live on */
    g->fft = NULL;
    if (g->opened.vk)
        vk_runtime_close(&g->vk);
    if (g->opened.health)
        device_health_destroy(&g->health);
    g->opened.health = g->opened.vk = g->opened.resident = false;
}
