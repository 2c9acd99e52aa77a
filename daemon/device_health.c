/* SPDX-License-Identifier: MIT */
/* The device's health state (device_health.h). */
#include "device_health.h"

#include <stdio.h>
#include <string.h>

int device_health_init(struct device_health *h)
{
    memset(h, 0, sizeof *h);
    return uv_mutex_init(&h->mu);
}

void device_health_destroy(struct device_health *h)
{
    uv_mutex_destroy(&h->mu);
}

struct device_health_view device_health_get(struct device_health *h)
{
    uv_mutex_lock(&h->mu);
    struct device_health_view v = h->v;
    uv_mutex_unlock(&h->mu);
    return v;
}

const char *device_state_name(enum device_state s)
{
    switch (s) {
    case DEVICE_OK: return "ok";
    case DEVICE_RECOVERING: return "recovering";
    case DEVICE_LOST: return "lost";
    }
    return "?";
}

int device_check_accepting(struct device_health *h, struct dashi_error *err)
{
    struct device_health_view v = device_health_get(h);
    if (v.state != DEVICE_LOST)
        return 0;
    return dashi_fail(err, DASHI_E_NO_GPU, "device",
                      "the GPU device was lost and cannot be re-created yet (%s); the daemon keeps retrying, "
                      "and `dashi ping` shows when it is back",
                      v.why);
}

void device_health_set(struct device_health *h, enum device_state state, const char *why, bool reset_done)
{
    uv_mutex_lock(&h->mu);
    h->v.state = state;
    if (why)
        snprintf(h->v.why, sizeof h->v.why, "%s", why);
    if (reset_done)
        h->v.resets++;
    uv_mutex_unlock(&h->mu);
}
