/* SPDX-License-Identifier: MIT */
/* The re-creation of a lost device (device_recovery.h). */
#include "device_recovery.h"

#include <stdio.h>
#include <string.h>

#include "fft_vkfft.h"

#define BACKOFF_FIRST_S 1.0
#define BACKOFF_MAX_S 60.0

void device_loss_begin(struct gpu_device *g, const struct dashi_error *cause)
{
    thread_owner_check(&g->d->sched.dev[g->index].gpu, "device_loss_begin");
    fprintf(stderr, "dashid: the GPU device %d (%s) was lost (%s): interrupting its jobs and re-creating it\n",
            g->index, g->vk.device_name, cause->message);
    device_health_set(&g->health, DEVICE_RECOVERING, cause->message, false);
    scheduler_wake(&g->d->sched); /* jobs that waited for it (affinity) may go elsewhere now */
}

/* One attempt: the runtime's device objects and the plan cache built on them. */
static int recreate_once(struct gpu_device *g, struct dashi_error *err)
{
    resident_clear(&g->resident); /* its results were on the old device: consumers read the blobs */
    if (g->d->io.vk == &g->vk)
        io_staging_drop(&g->d->io); /* the staging pool is memory of the old device too */
    fft_cache_destroy(g->fft); /* its plans hold buffers and pipelines of the old device */
    g->fft = NULL;
    if (vk_runtime_reset(&g->vk, err) != 0)
        return -1;
    return fft_cache_create(&g->vk, &g->fft, err);
}

/* Sleeps up to seconds, or less when the daemon stops; returns whether it stops. */
static bool backoff(struct scheduler *s, double seconds)
{
    uint64_t deadline = uv_hrtime() + (uint64_t)(seconds * 1e9);
    uv_mutex_lock(&s->mu);
    for (uint64_t now = uv_hrtime(); !s->stop && now < deadline; now = uv_hrtime())
        (void)uv_cond_timedwait(&s->cv, &s->mu, deadline - now); /* woken early by other signals too */
    bool stop = s->stop;
    uv_mutex_unlock(&s->mu);
    return stop;
}

int device_recreate(struct gpu_device *g)
{
    struct daemon *d = g->d;
    thread_owner_check(&d->sched.dev[g->index].gpu, "device_recreate");
    double wait_s = BACKOFF_FIRST_S;
    for (int attempt = 1;; attempt++) {
        struct dashi_error err;
        dashi_error_clear(&err);
        if (recreate_once(g, &err) == 0) {
            fprintf(stderr, "dashid: the GPU device %d (%s) was re-created (attempt %d)\n", g->index,
                    g->vk.device_name, attempt);
            device_health_set(&g->health, DEVICE_OK, NULL, true);
            return 0;
        }
        fprintf(stderr, "dashid: re-creating the GPU device %d (%s) failed (attempt %d): %s; next try in %.0f s\n",
                g->index, g->vk.device_name, attempt, err.message, wait_s);
        char why[sizeof g->health.v.why];
        snprintf(why, sizeof why, "re-creating the device failed %d time(s), last: %s", attempt, err.message);
        device_health_set(&g->health, DEVICE_LOST, why, false);
        if (backoff(&d->sched, wait_s))
            return -1;
        wait_s = wait_s * 2 < BACKOFF_MAX_S ? wait_s * 2 : BACKOFF_MAX_S;
    }
}
