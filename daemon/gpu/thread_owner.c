/* SPDX-License-Identifier: MIT */
/* Thread ownership checks (thread_owner.h). */
#include "thread_owner.h"

#include <stdio.h>
#include <stdlib.h>

void thread_owner_claim(struct thread_owner *o)
{
    o->id = pthread_self();
    atomic_store_explicit(&o->claimed, true, memory_order_release);
}

void thread_owner_check(const struct thread_owner *o, const char *what)
{
    if (!atomic_load_explicit(&o->claimed, memory_order_acquire) || pthread_equal(o->id, pthread_self()))
        return;
    /* An impossible state: continuing would race the owner on unsynchronised state. */
    fprintf(stderr, "dashid: %s called from a thread that does not own it (the GPU thread does)\n", what);
    abort();
}
