/* SPDX-License-Identifier: MIT */
/* The device pool (device_pool.h). */
#include "device_pool.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* DASHI_TEST_LOGICAL_DEVICES: a test-only count of logical devices on the first physical
 * one (docs/cli.md); 0 when unset. */
static int test_logical_devices(void)
{
    const char *v = getenv("DASHI_TEST_LOGICAL_DEVICES");
    long n = v ? strtol(v, NULL, 10) : 0;
    return n > 1 && n <= GPU_MAX_DEVICES ? (int)n : 0;
}

/* DASHI_VK_FAULT_DEVICE: the only pool index DASHI_VK_FAULT applies to (-1: all). */
static int fault_device(void)
{
    const char *v = getenv("DASHI_VK_FAULT_DEVICE");
    return v && *v ? atoi(v) : -1;
}

static void note_failure(struct daemon *d, uint32_t phys, const struct dashi_error *e)
{
    fprintf(stderr, "dashid: Vulkan device %u cannot be opened: %s\n", phys, e->message);
    size_t len = strlen(d->device_failures);
    snprintf(d->device_failures + len, sizeof d->device_failures - len, "%sdevice %u: %s", len ? "; " : "", phys,
             e->message);
}

int device_pool_open(struct daemon *d, struct dashi_error *err)
{
    uint32_t phys[GPU_MAX_DEVICES];
    int nphys;
    if (vk_select_devices(d->cfg.device, phys, GPU_MAX_DEVICES, &nphys, err) != 0)
        return -1;
    int logical = test_logical_devices();
    int n = logical ? logical : nphys;
    int faulty = fault_device();
    struct dashi_error first = {.code = DASHI_OK};
    for (int k = 0; k < n; k++) {
        uint32_t p = logical ? phys[0] : phys[k];
        struct gpu_device *g = &d->dev[d->ndev];
        struct dashi_error e = {.code = DASHI_OK};
        if (gpu_device_open(g, d, d->ndev, p, faulty < 0 || faulty == d->ndev, &d->cfg, &e) != 0) {
            gpu_device_close(g);
            note_failure(d, p, &e);
            if (first.code == DASHI_OK)
                first = e;
            continue;
        }
        d->ndev++;
    }
    if (d->ndev == 0) {
        *err = first;
        return -1;
    }
    return 0;
}

void device_pool_close(struct daemon *d)
{
    for (int k = 0; k < d->ndev; k++)
        gpu_device_close(&d->dev[k]);
    d->ndev = 0;
}

/* "0: NAME, 1: NAME" for messages. */
static void pool_list(const struct daemon *d, char *buf, size_t cap)
{
    size_t len = 0;
    buf[0] = '\0';
    for (int k = 0; k < d->ndev && len < cap; k++) {
        int w = snprintf(buf + len, cap - len, "%s%d: %s", k ? ", " : "", k, d->dev[k].vk.device_name);
        len += w > 0 ? (size_t)w : 0;
    }
}

int device_pool_find(const struct daemon *d, const char *name, int *index, struct dashi_error *err)
{
    char *end;
    long k = strtol(name, &end, 10);
    if (*name && !*end) {
        if (k >= 0 && k < d->ndev) {
            *index = (int)k;
            return 0;
        }
    } else {
        for (int i = 0; i < d->ndev; i++)
            if (*name && strcasestr(d->dev[i].vk.device_name, name)) {
                *index = i;
                return 0;
            }
    }
    char list[512];
    pool_list(d, list, sizeof list);
    return dashi_fail(err, DASHI_E_BAD_VALUE, "device", "device \"%s\" is not one of this daemon's devices (%s)", name,
                      list);
}

int device_pool_accepting(struct daemon *d, int pin, struct dashi_error *err)
{
    if (pin)
        return device_check_accepting(&d->dev[pin - 1].health, err);
    int rc = -1;
    for (int k = 0; k < d->ndev && rc != 0; k++) {
        dashi_error_clear(err);
        rc = device_check_accepting(&d->dev[k].health, err);
    }
    return rc;
}

const struct gpu_device *device_pool_validator(const struct daemon *d, int pin)
{
    return &d->dev[pin ? pin - 1 : 0];
}
