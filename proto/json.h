/* SPDX-License-Identifier: MIT */
/* msgpack -> JSON, used by the client's --json output and by the daemon to store job
 * parameters as JSON text in SQLite (queryable with json_extract). */
#ifndef DASHI_JSON_H
#define DASHI_JSON_H

#include <msgpack.h>
#include <stdio.h>

/* Writes o as JSON. Strings are escaped per RFC 8259 (invalid UTF-8 bytes become
 * U+FFFD); bin becomes a lowercase hex string; floats use the shortest repr that
 * round-trips (%.17g fallback), NaN/Inf become null; map keys that are not strings
 * are written as their JSON text in a string. indent < 0: compact; else pretty with
 * that many spaces per level. Returns 0, or -1 on a write error. */
int json_write(FILE *f, const msgpack_object *o, int indent);
/* Same into a malloc'd NUL-terminated string (NULL on allocation failure). */
char *json_string(const msgpack_object *o, int indent);
/* Writes s as a JSON string literal with quotes. */
int json_write_string(FILE *f, const char *s, size_t n);

#endif
