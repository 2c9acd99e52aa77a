/* SPDX-License-Identifier: MIT */
/* What names a run rather than its computation: a job's name, its tags, its notes and
 * the group a sweep made it in (docs/protocol.md "Names, tags, notes and groups"). This
 * file checks their text against the protocol's bounds; store_tags.h stores them. */
#ifndef DASHI_JOB_LABELS_H
#define DASHI_JOB_LABELS_H

#include <msgpack.h>
#include <stdint.h>

#include "errors.h"

#define JOB_NAME_MAX 128  /* bytes of a job's or a group's name */
#define JOB_TAGS_MAX 32   /* tags on one job */
#define JOB_TAG_MAX 64    /* bytes of one tag */
#define JOB_NOTE_MAX 4096 /* bytes of one note */
#define JOB_NOTES_MAX 64  /* notes on one job */

struct job_labels {
    char name[JOB_NAME_MAX + 1]; /* "" when none */
    char tags[JOB_TAGS_MAX][JOB_TAG_MAX + 1];
    int ntags;     /* distinct */
    int64_t group; /* the sweep's group (0: none) */
};

/* The optional `name` and `tags` of a submission (or sweep) into l (group 0). E_BAD_TYPE,
 * E_BAD_VALUE or E_TOO_LARGE naming "name" or "tags". */
int labels_from_args(const msgpack_object *args, struct job_labels *l, struct dashi_error *err);
/* The `field` of args, a tag or an array of tags (required when `required`), into at most
 * max distinct tags; E_TOO_LARGE beyond max. */
int tags_from_arg(const msgpack_object *args, const char *field, bool required, char (*tags)[JOB_TAG_MAX + 1],
                  int max, int *n, struct dashi_error *err);
/* Text of a name (also a name pattern) or a note: 1..max bytes of UTF-8 without control
 * characters (a note may hold newlines and tabs). E_BAD_VALUE naming field. */
int label_text_check(const char *field, const char *s, size_t len, size_t max, bool multiline,
                     struct dashi_error *err);

#endif
