/* SPDX-License-Identifier: MIT */
/* The resident-results cache (resident.h). A small fixed table: a pipeline keeps a few
 * outputs at a time, and a linear scan of 32 entries costs nothing next to a slice. */
#include "resident.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int resident_init(struct resident *r, struct vk_runtime *vk, uint64_t budget)
{
    memset(r, 0, sizeof *r);
    r->vk = vk;
    r->budget = budget;
    return uv_mutex_init(&r->mu) == 0 ? 0 : -1;
}

void resident_destroy(struct resident *r)
{
    resident_clear(r);
    for (struct resident_published *p = r->published, *next; p; p = next) {
        next = p->next;
        free(p);
    }
    r->published = NULL;
    uv_mutex_destroy(&r->mu);
}

void resident_published(struct resident *r, int64_t job, const char *output, const char *hash)
{
    struct resident_published *p = calloc(1, sizeof *p);
    if (!p) {
        /* The entry then stays pinned (not durable) until the device or the daemon drops it:
         * memory kept, never a wrong result. */
        fprintf(stderr, "dashid: out of memory recording the blob of job %lld's %s\n", (long long)job, output);
        return;
    }
    p->job = job;
    snprintf(p->output, sizeof p->output, "%s", output);
    snprintf(p->hash, sizeof p->hash, "%s", hash);
    uv_mutex_lock(&r->mu);
    p->next = r->published;
    r->published = p;
    uv_mutex_unlock(&r->mu);
}

static void entry_free(struct resident *r, struct resident_entry *e);

/* The entry of an output whose blob was never published (no hash bound yet, so no
 * consumer can hold it). */
static void drop_unpublished(struct resident *r, int64_t job, const char *output)
{
    for (int i = 0; i < RESIDENT_MAX_ENTRIES; i++)
        if (r->e[i].used && r->e[i].job == job && !r->e[i].hash[0] && strcmp(r->e[i].output, output) == 0)
            entry_free(r, &r->e[i]);
}

/* Applies the I/O thread's reports (GPU thread). */
static void apply_published(struct resident *r)
{
    uv_mutex_lock(&r->mu);
    struct resident_published *p = r->published;
    r->published = NULL;
    uv_mutex_unlock(&r->mu);
    while (p) {
        struct resident_published *next = p->next;
        if (p->hash[0]) {
            resident_bind_hash(r, p->job, p->output, p->hash);
            resident_mark_durable(r, p->hash);
        } else {
            drop_unpublished(r, p->job, p->output);
        }
        free(p);
        p = next;
    }
}

static void entry_free(struct resident *r, struct resident_entry *e)
{
    vk_buffer_free(r->vk, &e->buf);
    r->bytes -= e->bytes;
    memset(e, 0, sizeof *e);
}

void resident_clear(struct resident *r)
{
    for (int i = 0; i < RESIDENT_MAX_ENTRIES; i++)
        if (r->e[i].used)
            entry_free(r, &r->e[i]);
}

static bool evictable(const struct resident_entry *e) { return e->used && e->durable && e->pins == 0; }

static struct resident_entry *least_recent_evictable(struct resident *r)
{
    struct resident_entry *best = NULL;
    for (int i = 0; i < RESIDENT_MAX_ENTRIES; i++)
        if (evictable(&r->e[i]) && (!best || r->e[i].last_use < best->last_use))
            best = &r->e[i];
    return best;
}

void resident_evict_to(struct resident *r, uint64_t keep)
{
    apply_published(r);
    struct resident_entry *e;
    while (r->bytes > keep && (e = least_recent_evictable(r)) != NULL) {
        entry_free(r, e);
        r->evictions++;
    }
}

uint64_t resident_pinned_bytes(struct resident *r)
{
    apply_published(r);
    uint64_t bytes = 0;
    for (int i = 0; i < RESIDENT_MAX_ENTRIES; i++)
        if (r->e[i].used && !evictable(&r->e[i]))
            bytes += r->e[i].bytes;
    return bytes;
}

static struct resident_entry *free_slot(struct resident *r)
{
    for (int i = 0; i < RESIDENT_MAX_ENTRIES; i++)
        if (!r->e[i].used)
            return &r->e[i];
    return least_recent_evictable(r); /* the table is full: the oldest gives its place */
}

bool resident_put(struct resident *r, int64_t job, const char *output, const char *hash, bool durable,
                  struct vk_buffer *buf, uint64_t bytes, const struct resident_layout *layout)
{
    if (bytes > r->budget || layout->ndim > RESIDENT_MAX_DIMS)
        return false;
    resident_evict_to(r, r->budget - bytes);
    if (r->bytes + bytes > r->budget)
        return false; /* what stays is pinned or not yet durable */
    struct resident_entry *e = free_slot(r);
    if (!e)
        return false;
    if (e->used) {
        entry_free(r, e);
        r->evictions++;
    }
    *e = (struct resident_entry){.used = true, .job = job, .buf = *buf, .dtype = layout->dtype,
                                 .ndim = layout->ndim, .bytes = bytes, .durable = durable,
                                 .last_use = ++r->tick};
    snprintf(e->output, sizeof e->output, "%s", output);
    snprintf(e->hash, sizeof e->hash, "%s", hash ? hash : "");
    memcpy(e->shape, layout->shape, sizeof e->shape);
    r->bytes += bytes;
    memset(buf, 0, sizeof *buf);
    buf->block = -1;
    return true;
}

void resident_bind_hash(struct resident *r, int64_t job, const char *output, const char *hash)
{
    for (int i = 0; i < RESIDENT_MAX_ENTRIES; i++)
        if (r->e[i].used && r->e[i].job == job && strcmp(r->e[i].output, output) == 0)
            snprintf(r->e[i].hash, sizeof r->e[i].hash, "%s", hash);
}

void resident_mark_durable(struct resident *r, const char *hash)
{
    for (int i = 0; i < RESIDENT_MAX_ENTRIES; i++)
        if (r->e[i].used && strcmp(r->e[i].hash, hash) == 0)
            r->e[i].durable = true;
}

static bool same_layout(const struct resident_entry *e, const struct resident_layout *l)
{
    if (e->dtype != l->dtype || e->ndim != l->ndim)
        return false;
    for (int k = 0; k < e->ndim; k++)
        if (e->shape[k] != l->shape[k])
            return false;
    return true;
}

const struct vk_buffer *resident_acquire(struct resident *r, const char *hash, const struct resident_layout *layout)
{
    if (!hash[0])
        return NULL;
    apply_published(r);
    for (int i = 0; i < RESIDENT_MAX_ENTRIES; i++) {
        struct resident_entry *e = &r->e[i];
        if (e->used && strcmp(e->hash, hash) == 0 && same_layout(e, layout)) {
            e->pins++;
            e->last_use = ++r->tick;
            return &e->buf;
        }
    }
    return NULL;
}

void resident_release(struct resident *r, const struct vk_buffer *buf)
{
    for (int i = 0; buf && i < RESIDENT_MAX_ENTRIES; i++)
        if (r->e[i].used && &r->e[i].buf == buf && r->e[i].pins > 0)
            r->e[i].pins--;
}

uint64_t resident_room(const struct resident *r) { return r->budget > r->bytes ? r->budget - r->bytes : 0; }

uint64_t resident_default_budget(uint64_t device_budget) { return device_budget / 4; }
