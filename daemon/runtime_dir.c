/* SPDX-License-Identifier: MIT */
#include "runtime_dir.h"

#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "paths.h"

static void owner_name(uid_t uid, char *out, size_t cap)
{
    struct passwd pw, *res = NULL;
    char buf[4096];
    if (getpwuid_r(uid, &pw, buf, sizeof buf, &res) == 0 && res)
        snprintf(out, cap, "%s", pw.pw_name);
    else
        snprintf(out, cap, "uid%u", (unsigned)uid);
}

static int refuse(struct dashi_error *err, const char *field, const char *path, const struct stat *st,
                  const char *why)
{
    char owner[64];
    owner_name(st->st_uid, owner, sizeof owner);
    return dashi_fail(err, DASHI_E_PERMISSION, field, "refusing %s (owner %s, mode %04o): %s", path, owner,
                      (unsigned)(st->st_mode & 07777), why);
}

/* The parent may be shared only if it keeps others from renaming our entry: sticky. */
static int check_parent(const char *dir, const char *field, struct dashi_error *err)
{
    char parent[4096];
    snprintf(parent, sizeof parent, "%s", dir);
    char *slash = strrchr(parent, '/');
    if (!slash)
        return 0;
    if (slash == parent)
        slash[1] = 0; /* "/x": the parent is "/" */
    else
        *slash = 0;
    struct stat st;
    if (stat(parent, &st) != 0)
        return dashi_fail(err, DASHI_E_IO, field, "cannot stat %s: %s", parent, strerror(errno));
    if (st.st_uid != 0 && st.st_uid != geteuid())
        return refuse(err, field, parent, &st, "its owner could replace the directory inside it");
    if ((st.st_mode & (S_IWGRP | S_IWOTH)) && !(st.st_mode & S_ISVTX))
        return refuse(err, field, parent, &st, "others may write it and it is not sticky");
    return 0;
}

int runtime_dir_prepare(const char *dir, const char *field, struct dashi_error *err)
{
    struct stat st;
    if (lstat(dir, &st) != 0) {
        if (errno != ENOENT)
            return dashi_fail(err, DASHI_E_IO, field, "cannot stat %s: %s", dir, strerror(errno));
        /* Created by us, so private from birth; EEXIST means someone raced us: check theirs. */
        char parent[4096];
        snprintf(parent, sizeof parent, "%s", dir);
        char *slash = strrchr(parent, '/');
        if (slash && slash != parent) {
            *slash = 0;
            if (mkdir_p(parent, 0700) != 0)
                return dashi_fail(err, DASHI_E_IO, field, "cannot create %s: %s", parent, strerror(errno));
        }
        if (mkdir(dir, 0700) != 0 && errno != EEXIST)
            return dashi_fail(err, DASHI_E_IO, field, "cannot create %s: %s", dir, strerror(errno));
        if (lstat(dir, &st) != 0)
            return dashi_fail(err, DASHI_E_IO, field, "cannot stat %s: %s", dir, strerror(errno));
    }
    if (!S_ISDIR(st.st_mode))
        return refuse(err, field, dir, &st, S_ISLNK(st.st_mode) ? "a symlink, not a directory" : "not a directory");
    if (st.st_uid != geteuid())
        return refuse(err, field, dir, &st, "not owned by the daemon's user");
    if (st.st_mode & (S_IWGRP | S_IWOTH))
        return refuse(err, field, dir, &st, "group or others may write it");
    return check_parent(dir, field, err);
}

/* 1 if something accepts connections at path. */
static int socket_alive(const char *path)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return 0;
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof a.sun_path, "%s", path);
    int ok = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
    close(fd);
    return ok;
}

int runtime_dir_prepare_socket(const char *socket_path, struct dashi_error *err)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", socket_path);
    char *slash = strrchr(dir, '/');
    if (slash && slash != dir) {
        *slash = 0;
        if (runtime_dir_prepare(dir, "socket", err) != 0)
            return -1;
    }
    struct stat st;
    if (lstat(socket_path, &st) != 0)
        return 0;
    if (!S_ISSOCK(st.st_mode))
        return dashi_fail(err, DASHI_E_IO, "socket", "%s exists and is not a socket", socket_path);
    if (st.st_uid != geteuid())
        return refuse(err, "socket", socket_path, &st, "a socket of another user");
    if (socket_alive(socket_path))
        return dashi_fail(err, DASHI_E_IO, "socket", "another daemon is listening on %s", socket_path);
    if (unlink(socket_path) != 0)
        return dashi_fail(err, DASHI_E_IO, "socket", "cannot remove stale socket %s: %s", socket_path,
                          strerror(errno));
    return 0;
}
