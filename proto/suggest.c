/* SPDX-License-Identifier: MIT */
#include "suggest.h"

#include <stdio.h>
#include <string.h>

/* Optimal string alignment distance: Levenshtein plus swaps of adjacent characters, the
 * commonest typo ("sumbit", "stpes"). Three rows of the dynamic programme suffice. */
size_t suggest_distance(const char *a, const char *b)
{
    size_t n = strnlen(a, SUGGEST_MAX_WORD), m = strnlen(b, SUGGEST_MAX_WORD);
    size_t rows[3][SUGGEST_MAX_WORD + 1];
    size_t *before = rows[0], *prev = rows[1], *cur = rows[2];
    for (size_t j = 0; j <= m; j++)
        prev[j] = j;
    for (size_t i = 1; i <= n; i++) {
        cur[0] = i;
        for (size_t j = 1; j <= m; j++) {
            size_t cost = a[i - 1] != b[j - 1];
            size_t best = prev[j - 1] + cost;
            if (prev[j] + 1 < best)
                best = prev[j] + 1;
            if (cur[j - 1] + 1 < best)
                best = cur[j - 1] + 1;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && before[j - 2] + 1 < best)
                best = before[j - 2] + 1;
            cur[j] = best;
        }
        size_t *t = before;
        before = prev;
        prev = cur;
        cur = t;
    }
    return prev[m];
}

void suggest_init(struct suggestion *s, const char *word)
{
    s->word = word;
    s->best[0] = 0;
    s->distance = (size_t)-1;
}

void suggest_consider(struct suggestion *s, const char *candidate)
{
    if (strlen(candidate) > SUGGEST_MAX_WORD || strlen(s->word) > SUGGEST_MAX_WORD)
        return;
    size_t d = suggest_distance(s->word, candidate);
    if (d > 0 && d < s->distance) {
        s->distance = d;
        snprintf(s->best, sizeof s->best, "%s", candidate);
    }
}

const char *suggest_best(const struct suggestion *s)
{
    size_t reach = strlen(s->word) / 3;
    if (reach < 1)
        reach = 1;
    if (reach > 3)
        reach = 3;
    return s->best[0] && s->distance <= reach ? s->best : NULL;
}

const char *suggest_among(const char *word, const char *const *candidates, char *buf, size_t cap)
{
    struct suggestion s;
    suggest_init(&s, word);
    for (; candidates && *candidates; candidates++)
        suggest_consider(&s, *candidates);
    const char *best = suggest_best(&s);
    if (!best)
        return NULL;
    snprintf(buf, cap, "%s", best);
    return buf;
}
