/* SPDX-License-Identifier: MIT */
/* Writing slurm_workdir (slurm_workdir.h). */
#include "slurm_workdir.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon.h"
#include "fs_tree.h"
#include "wire.h"

/* Fixed: the job's directory, then dashid and its arguments, come as $1 and the rest;
 * the array task picks its spec and bundle. */
static const char run_script[] =
    "#!/bin/sh\n"
    "# dashid's batch script for --executor slurm (docs/cluster.md); rewritten by dashid\n"
    "d=\"$1\"; shift\n"
    "k=\"${SLURM_ARRAY_TASK_ID:-0}\"\n"
    "exec \"$@\" --run \"$d/spec-$k.msgpack\" --bundle \"$d/bundle-$k\"\n";

static int io_fail(struct dashi_error *err, const char *path)
{
    return dashi_fail(err, DASHI_E_IO, "slurm_workdir", "%s: %s", path, strerror(errno));
}

static int make_dir(const char *path, struct dashi_error *err)
{
    return mkdir(path, 0700) == 0 || errno == EEXIST ? 0 : io_fail(err, path);
}

/* A file written whole under path.tmp-PID, synced and renamed to path. */
struct tmp_file {
    char tmp[PATH_MAX];
    int fd;
};

static int tmp_open(struct tmp_file *f, const char *path, mode_t mode, struct dashi_error *err)
{
    if (snprintf(f->tmp, sizeof f->tmp, "%s.tmp-%ld", path, (long)getpid()) >= (int)sizeof f->tmp)
        return dashi_fail(err, DASHI_E_BAD_VALUE, "slurm_workdir", "%s: path too long", path);
    f->fd = open(f->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
    return f->fd < 0 ? io_fail(err, f->tmp) : 0;
}

static int write_all(int fd, const void *p, size_t n)
{
    for (const char *c = p; n > 0;) {
        ssize_t w = write(fd, c, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

static int tmp_publish(struct tmp_file *f, const char *path, int rc, struct dashi_error *err)
{
    if (rc == 0 && fsync(f->fd) != 0)
        rc = io_fail(err, f->tmp);
    if (close(f->fd) != 0 && rc == 0)
        rc = io_fail(err, f->tmp);
    if (rc == 0 && rename(f->tmp, path) != 0)
        rc = io_fail(err, path);
    if (rc != 0)
        unlink(f->tmp);
    return rc;
}

static int write_file(const char *path, const void *data, size_t n, mode_t mode, struct dashi_error *err)
{
    struct tmp_file f;
    if (tmp_open(&f, path, mode, err) != 0)
        return -1;
    int rc = write_all(f.fd, data, n) == 0 ? 0 : io_fail(err, f.tmp);
    return tmp_publish(&f, path, rc, err);
}

int slurm_workdir_prepare(const struct daemon *d, int64_t first, char *jobdir, size_t cap, struct dashi_error *err)
{
    const char *w = d->cfg.slurm.workdir;
    char path[PATH_MAX];
    if (make_dir(w, err) != 0)
        return -1;
    snprintf(path, sizeof path, "%s/inputs", w);
    if (make_dir(path, err) != 0)
        return -1;
    snprintf(path, sizeof path, "%s/jobs", w);
    if (make_dir(path, err) != 0)
        return -1;
    if (snprintf(jobdir, cap, "%s/jobs/%lld", w, (long long)first) >= (int)cap)
        return dashi_fail(err, DASHI_E_BAD_VALUE, "slurm_workdir", "%s: path too long", w);
    if (mkdir(jobdir, 0700) != 0)
        return io_fail(err, jobdir);
    snprintf(path, sizeof path, "%s/dashi-run.sh", w);
    return write_file(path, run_script, sizeof run_script - 1, 0700, err);
}

int slurm_workdir_input(const struct daemon *d, const char *hash, struct dashi_error *err)
{
    char path[PATH_MAX];
    struct stat st;
    snprintf(path, sizeof path, "%s/inputs/%s.npy", d->cfg.slurm.workdir, hash);
    if (lstat(path, &st) == 0 && S_ISREG(st.st_mode))
        return 0; /* written for an earlier job: the same bytes, by its name */
    struct tmp_file f;
    if (tmp_open(&f, path, 0600, err) != 0)
        return -1;
    char buf[1 << 16];
    uint64_t at = 0, total = 1;
    int rc = 0;
    while (rc == 0 && at < total) { /* read verified, chunk by chunk */
        size_t n = 0;
        rc = blobstore_read(&d->blobs, hash, at, buf, sizeof buf, &n, &total, err);
        if (rc == 0 && n == 0 && at < total)
            rc = dashi_fail(err, DASHI_E_IO, "slurm_workdir", "blob %s ended early", hash);
        if (rc == 0 && write_all(f.fd, buf, n) != 0)
            rc = io_fail(err, f.tmp);
        at += n;
    }
    return tmp_publish(&f, path, rc, err);
}

int slurm_workdir_spec(const char *jobdir, size_t k, const struct job_row *row, struct dashi_error *err)
{
    char path[PATH_MAX];
    if (snprintf(path, sizeof path, "%s/spec-%zu.msgpack", jobdir, k) >= (int)sizeof path)
        return dashi_fail(err, DASHI_E_BAD_VALUE, "slurm_workdir", "%s: path too long", jobdir);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, row->time_limit > 0 ? 3 : 2);
    pk_kv_str(&pk, "kind", row->kind);
    pk_key(&pk, "args");
    msgpack_sbuffer_write(&sb, row->params_mp, row->params_mp_len); /* one msgpack map, as stored */
    if (row->time_limit > 0)
        pk_kv_f64(&pk, "time_limit", row->time_limit);
    int rc = write_file(path, sb.data, sb.size, 0600, err);
    msgpack_sbuffer_destroy(&sb);
    return rc;
}

void slurm_workdir_remove_bundle(const char *bundle)
{
    if (fs_remove_tree(bundle) != 0)
        fprintf(stderr, "dashid: removing the imported bundle %s: %s\n", bundle, strerror(errno));
}
