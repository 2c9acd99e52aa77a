/* SPDX-License-Identifier: MIT */
#include "conn_budget.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

void conn_budget_raise_nofile(struct conn_budget *b, uint64_t fd_reserve)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
        fprintf(stderr, "dashid: getrlimit(RLIMIT_NOFILE): %s; assuming 1024 descriptors\n", strerror(errno));
        b->nofile = 1024;
        return;
    }
    rlim_t was = rl.rlim_cur;
    /* Every connection costs a descriptor: take all the hard limit allows. */
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
            fprintf(stderr, "dashid: cannot raise the descriptor limit to %llu: %s\n",
                    (unsigned long long)rl.rlim_max, strerror(errno));
            rl.rlim_cur = was;
        }
    }
    b->nofile = rl.rlim_cur == RLIM_INFINITY ? UINT64_MAX : (uint64_t)rl.rlim_cur;
    fprintf(stderr, "dashid: descriptor limit %llu (was %llu), %llu kept free for the store and blobs (fd_reserve)\n",
            (unsigned long long)b->nofile, (unsigned long long)was, (unsigned long long)fd_reserve);
}

/* Descriptors open now, or -1 when /proc cannot tell. */
static int64_t count_open_fds(void)
{
    DIR *dir = opendir("/proc/self/fd");
    if (!dir)
        return -1;
    int64_t n = 0;
    for (struct dirent *e; (e = readdir(dir)) != NULL;)
        n += e->d_name[0] != '.';
    closedir(dir);
    return n - 1; /* the directory's own descriptor */
}

/* Whether admitting one more connection would leave fewer than fd_reserve descriptors
 * for the store, blobs and jobs. /proc is read only near the limit: far from it, a
 * pessimistic estimate (each connection with its socket and every upload open) says no. */
static bool fds_short(const struct conn_budget *b, uint64_t reserve)
{
    uint64_t estimate = b->base_fds + b->nconns * (1 + MAX_UPLOADS_PER_CONN);
    if (b->nofile > reserve && estimate <= b->nofile - reserve)
        return false;
    int64_t open = count_open_fds();
    uint64_t used = open < 0 ? estimate : (uint64_t)open;
    return used + reserve > b->nofile;
}

void conn_budget_count_base(struct conn_budget *b, uint64_t fd_reserve)
{
    int64_t open = count_open_fds();
    b->base_fds = open < 0 ? 0 : (uint64_t)open;
    if (b->base_fds + fd_reserve >= b->nofile)
        fprintf(stderr, "dashid: warning: %llu descriptors are open and %llu reserved of a limit of %llu: "
                        "every connection will be refused\n", (unsigned long long)b->base_fds,
                (unsigned long long)fd_reserve, (unsigned long long)b->nofile);
}

static struct uid_tally *tally_find(struct conn_budget *b, uid_t uid)
{
    for (struct uid_tally *t = b->tallies; t; t = t->next)
        if (t->uid == uid)
            return t;
    return NULL;
}

int conn_budget_admit(struct conn_budget *b, const struct conn_limits *l, uid_t uid, const char *user,
                      struct uid_tally **tally, struct dashi_error *err)
{
    struct uid_tally *t = tally_find(b, uid);
    if (t && t->conns >= l->max_connections_per_uid)
        return dashi_fail(err, DASHI_E_QUOTA, "max_connections_per_uid",
                          "%s already has %llu connections open, the limit (max_connections_per_uid)", user,
                          (unsigned long long)t->conns);
    if (fds_short(b, l->fd_reserve))
        return dashi_fail(err, DASHI_E_QUOTA, "fd_reserve",
                          "the daemon is at its descriptor limit (%llu, of which fd_reserve = %llu are kept for "
                          "its store and blobs); try again later",
                          (unsigned long long)b->nofile, (unsigned long long)l->fd_reserve);
    if (!t) {
        t = calloc(1, sizeof *t);
        if (!t)
            return dashi_fail(err, DASHI_E_INTERNAL, "", "out of memory");
        t->uid = uid;
        t->next = b->tallies;
        b->tallies = t;
    }
    t->conns++;
    *tally = t;
    return 0;
}

void conn_budget_release(struct conn_budget *b, struct uid_tally **tally, uint64_t held, uint64_t queued)
{
    b->nconns--;
    struct uid_tally *t = *tally;
    if (!t)
        return;
    *tally = NULL;
    t->inflight -= held;
    t->queued -= queued;
    if (--t->conns > 0)
        return;
    for (struct uid_tally **p = &b->tallies; *p; p = &(*p)->next)
        if (*p == t) {
            *p = t->next;
            break;
        }
    free(t);
}

int conn_budget_hold(struct uid_tally *t, uint64_t *held, size_t now_held, uint64_t limit, const char *user,
                     struct dashi_error *err)
{
    if (t)
        t->inflight = t->inflight - *held + now_held;
    *held = now_held;
    if (!t || t->inflight <= limit)
        return 0;
    return dashi_fail(err, DASHI_E_QUOTA, "max_inflight_bytes_per_uid",
                      "%s has %llu bytes of unfinished requests over its connections, more than the limit of %llu "
                      "(max_inflight_bytes_per_uid); the connection is closed",
                      user, (unsigned long long)t->inflight, (unsigned long long)limit);
}
