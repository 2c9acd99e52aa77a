/* SPDX-License-Identifier: MIT */
/* Errors as values: a stable code (its name is part of the protocol), the field it
 * concerns (empty when none) and a human message. Functions that can fail take a
 * `struct dashi_error *` and return -1 after filling it, 0 on success. */
#ifndef DASHI_ERRORS_H
#define DASHI_ERRORS_H

#include <stdarg.h>

typedef enum dashi_code {
    DASHI_OK = 0,
    DASHI_E_BAD_FRAME,     /* malformed or truncated frame, not msgpack, limits exceeded */
    DASHI_E_BAD_REQUEST,   /* request map lacks v/id/op/args or has extra keys */
    DASHI_E_VERSION,       /* unsupported protocol version */
    DASHI_E_UNKNOWN_OP,    /* op name not known */
    DASHI_E_MISSING_FIELD, /* a required argument is absent */
    DASHI_E_BAD_TYPE,      /* an argument has the wrong msgpack type */
    DASHI_E_BAD_VALUE,     /* an argument is out of range, NaN, inconsistent */
    DASHI_E_UNKNOWN_FIELD, /* an argument the op does not take */
    DASHI_E_TOO_LARGE,     /* a size limit (frame, blob, job memory) is exceeded */
    DASHI_E_NOT_FOUND,     /* job or blob does not exist (or is private to another user) */
    DASHI_E_PERMISSION,    /* caller is not allowed to do this */
    DASHI_E_STATE,         /* the job is in a state that does not allow the operation */
    DASHI_E_NO_GPU,        /* a GPU was required and the daemon has none */
    DASHI_E_DEVICE_MEMORY, /* the job does not fit the device memory budget */
    DASHI_E_QUOTA,         /* a per-user limit of the daemon's configuration (field: the limit) */
    DASHI_E_DIVERGED,      /* the computation produced a non-finite value */
    DASHI_E_CANCELLED,     /* the job was cancelled by its owner */
    DASHI_E_INTERRUPTED,   /* the daemon stopped while the job ran */
    DASHI_E_IO,            /* a file system or socket error */
    DASHI_E_DB,            /* an SQLite error */
    DASHI_E_VULKAN,        /* a Vulkan error */
    DASHI_E_SHUTTING_DOWN, /* the daemon is stopping and accepts no new work */
    DASHI_E_CONNECT,       /* client side: no daemon could be reached */
    DASHI_E_CORRUPT,       /* stored data does not match its hash or recorded size */
    DASHI_E_INTERNAL,      /* a bug: please report */
    DASHI_E_SLURM,         /* Slurm refused or lost a job of executor slurm (sbatch, the node) */
    DASHI_CODE_COUNT
} dashi_code;

struct dashi_error {
    dashi_code code;
    char field[64];
    char message[256];
};

/* "E_BAD_FRAME" etc.; "OK" for DASHI_OK. */
const char *dashi_code_name(dashi_code code);
/* Inverse of dashi_code_name; DASHI_E_INTERNAL for an unknown name. */
dashi_code dashi_code_from_name(const char *name);
/* Exit status of `dashi` for a failure of this kind (documented in docs/cli.md). */
int dashi_code_exit_status(dashi_code code);

/* Fills *err (if not NULL) and returns -1, so callers can `return dashi_fail(...)`. */
int dashi_fail(struct dashi_error *err, dashi_code code, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
int dashi_vfail(struct dashi_error *err, dashi_code code, const char *field, const char *fmt, va_list ap);
void dashi_error_clear(struct dashi_error *err);

#endif
