/* SPDX-License-Identifier: MIT */
/* Jobs' devices and pins (store_devices.h). */
#include <stdio.h>
#include <string.h>

#include "store_devices.h"
#include "store_sql.h"

static int step_once(struct store *st, sqlite3_stmt *s, const char *what, struct dashi_error *err)
{
    int rc = sqlite3_step(s);
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? 0 : store_db_fail(st, err, what);
}

int store_job_device_started(struct store *st, int64_t id, int device, const char *name, struct dashi_error *err)
{
    sqlite3_stmt *s;
    if (store_prepare(st, "INSERT INTO job_devices (job, device, name) VALUES (?1, ?2, ?3) "
                          "ON CONFLICT (job, device) DO UPDATE SET base = gpu_seconds, name = excluded.name",
                      &s, err) < 0)
        return -1;
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_int(s, 2, device);
    sqlite3_bind_text(s, 3, name, -1, SQLITE_TRANSIENT);
    return step_once(st, s, "a job's device", err);
}

int store_job_device_seconds(struct store *st, int64_t id, int device, double seconds, struct dashi_error *err)
{
    sqlite3_stmt *s;
    if (store_prepare(st, "UPDATE job_devices SET gpu_seconds = base + ?3 WHERE job = ?1 AND device = ?2", &s,
                      err) < 0)
        return -1;
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_int(s, 2, device);
    sqlite3_bind_double(s, 3, seconds);
    return step_once(st, s, "a job's GPU seconds on a device", err);
}

int store_job_devices(struct store *st, int64_t id, struct job_device *out, size_t cap, size_t *n,
                      struct dashi_error *err)
{
    sqlite3_stmt *s;
    *n = 0;
    if (store_prepare(st, "SELECT device, name, gpu_seconds FROM job_devices WHERE job = ?1 ORDER BY device", &s,
                      err) < 0)
        return -1;
    sqlite3_bind_int64(s, 1, id);
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW && *n < cap) {
        struct job_device *d = &out[(*n)++];
        d->device = sqlite3_column_int(s, 0);
        const unsigned char *name = sqlite3_column_text(s, 1);
        snprintf(d->name, sizeof d->name, "%s", name ? (const char *)name : "");
        d->gpu_seconds = sqlite3_column_double(s, 2);
    }
    sqlite3_finalize(s);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : store_db_fail(st, err, "a job's devices");
}

int store_job_pin_set(struct store *st, int64_t id, int device, struct dashi_error *err)
{
    sqlite3_stmt *s;
    if (store_prepare(st, "INSERT OR REPLACE INTO job_pins (job, device) VALUES (?1, ?2)", &s, err) < 0)
        return -1;
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_int(s, 2, device);
    return step_once(st, s, "a job's pin", err);
}

int store_job_pin_get(struct store *st, int64_t id, int *device, struct dashi_error *err)
{
    sqlite3_stmt *s;
    *device = -1;
    if (store_prepare(st, "SELECT device FROM job_pins WHERE job = ?1", &s, err) < 0)
        return -1;
    sqlite3_bind_int64(s, 1, id);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        *device = sqlite3_column_int(s, 0);
    sqlite3_finalize(s);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : store_db_fail(st, err, "a job's pin");
}
