/* SPDX-License-Identifier: MIT */
/* Paged replies (docs/protocol.md "Paging"): the `cursor` argument of a page after the
 * first, the reply's `next`, and cursors made of a tag and integers, which the ops whose
 * order is a row key use (atoms, events, audit, lineage: "atoms:STEP:IDX"). */
#ifndef DASHI_OPS_PAGE_H
#define DASHI_OPS_PAGE_H

#include <msgpack.h>
#include <stddef.h>
#include <stdint.h>

#include "errors.h"

/* The `cursor` argument into out ("" when absent: the first page). */
int arg_cursor(const msgpack_object *args, char *out, size_t cap, struct dashi_error *err);
/* Packs "next": the cursor of the following page, nil (next NULL) on the last one. */
void pack_next(msgpack_packer *pk, const char *next);
/* E_BAD_VALUE naming `cursor`: not a cursor this op made. */
int bad_cursor(struct dashi_error *err);
/* Parses the leading decimal integer of s (a cursor's field); *rest points past it. */
int cursor_i64(const char *s, int64_t *v, const char **rest);

/* The longest cursor cursor_format writes (a tag of up to 15 characters, 5 integers). */
#define TAGGED_CURSOR_MAX 128
/* "TAG:V0:V1:..." of the n values. */
void cursor_format(char out[TAGGED_CURSOR_MAX], const char *tag, const int64_t *v, int n);
/* Reads a cursor cursor_format made for tag with n values (any integers: a key is only
 * compared with rows, so no value can reach further than its job's rows); anything
 * else is bad_cursor. */
int cursor_parse(const char *cur, const char *tag, int64_t *v, int n, struct dashi_error *err);

#endif
