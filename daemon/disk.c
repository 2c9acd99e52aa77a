/* SPDX-License-Identifier: MIT */
#include "disk.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "server.h"

int disk_free_bytes(const char *dir, uint64_t *free_bytes, struct dashi_error *err)
{
    struct statvfs sv;
    if (statvfs(dir, &sv) != 0)
        return dashi_fail(err, DASHI_E_IO, "state_dir", "cannot measure free space in %s: %s", dir, strerror(errno));
    *free_bytes = (uint64_t)sv.f_bavail * sv.f_frsize;
    return 0;
}

/* Output bytes the user's active jobs will still write (their estimates). */
static uint64_t active_outputs(struct scheduler *s, uid_t uid)
{
    uint64_t bytes = 0;
    uv_mutex_lock(&s->mu);
    for (const struct sched_job *j = s->jobs; j; j = j->next)
        if (j->uid == uid)
            bytes += j->plan.disk_estimate;
    uv_mutex_unlock(&s->mu);
    return bytes;
}

/* Bytes uid's open uploads will store. */
static uint64_t uploads_pending(const struct daemon *d, uid_t uid)
{
    uint64_t bytes = 0;
    for (const struct conn *c = d->conns; c; c = c->next)
        if (c->uid == uid)
            bytes += c->upload_bytes;
    return bytes;
}

static double mib(uint64_t b) { return (double)b / 1048576.0; }

int disk_check(struct daemon *d, uid_t uid, uint64_t bytes, struct dashi_error *err)
{
    struct user_limits l = config_user_limits(&d->cfg, uid);
    if (l.max_disk_bytes) {
        uint64_t owned;
        if (store_blob_bytes_owned(&d->store, uid, &owned, err) != 0)
            return -1;
        uint64_t pending = active_outputs(&d->sched, uid) + uploads_pending(d, uid);
        if (bytes > l.max_disk_bytes || owned + pending > l.max_disk_bytes - bytes)
            return dashi_fail(err, DASHI_E_QUOTA, "max_disk_bytes",
                              "%.1f MiB more beside the %.1f MiB you own and %.1f MiB your active jobs and "
                              "uploads will write would pass your disk quota (max_disk_bytes) of %.1f MiB",
                              mib(bytes), mib(owned), mib(pending), mib(l.max_disk_bytes));
    }
    uint64_t reserve = d->cfg.disk_reserve_bytes, free_bytes;
    if (!reserve)
        return 0;
    if (disk_free_bytes(d->cfg.state_dir, &free_bytes, err) != 0)
        return -1;
    if (bytes > free_bytes || free_bytes - bytes < reserve)
        return dashi_fail(err, DASHI_E_QUOTA, "disk_reserve_bytes",
                          "%.1f MiB would leave less than the reserve (disk_reserve_bytes) of %.1f MiB free in %s "
                          "(%.1f MiB free now)", mib(bytes), mib(reserve), d->cfg.state_dir, mib(free_bytes));
    return 0;
}

static void reserve_path(const struct daemon *d, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s/reserve", d->cfg.state_dir);
}

static uint64_t reserve_file_bytes(const struct daemon *d)
{
    uint64_t r = d->cfg.disk_reserve_bytes;
    return r < DISK_RESERVE_FILE_BYTES ? r : DISK_RESERVE_FILE_BYTES;
}

void disk_reserve_make(struct daemon *d)
{
    uint64_t size = reserve_file_bytes(d), free_bytes;
    char path[4200];
    struct stat sb;
    struct dashi_error err;
    reserve_path(d, path, sizeof path);
    if (!size || (stat(path, &sb) == 0 && (uint64_t)sb.st_size == size))
        return;
    /* Only once the disk has room again beyond it: taking the last bytes back would only
     * fail the next write instead. */
    if (disk_free_bytes(d->cfg.state_dir, &free_bytes, &err) != 0 || free_bytes < 2 * size)
        return;
    int fd = open(path, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    int rc = fd < 0 ? errno : posix_fallocate(fd, 0, (off_t)size);
    if (fd >= 0 && (rc != 0 || fsync(fd) != 0)) {
        rc = rc ? rc : errno;
        unlink(path);
    }
    if (fd >= 0)
        close(fd);
    if (rc != 0)
        fprintf(stderr, "dashid: cannot make the disk reserve %s: %s\n", path, strerror(rc));
    else
        d->reserve_released = false;
}

bool disk_reserve_release(struct daemon *d)
{
    char path[4200];
    reserve_path(d, path, sizeof path);
    if (unlink(path) != 0)
        return false;
    d->reserve_released = true;
    fprintf(stderr, "dashid: the disk is full: released the reserve (%s) to record the jobs' states\n", path);
    return true;
}
