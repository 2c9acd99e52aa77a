/* SPDX-License-Identifier: MIT */
#include "scheduler.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int scheduler_init(struct scheduler *s, uint64_t mem_budget, double half_life_s)
{
    memset(s, 0, sizeof *s);
    if (uv_mutex_init(&s->mu) != 0)
        return -1;
    if (uv_cond_init(&s->cv) != 0) {
        uv_mutex_destroy(&s->mu);
        return -1;
    }
    s->ndev = 1;
    s->dev[0].mem_budget = mem_budget;
    s->half_life_s = half_life_s;
    return 0;
}

void scheduler_set_device(struct scheduler *s, int dev, uint64_t mem_budget, struct resident *resident,
                          struct device_health *health)
{
    s->dev[dev].mem_budget = mem_budget;
    s->dev[dev].resident = resident;
    s->dev[dev].health = health;
}

int scheduler_add_device(struct scheduler *s, uint64_t mem_budget, struct resident *resident,
                         struct device_health *health)
{
    if (s->ndev == SCHED_MAX_DEVICES)
        return -1;
    scheduler_set_device(s, s->ndev, mem_budget, resident, health);
    return s->ndev++;
}

void scheduler_device_view(struct scheduler *s, int dev, struct sched_device_view *v)
{
    uv_mutex_lock(&s->mu);
    const struct sched_device *sd = &s->dev[dev];
    *v = (struct sched_device_view){.mem_budget = sd->mem_budget, .mem_started = sd->mem_started,
                                    .jobs_started = sd->jobs_started, .gpu_seconds = sd->gpu_seconds,
                                    .running = sd->running};
    for (const struct sched_job *j = s->jobs; j; j = j->next) {
        v->queued_pins += !j->started && j->pin == dev + 1;
        v->started += j->started && j->device == dev;
    }
    uv_mutex_unlock(&s->mu);
}

/* Under mu, or where no other thread runs (a split's count of parts is under mu). */
static void sched_job_free(struct sched_job *j)
{
    if (j->split)
        sched_split_unref(j->split); /* the params are the split's */
    else if (j->params && j->kind->free_params)
        j->kind->free_params(j->params);
    free(j);
}

void job_msg_free(struct job_msg *m)
{
    if (!m)
        return;
    free(m->metrics);
    free(m->hashes);
    free(m);
}

void scheduler_destroy(struct scheduler *s)
{
    for (struct sched_job *j = s->jobs, *n; j; j = n) {
        n = j->next;
        sched_job_free(j);
    }
    for (struct job_msg *m = s->msgs, *n; m; m = n) {
        n = m->next;
        job_msg_free(m);
    }
    free(s->users);
    uv_cond_destroy(&s->cv);
    uv_mutex_destroy(&s->mu);
    memset(s, 0, sizeof *s);
}

static const struct sched_job *find_active(const struct scheduler *s, int64_t id)
{
    for (const struct sched_job *j = s->jobs; j; j = j->next)
        if (j->id == id)
            return j;
    return NULL;
}

/* A waiting job's reason: the first of its dependencies that has not ended. Under mu. */
static void note_waiting(const struct scheduler *s, struct sched_job *j)
{
    for (int k = 0; k < j->plan.ndeps; k++)
        if (find_active(s, j->plan.deps[k])) {
            snprintf(j->reason, sizeof j->reason, "waiting for job %lld", (long long)j->plan.deps[k]);
            return;
        }
    snprintf(j->reason, sizeof j->reason, "waiting for its inputs to be checked");
}

void scheduler_add(struct scheduler *s, struct sched_job *job)
{
    job->next = NULL;
    uv_mutex_lock(&s->mu);
    if (job->waiting)
        note_waiting(s, job);
    else
        job->reason[0] = '\0';
    struct sched_job **p = &s->jobs;
    while (*p)
        p = &(*p)->next;
    *p = job;
    uv_cond_broadcast(&s->cv); /* every device's thread: the job may be pinned */
    uv_mutex_unlock(&s->mu);
}

int scheduler_cancel(struct scheduler *s, int64_t id)
{
    int rc = -1;
    uv_mutex_lock(&s->mu);
    for (struct sched_job **p = &s->jobs; *p; p = &(*p)->next) {
        struct sched_job *j = *p;
        if (j->id != id)
            continue;
        if (j->started) {
            atomic_store(&j->cancel, true);
            rc = 0;
            if (j->split)
                continue; /* every part of a split job is flagged */
        } else {
            *p = j->next;
            sched_job_free(j);
            rc = 1;
        }
        break;
    }
    uv_mutex_unlock(&s->mu);
    return rc;
}

static bool depends_on(const struct sched_job *j, int64_t dep)
{
    for (int k = 0; k < j->plan.ndeps; k++)
        if (j->plan.deps[k] == dep)
            return true;
    return false;
}

int scheduler_dependents(struct scheduler *s, int64_t dep, int64_t **ids, size_t *n)
{
    *ids = NULL;
    *n = 0;
    int rc = 0;
    uv_mutex_lock(&s->mu);
    size_t count = 0;
    for (const struct sched_job *j = s->jobs; j; j = j->next)
        count += j->waiting && depends_on(j, dep);
    if (count && !(*ids = malloc(count * sizeof **ids)))
        rc = -1;
    for (const struct sched_job *j = s->jobs; j && *ids; j = j->next)
        if (j->waiting && depends_on(j, dep))
            (*ids)[(*n)++] = j->id;
    uv_mutex_unlock(&s->mu);
    return rc;
}

static bool resolved_from(const struct sched_job *j, int64_t dep)
{
    for (int k = 0; k < j->plan.nresolved; k++)
        if (j->plan.resolved[k] == dep)
            return true;
    return false;
}

int64_t scheduler_first_dependent(struct scheduler *s, int64_t dep)
{
    int64_t found = 0;
    uv_mutex_lock(&s->mu);
    for (const struct sched_job *j = s->jobs; j && !found; j = j->next)
        if (j->waiting && !j->identical_to && (depends_on(j, dep) || resolved_from(j, dep)))
            found = j->id;
    uv_mutex_unlock(&s->mu);
    return found;
}

bool scheduler_has_dependents(struct scheduler *s, int64_t dep)
{
    return scheduler_first_dependent(s, dep) != 0;
}

bool scheduler_awaits_identical(struct scheduler *s, int64_t id, int64_t dep)
{
    bool found = false;
    uv_mutex_lock(&s->mu);
    for (const struct sched_job *j = s->jobs; j && !found; j = j->next)
        found = j->id == id && j->waiting && j->identical_to == dep;
    uv_mutex_unlock(&s->mu);
    return found;
}

void scheduler_job_await_identical(struct sched_job *j, int64_t original)
{
    j->plan.ndeps = 1;
    j->plan.deps[0] = original;
    j->identical_to = original;
    j->waiting = true;
}

/* The waiting job id takes the re-validated params and plan; waiting on for identical_to,
 * or runnable when that is 0. -1 if the job is no longer waiting in the scheduler. */
static int replace_plan(struct scheduler *s, int64_t id, void *params, const struct job_plan *plan,
                        int64_t identical_to)
{
    int rc = -1;
    uv_mutex_lock(&s->mu);
    for (struct sched_job *j = s->jobs; j; j = j->next) {
        if (j->id != id || !j->waiting)
            continue;
        if (j->params)
            j->kind->free_params(j->params);
        j->params = params;
        j->plan = *plan;
        j->identical_to = identical_to;
        j->waiting = identical_to != 0;
        j->reason[0] = '\0';
        rc = 0;
        if (!j->waiting)
            uv_cond_broadcast(&s->cv); /* every device's thread: the job may be pinned */
        break;
    }
    uv_mutex_unlock(&s->mu);
    return rc;
}

int scheduler_make_waiting(struct scheduler *s, int64_t id, void *params, const struct job_plan *plan,
                           int64_t identical_to)
{
    return replace_plan(s, id, params, plan, identical_to);
}

int scheduler_make_ready(struct scheduler *s, int64_t id, void *params, const struct job_plan *plan)
{
    return replace_plan(s, id, params, plan, 0);
}

bool scheduler_reason(struct scheduler *s, int64_t id, char *out, size_t size, bool *started)
{
    uv_mutex_lock(&s->mu);
    const struct sched_job *j = find_active(s, id);
    if (j) {
        snprintf(out, size, "%s", j->reason);
        *started = j->started;
    }
    uv_mutex_unlock(&s->mu);
    return j != NULL;
}

size_t scheduler_count_user(struct scheduler *s, uid_t uid)
{
    size_t n = 0;
    uv_mutex_lock(&s->mu);
    for (struct sched_job *j = s->jobs; j; j = j->next)
        n += j->uid == uid && j->part == 0; /* a split job counts once */
    uv_mutex_unlock(&s->mu);
    return n;
}

void scheduler_request_stop(struct scheduler *s)
{
    uv_mutex_lock(&s->mu);
    s->stop = true;
    uv_cond_broadcast(&s->cv);
    uv_mutex_unlock(&s->mu);
}

bool scheduler_stopping(struct scheduler *s)
{
    uv_mutex_lock(&s->mu);
    bool stop = s->stop;
    uv_mutex_unlock(&s->mu);
    return stop;
}

void scheduler_wake(struct scheduler *s)
{
    uv_mutex_lock(&s->mu);
    uv_cond_broadcast(&s->cv);
    uv_mutex_unlock(&s->mu);
}

static struct user_usage *user_find(struct scheduler *s, uid_t uid, bool create)
{
    for (size_t i = 0; i < s->nusers; i++)
        if (s->users[i].uid == uid)
            return &s->users[i];
    if (!create)
        return NULL;
    if (s->nusers == s->cap_users) {
        size_t cap = s->cap_users ? 2 * s->cap_users : 8;
        struct user_usage *u = realloc(s->users, cap * sizeof *u);
        if (!u)
            return NULL;
        s->users = u;
        s->cap_users = cap;
    }
    struct user_usage *u = &s->users[s->nusers++];
    memset(u, 0, sizeof *u);
    u->uid = uid;
    return u;
}

static double decayed_usage(const struct scheduler *s, const struct user_usage *u, double now)
{
    if (!u)
        return 0;
    double dt = now - u->updated_at;
    return dt > 0 ? u->usage * exp2(-dt / s->half_life_s) : u->usage;
}

static double user_share(const struct scheduler *s, uid_t uid)
{
    return s->cfg ? config_user_limits(s->cfg, uid).share : 1.0;
}

/* Usage is weighed by the user's share: a user with share 2 gets twice the GPU time. */
static double weighted_usage(struct scheduler *s, uid_t uid, double now)
{
    return decayed_usage(s, user_find(s, uid, false), now) / user_share(s, uid);
}

/* True if a is preferred over b for the next slice. */
static bool prefer(struct scheduler *s, const struct sched_job *a, const struct sched_job *b, double now)
{
    double ua = weighted_usage(s, a->uid, now), ub = weighted_usage(s, b->uid, now);
    if (ua != ub)
        return ua < ub;
    if (a->priority != b->priority)
        return a->priority > b->priority;
    /* Within a user and priority, the job that has had the least GPU time goes next, so
     * a short job is not stuck behind the same user's long one. */
    if (a->gpu_seconds != b->gpu_seconds)
        return a->gpu_seconds < b->gpu_seconds;
    return a->id < b->id;
}

static bool waits_on_io(const struct scheduler *s, const struct sched_job *j)
{
    return j->io_wait && s->io_released && atomic_load(s->io_released) == j->io_wait_gen;
}

static bool fits_now(const struct scheduler *s, int dev, const struct sched_job *j, uint64_t held)
{
    const struct sched_device *sd = &s->dev[dev];
    return j->started || sd->mem_started + held + j->plan.mem_estimate <= sd->mem_budget;
}

/* Whether device dev takes new work (a device being re-created or lost runs nothing). */
static bool device_ok(const struct scheduler *s, int dev)
{
    struct device_health *h = s->dev[dev].health;
    return !h || device_health_get(h).state == DEVICE_OK;
}

/* The device a queued job must wait for instead of dev, -1 when dev may take it: its pin,
 * or its affinity while that device is ok (a pipeline's stages stay where their inputs are). */
static int placed_elsewhere(const struct scheduler *s, const struct sched_job *j, int dev)
{
    if (j->started)
        return j->device == dev ? -1 : j->device;
    if (j->pin)
        return j->pin - 1 == dev ? -1 : j->pin - 1;
    if (j->affinity && j->affinity - 1 != dev && j->affinity - 1 < s->ndev && device_ok(s, j->affinity - 1))
        return j->affinity - 1;
    return -1;
}

#define MIB(b) ((double)(b) / (1024.0 * 1024.0))

/* Records why this pass of device dev, which chose best (NULL: nothing could run), passed
 * j over: the same tests scheduler_next made, in its order. A started job that waits for
 * its turn is running, not queued: only waiting on I/O is worth saying of it; one started
 * on another device is that device's to note. Under mu. */
static void note_pass_over(struct scheduler *s, int dev, struct sched_job *j, const struct sched_job *best,
                           uint64_t held, double now)
{
    char *r = j->reason;
    size_t n = sizeof j->reason;
    int other = placed_elsewhere(s, j, dev);
    if (j->started && other >= 0)
        return;
    if (j == best) {
        r[0] = '\0';
    } else if (j->waiting) {
        note_waiting(s, j);
    } else if (waits_on_io(s, j)) {
        snprintf(r, n, "waiting on I/O (no staging buffer free)");
    } else if (j->started) {
        r[0] = '\0';
    } else if (other >= 0) {
        snprintf(r, n, "waiting for device %d (%s)", other, j->pin ? "pinned" : "its inputs are there");
    } else if (!fits_now(s, dev, j, held)) {
        const struct sched_device *sd = &s->dev[dev];
        uint64_t used = sd->mem_started + held;
        char which[16] = ""; /* with one device, as before the pool */
        if (s->ndev > 1)
            snprintf(which, sizeof which, " %d", dev);
        snprintf(r, n, "device%s memory (needs %.1f MiB, %.1f of %.1f MiB free)", which, MIB(j->plan.mem_estimate),
                 MIB(used < sd->mem_budget ? sd->mem_budget - used : 0), MIB(sd->mem_budget));
    } else if (!best) {
        r[0] = '\0'; /* cannot happen: a job that fits is chosen */
    } else if (best->uid != j->uid && weighted_usage(s, best->uid, now) < weighted_usage(s, j->uid, now)) {
        snprintf(r, n, "fair share: uid %u first", (unsigned)best->uid);
    } else if (best->priority > j->priority) {
        snprintf(r, n, "priority: job %lld first", (long long)best->id);
    } else {
        snprintf(r, n, "behind job %lld", (long long)best->id);
    }
}

/* Whether a queued job is better started by another device that runs nothing, than by
 * dev, which already runs a job: the pool's devices run side by side rather than one of
 * them interleaving slices. The idle device's thread was woken by the job's arrival.
 * Under mu (resident bytes of the other device are not counted: its thread owns them). */
static bool idle_device_for(const struct scheduler *s, int dev, const struct sched_job *j)
{
    if (j->started || s->dev[dev].nstarted == 0)
        return false;
    for (int k = 0; k < s->ndev; k++)
        if (k != dev && s->dev[k].nstarted == 0 && device_ok(s, k) && placed_elsewhere(s, j, k) < 0 &&
            fits_now(s, k, j, 0))
            return true;
    return false;
}

/* The job device dev's pass picks (NULL: none can run there now). Under mu. */
static struct sched_job *pick(struct scheduler *s, int dev, uint64_t held, double now)
{
    struct sched_job *best = NULL;
    for (struct sched_job *j = s->jobs; j; j = j->next) {
        if (j->waiting || waits_on_io(s, j) || placed_elsewhere(s, j, dev) >= 0 || idle_device_for(s, dev, j))
            continue;
        if (fits_now(s, dev, j, held) && (!best || prefer(s, j, best, now)))
            best = j;
    }
    return best;
}

/* Part `part` of the split sp of best, started on device dev (a copy of best, but the
 * GPU-thread state), behind `after` in the list. Under mu. NULL when out of memory. */
static struct sched_job *add_part(struct scheduler *s, const struct sched_job *best, struct sched_job *after,
                                  int part, int dev)
{
    struct sched_job *p = malloc(sizeof *p);
    if (!p)
        return NULL;
    memcpy(p, best, sizeof *p);
    atomic_init(&p->cancel, atomic_load(&best->cancel));
    p->part = part;
    p->state = NULL;
    p->io = NULL;
    p->io_wait = false;
    p->nresident_pins = 0;
    p->run_seconds = 0;
    p->started = true;
    p->device = dev;
    s->dev[dev].mem_started += p->plan.mem_estimate; /* a part is counted as the whole: an upper bound */
    s->dev[dev].jobs_started++;
    s->dev[dev].nstarted++;
    p->next = after->next;
    after->next = p;
    return p;
}

/* Device dev is starting best, a job not pinned: when its kind can split it and other
 * devices are idle with room for it, it runs as parts, one on each (sched_split.h); best
 * becomes part 0, on dev. Under mu. Out of memory, it runs whole. */
static void maybe_split(struct scheduler *s, int dev, struct sched_job *best)
{
    uint32_t units = best->kind->split_units ? best->kind->split_units(best->params) : 0;
    if (best->pin || units < 2)
        return;
    int idle[SCHED_MAX_DEVICES], nidle = 0;
    for (int k = 0; k < s->ndev && (uint32_t)nidle + 1 < units; k++)
        if (k != dev && s->dev[k].nstarted == 0 && device_ok(s, k) &&
            s->dev[k].mem_started + best->plan.mem_estimate <= s->dev[k].mem_budget)
            idle[nidle++] = k;
    if (nidle == 0)
        return;
    struct sched_split *sp = sched_split_new(best->kind, best->params, units, nidle + 1, best->gpu_seconds);
    if (!sp)
        return;
    best->split = sp;
    best->part = 0;
    int placed = 1;
    for (struct sched_job *last = best; placed <= nidle; placed++)
        if (!(last = add_part(s, best, last, placed, idle[placed - 1])))
            break;
    sp->nparts = sp->refs = placed; /* out of memory part way: fewer parts, over all the units */
    if (placed == 1) {
        best->split = NULL;
        sp->params = NULL;
        sched_split_unref(sp);
    }
    uv_cond_broadcast(&s->cv); /* the idle devices' threads: their parts are there */
}

struct sched_job *scheduler_next(struct scheduler *s, int dev)
{
    struct sched_device *sd = &s->dev[dev];
    thread_owner_check(&sd->gpu, "scheduler_next");
    uv_mutex_lock(&s->mu);
    sd->running = 0;
    for (;;) {
        if (s->stop) {
            uv_mutex_unlock(&s->mu);
            return NULL;
        }
        double now = now_seconds();
        uint64_t held = sd->resident ? resident_pinned_bytes(sd->resident) : 0; /* what eviction cannot free */
        struct sched_job *best = device_ok(s, dev) ? pick(s, dev, held, now) : NULL;
        for (struct sched_job *j = s->jobs; j; j = j->next)
            note_pass_over(s, dev, j, best, held, now);
        if (best) {
            best->io_wait = false;
            if (!best->started) {
                best->started = true;
                best->device = dev;
                sd->mem_started += best->plan.mem_estimate;
                sd->jobs_started++;
                sd->nstarted++;
                maybe_split(s, dev, best);
            }
            sd->running = best->id;
            uint64_t room = sd->mem_budget > sd->mem_started ? sd->mem_budget - sd->mem_started : 0;
            uv_mutex_unlock(&s->mu);
            if (sd->resident)
                resident_evict_to(sd->resident, room); /* this thread's: after the lock */
            return best;
        }
        uv_cond_wait(&s->cv, &s->mu);
    }
}

void scheduler_charge(struct scheduler *s, struct sched_job *job, double seconds, double now)
{
    thread_owner_check(&s->dev[job->device].gpu, "scheduler_charge");
    uv_mutex_lock(&s->mu);
    s->dev[job->device].gpu_seconds += seconds;
    if (job->split)
        job->split->gpu_seconds += seconds;
    struct user_usage *u = user_find(s, job->uid, true);
    if (u) {
        u->usage = decayed_usage(s, u, now) + seconds;
        u->updated_at = now;
    }
    uv_mutex_unlock(&s->mu);
}

double scheduler_job_seconds(struct scheduler *s, const struct sched_job *job)
{
    uv_mutex_lock(&s->mu);
    double seconds = job->split ? job->split->gpu_seconds : job->gpu_seconds;
    uv_mutex_unlock(&s->mu);
    return seconds;
}

bool scheduler_part_ended(struct scheduler *s, struct sched_job *job, enum job_state state,
                          const struct dashi_error *why)
{
    uv_mutex_lock(&s->mu);
    if (!job->part_ended) {
        job->part_ended = true;
        job->part_last = sched_split_part_ended(job->split, state, why);
    }
    uv_mutex_unlock(&s->mu);
    return job->part_last;
}

void *scheduler_split_shared(struct scheduler *s, struct sched_job *job, size_t bytes)
{
    struct sched_split *sp = job->split;
    uv_mutex_lock(&s->mu);
    if (!sp->shared && (sp->shared = calloc(1, bytes)))
        sp->shared_bytes = bytes;
    void *shared = sp->shared_bytes == bytes ? sp->shared : NULL;
    uv_mutex_unlock(&s->mu);
    return shared;
}

void scheduler_remove(struct scheduler *s, struct sched_job *job)
{
    if (job->started)
        thread_owner_check(&s->dev[job->device].gpu, "scheduler_remove");
    uv_mutex_lock(&s->mu);
    for (struct sched_job **p = &s->jobs; *p; p = &(*p)->next) {
        if (*p == job) {
            *p = job->next;
            break;
        }
    }
    if (job->started) {
        s->dev[job->device].mem_started -= job->plan.mem_estimate;
        s->dev[job->device].nstarted--;
        bool wrote_outputs = !job->split || job->part_last; /* a split job's: its last part */
        for (struct sched_job *j = s->jobs; j && wrote_outputs; j = j->next)
            if (j->waiting && !j->affinity && depends_on(j, job->id))
                j->affinity = job->device + 1; /* its inputs are resident there */
    }
    uv_cond_broadcast(&s->cv); /* memory freed: a waiting job may fit now */
    sched_job_free(job);
    uv_mutex_unlock(&s->mu);
}

void scheduler_post(struct scheduler *s, struct job_msg *m)
{
    m->next = NULL;
    uv_mutex_lock(&s->mu);
    if (s->msgs_tail)
        s->msgs_tail->next = m;
    else
        s->msgs = m;
    s->msgs_tail = m;
    uv_mutex_unlock(&s->mu);
}

struct job_msg *scheduler_take_msgs(struct scheduler *s)
{
    uv_mutex_lock(&s->mu);
    struct job_msg *m = s->msgs;
    s->msgs = s->msgs_tail = NULL;
    uv_mutex_unlock(&s->mu);
    return m;
}

double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}
