/* SPDX-License-Identifier: MIT */
/* Paged replies: cursors in and out (docs/protocol.md "Paging"). */
#include "ops_page.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wire.h"

int arg_cursor(const msgpack_object *args, char *out, size_t cap, struct dashi_error *err)
{
    return arg_str(args, "cursor", false, "", out, cap, err);
}

void pack_next(msgpack_packer *pk, const char *next)
{
    pk_key(pk, "next");
    if (next)
        pk_str(pk, next);
    else
        msgpack_pack_nil(pk);
}

int bad_cursor(struct dashi_error *err)
{
    return dashi_fail(err, DASHI_E_BAD_VALUE, "cursor", "not a cursor of this op: pass the `next` of the previous page");
}

int cursor_i64(const char *s, int64_t *v, const char **rest)
{
    char *end;
    errno = 0;
    long long x = strtoll(s, &end, 10);
    if (end == s || errno != 0)
        return -1;
    *v = x;
    *rest = end;
    return 0;
}

void cursor_format(char out[TAGGED_CURSOR_MAX], const char *tag, const int64_t *v, int n)
{
    size_t used = (size_t)snprintf(out, TAGGED_CURSOR_MAX, "%.15s", tag);
    for (int k = 0; k < n && used < TAGGED_CURSOR_MAX; k++)
        used += (size_t)snprintf(out + used, TAGGED_CURSOR_MAX - used, ":%lld", (long long)v[k]);
}

int cursor_parse(const char *cur, const char *tag, int64_t *v, int n, struct dashi_error *err)
{
    size_t len = strlen(tag);
    if (strncmp(cur, tag, len) != 0)
        return bad_cursor(err);
    const char *p = cur + len;
    for (int k = 0; k < n; k++) {
        /* Only digits after the colon: strtoll would also skip spaces and take a '+'. */
        if (*p != ':' || !(p[1] == '-' || (p[1] >= '0' && p[1] <= '9')) || cursor_i64(p + 1, &v[k], &p) != 0)
            return bad_cursor(err);
    }
    return *p ? bad_cursor(err) : 0;
}
