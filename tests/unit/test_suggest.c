/* SPDX-License-Identifier: MIT */
/* The "did you mean" distance and the choice of the nearest word: swaps, insertions,
 * deletions and substitutions each cost one; a word too far from every candidate, or
 * equal to one, gets no suggestion. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "suggest.h"

static void distances(void **state)
{
    (void)state;
    assert_int_equal(suggest_distance("", ""), 0);
    assert_int_equal(suggest_distance("steps", "steps"), 0);
    assert_int_equal(suggest_distance("stpes", "steps"), 1);  /* a swap */
    assert_int_equal(suggest_distance("sumbit", "submit"), 1);
    assert_int_equal(suggest_distance("lse", "les"), 1);
    assert_int_equal(suggest_distance("step", "steps"), 1);   /* an insertion */
    assert_int_equal(suggest_distance("stepss", "steps"), 1); /* a deletion */
    assert_int_equal(suggest_distance("stops", "steps"), 1);  /* a substitution */
    assert_int_equal(suggest_distance("", "abc"), 3);
    assert_int_equal(suggest_distance("kitten", "sitting"), 3);
    assert_int_equal(suggest_distance("ca", "abc"), 3); /* swaps are not combined with edits inside them */
}

static void nearest(void **state)
{
    (void)state;
    static const char *const commands[] = {"submit", "status", "show", "list", "metrics", NULL};
    char buf[32];
    assert_string_equal(suggest_among("sumbit", commands, buf, sizeof buf), "submit");
    assert_string_equal(suggest_among("metric", commands, buf, sizeof buf), "metrics");
    assert_string_equal(suggest_among("shwo", commands, buf, sizeof buf), "show");
    assert_null(suggest_among("nosuch", commands, buf, sizeof buf));
    assert_null(suggest_among("submit", commands, buf, sizeof buf)); /* valid: nothing to suggest */
    assert_null(suggest_among("x", (const char *const[]){"abc", NULL}, buf, sizeof buf));
    char longword[SUGGEST_MAX_WORD + 8];
    memset(longword, 'a', sizeof longword - 1);
    longword[sizeof longword - 1] = 0;
    assert_null(suggest_among(longword, (const char *const[]){"aaa", NULL}, buf, sizeof buf));
}

static void first_of_equals(void **state)
{
    (void)state;
    struct suggestion s;
    suggest_init(&s, "nu");
    suggest_consider(&s, "N");
    suggest_consider(&s, "nu0");
    suggest_consider(&s, "mu");
    assert_string_equal(suggest_best(&s), "nu0"); /* the first at the smallest distance */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(distances),
        cmocka_unit_test(nearest),
        cmocka_unit_test(first_of_equals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
