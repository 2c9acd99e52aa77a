/* SPDX-License-Identifier: MIT */
#include "queue_reason.h"
#include "slurm_state.h"

#include <stdbool.h>
#include <stdio.h>

void queue_reason(struct daemon *d, int64_t id, char *out, size_t size)
{
    char sched[SCHED_REASON_MAX];
    bool started = false;
    out[0] = '\0';
    if (slurm_state_reason(d, id, out, size)) /* Slurm runs it: where it is there */
        return;
    if (!scheduler_reason(&d->sched, id, sched, sizeof sched, &started))
        return;
    if (started) { /* running: only a pass-over of a started job (I/O) is recorded */
        snprintf(out, size, "%s", sched);
        return;
    }
    /* Between a job's hand-over and the next pass (the GPU thread may be in a slice of
     * another job) the scheduler has said nothing yet. */
    const char *why = sched[0] ? sched : "not yet scheduled";
    for (int k = 0; k < d->ndev; k++) { /* a device being re-created runs nothing */
        struct device_health_view health = device_health_get(&d->dev[k].health);
        if (health.state == DEVICE_OK)
            continue;
        if (d->ndev == 1)
            snprintf(out, size, "device %s; %s", device_state_name(health.state), why);
        else
            snprintf(out, size, "device %d %s; %s", k, device_state_name(health.state), why);
        return;
    }
    snprintf(out, size, "%s", why);
}
