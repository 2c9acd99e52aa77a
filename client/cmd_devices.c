/* SPDX-License-Identifier: MIT */
/* dashi devices: the daemon's device pool, one line per device, from ping's `devices`
 * (docs/cli.md). With --json: that array. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "client.h"
#include "output.h"

/* A string field of a device's map ("" when absent). */
static void str_field(const msgpack_object *dev, const char *key, char *out, size_t cap)
{
    const msgpack_object *v = map_get(dev, key);
    if (v && v->type == MSGPACK_OBJECT_STR)
        snprintf(out, cap, "%.*s", (int)v->via.str.size, v->via.str.ptr);
    else
        snprintf(out, cap, "%s", "");
}

static void print_device(const msgpack_object *dev)
{
    char name[256], driver[128], kind[16], state[16], error[512];
    str_field(dev, "name", name, sizeof name);
    str_field(dev, "driver", driver, sizeof driver);
    str_field(dev, "kind", kind, sizeof kind);
    str_field(dev, "state", state, sizeof state);
    str_field(dev, "error", error, sizeof error);
    double mib = 1024.0 * 1024.0;
    printf("%-3lld %-10s %-4s %9.0f %9.0f %7lld %6lld %5lld %9.1f  %s (%s)%s%s\n", (long long)obj_i64(map_get(dev, "index")),
           state, kind, obj_number(map_get(dev, "memory_budget"), 0) / mib,
           obj_number(map_get(dev, "memory_free"), 0) / mib, (long long)obj_i64(map_get(dev, "running")),
           (long long)obj_i64(map_get(dev, "started")), (long long)obj_i64(map_get(dev, "queued_pins")),
           obj_number(map_get(dev, "gpu_seconds"), 0), name, driver, error[0] ? ": " : "", error);
}

int cmd_devices(struct dashi_client *c, struct cli_opts *o, struct dashi_error *err)
{
    msgpack_unpacked resp;
    msgpack_unpacked_init(&resp);
    const msgpack_object *result;
    int rc = client_call(c, "ping", NULL, NULL, NULL, NULL, &resp, &result, err);
    const msgpack_object *devs = rc == 0 ? map_get(result, "devices") : NULL;
    if (rc == 0 && (!devs || devs->type != MSGPACK_OBJECT_ARRAY))
        rc = dashi_fail(err, DASHI_E_VERSION, "devices", "the daemon's ping has no devices (an older daemon?)");
    if (rc == 0 && o->args.json) {
        print_json(devs);
        putchar('\n');
    } else if (rc == 0) {
        printf("%-3s %-10s %-4s %9s %9s %7s %6s %5s %9s  %s\n", "DEV", "STATE", "KIND", "MIB", "FREE_MIB", "RUNNING",
               "PLACED", "PINS", "GPU_S", "NAME (DRIVER)");
        for (uint32_t i = 0; i < devs->via.array.size; i++)
            print_device(&devs->via.array.ptr[i]);
        const msgpack_object *failed = map_get(result, "device_failures");
        if (failed && failed->type == MSGPACK_OBJECT_STR && failed->via.str.size)
            printf("not opened: %.*s\n", (int)failed->via.str.size, failed->via.str.ptr);
    }
    msgpack_unpacked_destroy(&resp);
    return rc;
}
