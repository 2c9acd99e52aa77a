/* SPDX-License-Identifier: MIT */
/* For tests of thread ownership (thread_owner.h): claim an object from another thread,
 * and check that a call from this one aborts. The call runs in a forked child, which
 * must die of SIGABRT; a child that returns, crashes otherwise or hangs (20 s alarm)
 * fails the test. */
#ifndef DASHI_TEST_THREAD_CLAIM_H
#define DASHI_TEST_THREAD_CLAIM_H

#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "thread_owner.h"

static void *claim_thread_main(void *owner)
{
    thread_owner_claim(owner);
    return NULL;
}

/* Claims o from a thread that then ends: no live thread may pass its check now. */
static void claim_elsewhere(struct thread_owner *o)
{
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, claim_thread_main, o), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
}

static void expect_abort(void (*call)(void *), void *arg)
{
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        alarm(20);
        call(arg);
        _exit(0);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGABRT)
        fail_msg("the call from a thread that does not own the object was not aborted (status %d)", status);
}

#endif
