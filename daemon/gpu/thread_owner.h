/* SPDX-License-Identifier: MIT */
/* Which thread owns an object, checked where only that thread may call: the Vulkan
 * runtime and the scheduler's GPU side belong to the GPU thread once it runs
 * (docs/architecture.md, "Threads"). A cheap check (one atomic load and pthread_equal)
 * that turns a call from the wrong thread, a data race that would corrupt state quietly,
 * into an immediate abort naming the function. Until a thread claims the object, any
 * thread may call (startup, unit tests and benches, which have one thread). */
#ifndef DASHI_THREAD_OWNER_H
#define DASHI_THREAD_OWNER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

struct thread_owner {
    pthread_t id;        /* written before `claimed` is set, read after it is seen */
    atomic_bool claimed;
};

/* From now on only the calling thread may pass thread_owner_check. */
void thread_owner_claim(struct thread_owner *o);
/* Aborts, naming `what`, when a thread claimed o and the caller is another one. */
void thread_owner_check(const struct thread_owner *o, const char *what);

#endif
