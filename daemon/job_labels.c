/* SPDX-License-Identifier: MIT */
/* Checking a run's name, tags and notes (job_labels.h). */
#include "job_labels.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "wire.h"

/* Length of the UTF-8 sequence at s (at most n bytes), 0 when it is not one. */
static size_t utf8_sequence(const unsigned char *s, size_t n)
{
    size_t len = s[0] < 0x80 ? 1 : (s[0] & 0xe0) == 0xc0 ? 2 : (s[0] & 0xf0) == 0xe0 ? 3 : (s[0] & 0xf8) == 0xf0 ? 4 : 0;
    if (len == 0 || len > n || (len == 2 && s[0] < 0xc2))
        return 0;
    for (size_t k = 1; k < len; k++)
        if ((s[k] & 0xc0) != 0x80)
            return 0;
    return len;
}

int label_text_check(const char *field, const char *s, size_t len, size_t max, bool multiline,
                     struct dashi_error *err)
{
    if (len == 0 || len > max)
        return dashi_fail(err, DASHI_E_BAD_VALUE, field, "%s must be 1 to %zu bytes long, got %zu", field, max, len);
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < len;) {
        bool allowed_control = multiline && (p[i] == '\n' || p[i] == '\t');
        if ((p[i] < 0x20 || p[i] == 0x7f) && !allowed_control)
            return dashi_fail(err, DASHI_E_BAD_VALUE, field, "%s must not contain control characters (byte %zu)",
                              field, i);
        size_t step = utf8_sequence(p + i, len - i);
        if (step == 0)
            return dashi_fail(err, DASHI_E_BAD_VALUE, field, "%s must be UTF-8 text (byte %zu is not)", field, i);
        i += step;
    }
    return 0;
}

/* A tag is a word of letters, digits and . _ - + = : / @ (so it needs no quoting in a
 * shell, a CSV cell or a glob). */
static int tag_check(const char *field, const msgpack_object *o, char out[JOB_TAG_MAX + 1], struct dashi_error *err)
{
    if (o->type != MSGPACK_OBJECT_STR)
        return dashi_fail(err, DASHI_E_BAD_TYPE, field, "%s must be a string or an array of strings", field);
    uint32_t n = o->via.str.size;
    if (n == 0 || n > JOB_TAG_MAX)
        return dashi_fail(err, DASHI_E_BAD_VALUE, field, "a tag must be 1 to %d bytes long, got %u", JOB_TAG_MAX, n);
    for (uint32_t i = 0; i < n; i++) {
        char ch = o->via.str.ptr[i];
        bool word = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                    (ch != '\0' && strchr("._-+=:/@", ch)); /* strchr finds the terminator too */
        if (!word)
            return dashi_fail(err, DASHI_E_BAD_VALUE, field,
                              "a tag is letters, digits and . _ - + = : / @ (byte %u of '%.*s' is not)", i,
                              (int)(n < 64 ? n : 64), o->via.str.ptr);
    }
    memcpy(out, o->via.str.ptr, n);
    out[n] = '\0';
    return 0;
}

static bool tag_listed(char (*tags)[JOB_TAG_MAX + 1], int n, const char *t)
{
    for (int i = 0; i < n; i++)
        if (strcmp(tags[i], t) == 0)
            return true;
    return false;
}

int tags_from_arg(const msgpack_object *args, const char *field, bool required, char (*tags)[JOB_TAG_MAX + 1],
                  int max, int *n, struct dashi_error *err)
{
    *n = 0;
    const msgpack_object *o = args_find(args, field);
    if (!o || o->type == MSGPACK_OBJECT_NIL)
        return required ? dashi_fail(err, DASHI_E_MISSING_FIELD, field, "%s is required", field) : 0;
    bool one = o->type != MSGPACK_OBJECT_ARRAY;
    uint32_t count = one ? 1 : o->via.array.size;
    if (required && count == 0)
        return dashi_fail(err, DASHI_E_MISSING_FIELD, field, "%s needs at least one tag", field);
    for (uint32_t i = 0; i < count; i++) {
        char t[JOB_TAG_MAX + 1];
        if (tag_check(field, one ? o : &o->via.array.ptr[i], t, err) != 0)
            return -1;
        if (tag_listed(tags, *n, t))
            continue;
        if (*n == max)
            return dashi_fail(err, DASHI_E_TOO_LARGE, field, "at most %d distinct tags, got more", max);
        memcpy(tags[(*n)++], t, sizeof t);
    }
    return 0;
}

int labels_from_args(const msgpack_object *args, struct job_labels *l, struct dashi_error *err)
{
    memset(l, 0, sizeof *l);
    const msgpack_object *name = args_find(args, "name");
    if (name && name->type != MSGPACK_OBJECT_NIL) {
        if (name->type != MSGPACK_OBJECT_STR)
            return dashi_fail(err, DASHI_E_BAD_TYPE, "name", "name must be a string");
        if (label_text_check("name", name->via.str.ptr, name->via.str.size, JOB_NAME_MAX, false, err) != 0)
            return -1;
        memcpy(l->name, name->via.str.ptr, name->via.str.size);
        l->name[name->via.str.size] = '\0';
    }
    return tags_from_arg(args, "tags", false, l->tags, JOB_TAGS_MAX, &l->ntags, err);
}
