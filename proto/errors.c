/* SPDX-License-Identifier: MIT */
#include "errors.h"

#include <stdio.h>
#include <string.h>

static const char *const code_names[DASHI_CODE_COUNT] = {
    [DASHI_OK] = "OK",
    [DASHI_E_BAD_FRAME] = "E_BAD_FRAME",
    [DASHI_E_BAD_REQUEST] = "E_BAD_REQUEST",
    [DASHI_E_VERSION] = "E_VERSION",
    [DASHI_E_UNKNOWN_OP] = "E_UNKNOWN_OP",
    [DASHI_E_MISSING_FIELD] = "E_MISSING_FIELD",
    [DASHI_E_BAD_TYPE] = "E_BAD_TYPE",
    [DASHI_E_BAD_VALUE] = "E_BAD_VALUE",
    [DASHI_E_UNKNOWN_FIELD] = "E_UNKNOWN_FIELD",
    [DASHI_E_TOO_LARGE] = "E_TOO_LARGE",
    [DASHI_E_NOT_FOUND] = "E_NOT_FOUND",
    [DASHI_E_PERMISSION] = "E_PERMISSION",
    [DASHI_E_STATE] = "E_STATE",
    [DASHI_E_NO_GPU] = "E_NO_GPU",
    [DASHI_E_DEVICE_MEMORY] = "E_DEVICE_MEMORY",
    [DASHI_E_QUOTA] = "E_QUOTA",
    [DASHI_E_DIVERGED] = "E_DIVERGED",
    [DASHI_E_CANCELLED] = "E_CANCELLED",
    [DASHI_E_INTERRUPTED] = "E_INTERRUPTED",
    [DASHI_E_IO] = "E_IO",
    [DASHI_E_DB] = "E_DB",
    [DASHI_E_VULKAN] = "E_VULKAN",
    [DASHI_E_SHUTTING_DOWN] = "E_SHUTTING_DOWN",
    [DASHI_E_CONNECT] = "E_CONNECT",
    [DASHI_E_CORRUPT] = "E_CORRUPT",
    [DASHI_E_SLURM] = "E_SLURM",
    [DASHI_E_INTERNAL] = "E_INTERNAL",
};

const char *dashi_code_name(dashi_code code)
{
    if ((unsigned)code >= DASHI_CODE_COUNT)
        return "E_INTERNAL";
    return code_names[code];
}

dashi_code dashi_code_from_name(const char *name)
{
    for (int c = 0; c < DASHI_CODE_COUNT; c++)
        if (name && strcmp(code_names[c], name) == 0)
            return (dashi_code)c;
    return DASHI_E_INTERNAL;
}

/* Exit statuses group failures so scripts can branch without parsing messages:
 * 1 usage/bad input, 2 not found/permission, 3 job failed, 4 cancelled/interrupted,
 * 5 no daemon, 6 resources (GPU, memory), 7 internal. */
int dashi_code_exit_status(dashi_code code)
{
    switch (code) {
    case DASHI_OK: return 0;
    case DASHI_E_BAD_FRAME: case DASHI_E_BAD_REQUEST: case DASHI_E_VERSION: case DASHI_E_UNKNOWN_OP:
    case DASHI_E_MISSING_FIELD: case DASHI_E_BAD_TYPE: case DASHI_E_BAD_VALUE: case DASHI_E_UNKNOWN_FIELD:
    case DASHI_E_TOO_LARGE:
        return 1;
    case DASHI_E_NOT_FOUND: case DASHI_E_PERMISSION: case DASHI_E_STATE:
        return 2;
    case DASHI_E_DIVERGED:
        return 3;
    case DASHI_E_CANCELLED: case DASHI_E_INTERRUPTED: case DASHI_E_SHUTTING_DOWN:
        return 4;
    case DASHI_E_CONNECT:
        return 5;
    case DASHI_E_NO_GPU: case DASHI_E_DEVICE_MEMORY: case DASHI_E_QUOTA: case DASHI_E_IO: case DASHI_E_DB: case DASHI_E_VULKAN:
    case DASHI_E_CORRUPT: case DASHI_E_SLURM:
        return 6;
    default:
        return 7;
    }
}

int dashi_vfail(struct dashi_error *err, dashi_code code, const char *field, const char *fmt, va_list ap)
{
    if (!err)
        return -1;
    err->code = code;
    snprintf(err->field, sizeof err->field, "%s", field ? field : "");
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    return -1;
}

int dashi_fail(struct dashi_error *err, dashi_code code, const char *field, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    dashi_vfail(err, code, field, fmt, ap);
    va_end(ap);
    return -1;
}

void dashi_error_clear(struct dashi_error *err)
{
    if (!err)
        return;
    err->code = DASHI_OK;
    err->field[0] = 0;
    err->message[0] = 0;
}
