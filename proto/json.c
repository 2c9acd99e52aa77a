/* SPDX-License-Identifier: MIT */
/* msgpack object -> JSON text (RFC 8259). */
#include "json.h"

#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* Length of the valid UTF-8 sequence starting at s (at most n bytes), 0 if invalid.
 * Rejects overlong forms, surrogates and code points above U+10FFFF. */
static size_t utf8_sequence(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    size_t len;
    unsigned char lo = 0x80, hi = 0xbf; /* allowed range of the second byte */
    if (c < 0x80) return 1;
    if (c >= 0xc2 && c <= 0xdf) len = 2;
    else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        if (c == 0xe0) lo = 0xa0;      /* overlong */
        else if (c == 0xed) hi = 0x9f; /* surrogates */
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        if (c == 0xf0) lo = 0x90;      /* overlong */
        else if (c == 0xf4) hi = 0x8f; /* above U+10FFFF */
    } else
        return 0;
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if (s[i] < 0x80 || s[i] > 0xbf)
            return 0;
    return len;
}

int json_write_string(FILE *f, const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    fputc('"', f);
    for (size_t i = 0; i < n;) {
        unsigned char c = s[i];
        if (c == '"' || c == '\\') {
            fputc('\\', f);
            fputc(c, f);
            i++;
        } else if (c < 0x20) {
            switch (c) {
            case '\b': fputs("\\b", f); break;
            case '\f': fputs("\\f", f); break;
            case '\n': fputs("\\n", f); break;
            case '\r': fputs("\\r", f); break;
            case '\t': fputs("\\t", f); break;
            default: fprintf(f, "\\u%04x", c); break;
            }
            i++;
        } else {
            size_t len = utf8_sequence(s + i, n - i);
            if (len == 0) {
                fputs("\xef\xbf\xbd", f); /* U+FFFD for each invalid byte */
                i++;
            } else {
                fwrite(s + i, 1, len, f);
                i += len;
            }
        }
    }
    fputc('"', f);
    return ferror(f) ? -1 : 0;
}

/* Shortest of %.15g..%.17g (float32: %.6g..%.9g) that reads back to the same value,
 * with ".0" appended when the text would otherwise read as an integer, so consumers
 * keep the type. */
static void write_float(FILE *f, double v, bool is_float32)
{
    if (!isfinite(v)) {
        fputs("null", f);
        return;
    }
    char buf[40];
    int first = is_float32 ? 6 : 15, last = is_float32 ? 9 : 17;
    for (int prec = first; prec <= last; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, v);
        double back = strtod(buf, NULL);
        if (is_float32 ? (float)back == (float)v : back == v)
            break;
    }
    fputs(buf, f);
    if (!strpbrk(buf, ".eEn"))
        fputs(".0", f);
}

static void newline_indent(FILE *f, int indent, int level)
{
    if (indent < 0)
        return;
    fputc('\n', f);
    for (int i = 0; i < indent * level; i++)
        fputc(' ', f);
}

static void write_hex(FILE *f, const void *data, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    const unsigned char *b = data;
    fputc('"', f);
    for (size_t i = 0; i < n; i++) {
        fputc(digits[b[i] >> 4], f);
        fputc(digits[b[i] & 15], f);
    }
    fputc('"', f);
}

static void write_value(FILE *f, const msgpack_object *o, int indent, int level);

static void write_key(FILE *f, const msgpack_object *k)
{
    if (k->type == MSGPACK_OBJECT_STR) {
        json_write_string(f, k->via.str.ptr, k->via.str.size);
        return;
    }
    char *text = json_string(k, -1);
    if (text) {
        json_write_string(f, text, strlen(text));
        free(text);
    } else {
        fputs("\"\"", f);
    }
}

static void write_value(FILE *f, const msgpack_object *o, int indent, int level)
{
    switch (o->type) {
    case MSGPACK_OBJECT_NIL: fputs("null", f); break;
    case MSGPACK_OBJECT_BOOLEAN: fputs(o->via.boolean ? "true" : "false", f); break;
    case MSGPACK_OBJECT_POSITIVE_INTEGER: fprintf(f, "%" PRIu64, o->via.u64); break;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER: fprintf(f, "%" PRId64, o->via.i64); break;
    case MSGPACK_OBJECT_FLOAT32: write_float(f, o->via.f64, true); break;
    case MSGPACK_OBJECT_FLOAT64: write_float(f, o->via.f64, false); break;
    case MSGPACK_OBJECT_STR: json_write_string(f, o->via.str.ptr, o->via.str.size); break;
    case MSGPACK_OBJECT_BIN: write_hex(f, o->via.bin.ptr, o->via.bin.size); break;
    case MSGPACK_OBJECT_ARRAY:
        fputc('[', f);
        for (uint32_t i = 0; i < o->via.array.size; i++) {
            if (i)
                fputc(',', f);
            newline_indent(f, indent, level + 1);
            write_value(f, &o->via.array.ptr[i], indent, level + 1);
        }
        if (o->via.array.size)
            newline_indent(f, indent, level);
        fputc(']', f);
        break;
    case MSGPACK_OBJECT_MAP:
        fputc('{', f);
        for (uint32_t i = 0; i < o->via.map.size; i++) {
            if (i)
                fputc(',', f);
            newline_indent(f, indent, level + 1);
            write_key(f, &o->via.map.ptr[i].key);
            fputs(indent < 0 ? ":" : ": ", f);
            write_value(f, &o->via.map.ptr[i].val, indent, level + 1);
        }
        if (o->via.map.size)
            newline_indent(f, indent, level);
        fputc('}', f);
        break;
    case MSGPACK_OBJECT_EXT:
        /* msg_check keeps ext off the wire; objects built in-process may still hold one. */
        fprintf(f, "{\"ext_type\":%d,\"data\":", o->via.ext.type);
        write_hex(f, o->via.ext.ptr, o->via.ext.size);
        fputc('}', f);
        break;
    default: fputs("null", f); break;
    }
}

int json_write(FILE *f, const msgpack_object *o, int indent)
{
    write_value(f, o, indent, 0);
    return ferror(f) ? -1 : 0;
}

char *json_string(const msgpack_object *o, int indent)
{
    char *text = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&text, &size);
    if (!f)
        return NULL;
    int rc = json_write(f, o, indent);
    if (fclose(f) != 0 || rc < 0) {
        free(text);
        return NULL;
    }
    return text;
}
