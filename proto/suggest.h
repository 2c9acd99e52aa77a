/* SPDX-License-Identifier: MIT */
/* "Did you mean": the nearest of a set of valid words to a mistyped one, by edit distance
 * (insertions, deletions, substitutions and swaps of two neighbours each cost 1). Shared
 * by the daemon (unknown kinds, fields, metric keys) and dashi (commands, options). */
#ifndef DASHI_SUGGEST_H
#define DASHI_SUGGEST_H

#include <stddef.h>

#define SUGGEST_MAX_WORD 64 /* longer words are neither compared nor suggested */

/* The distance between a and b, counting at most SUGGEST_MAX_WORD bytes of each. */
size_t suggest_distance(const char *a, const char *b);

/* Collects the nearest candidate to word: initialise with suggest_init, offer every valid
 * word to suggest_consider, then suggest_best is the nearest within a typo's reach (a
 * third of the word's length, at least 1, at most 3; an exact match is no typo) or NULL. */
struct suggestion {
    const char *word;
    char best[SUGGEST_MAX_WORD + 1];
    size_t distance;
};
void suggest_init(struct suggestion *s, const char *word);
void suggest_consider(struct suggestion *s, const char *candidate);
const char *suggest_best(const struct suggestion *s);
/* The nearest of the NULL-terminated list, as suggest_best. */
const char *suggest_among(const char *word, const char *const *candidates, char *buf, size_t cap);

#endif
