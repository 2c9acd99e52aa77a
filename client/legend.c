/* SPDX-License-Identifier: MIT */
#include "legend.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "client.h"

/* Whether the value of params key (len bytes at name) is the same in every record. */
static bool same_everywhere(const msgpack_object *const *records, size_t n, const char *name, uint32_t len)
{
    char key[64];
    snprintf(key, sizeof key, "%.*s", (int)len, name);
    const msgpack_object *first = records[0] ? map_get(map_get(records[0], "params"), key) : NULL;
    for (size_t i = 1; i < n; i++) {
        const msgpack_object *v = records[i] ? map_get(map_get(records[i], "params"), key) : NULL;
        if (!first != !v || (v && !msgpack_object_equal(*first, *v)))
            return false;
    }
    return true;
}

static void append_value(char *buf, size_t cap, const msgpack_object *v)
{
    size_t at = strlen(buf);
    if (!v)
        snprintf(buf + at, cap - at, "-");
    else if (v->type == MSGPACK_OBJECT_STR)
        snprintf(buf + at, cap - at, "%.*s", (int)v->via.str.size, v->via.str.ptr);
    else if (v->type == MSGPACK_OBJECT_FLOAT32 || v->type == MSGPACK_OBJECT_FLOAT64)
        snprintf(buf + at, cap - at, "%g", v->via.f64);
    else if (v->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
        snprintf(buf + at, cap - at, "%llu", (unsigned long long)v->via.u64);
    else if (v->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
        snprintf(buf + at, cap - at, "%lld", (long long)v->via.i64);
    else
        msgpack_object_print_buffer(buf + at, cap - at, *v);
}

void legend_labels(const msgpack_object *const *records, const int64_t *ids, size_t n,
                   char (*labels)[LEGEND_LABEL_MAX])
{
    for (size_t i = 0; i < n; i++) {
        const msgpack_object *kind = records[i] ? map_get(records[i], "kind") : NULL;
        if (kind && kind->type == MSGPACK_OBJECT_STR)
            snprintf(labels[i], LEGEND_LABEL_MAX, "job %lld %.*s", (long long)ids[i], (int)kind->via.str.size,
                     kind->via.str.ptr);
        else
            snprintf(labels[i], LEGEND_LABEL_MAX, "job %lld", (long long)ids[i]);
    }
    if (n < 2 || !records[0])
        return;
    /* Keys of the first record, then keys only later records have. */
    for (size_t src = 0; src < n; src++) {
        const msgpack_object *params = records[src] ? map_get(records[src], "params") : NULL;
        if (!params || params->type != MSGPACK_OBJECT_MAP)
            continue;
        for (uint32_t k = 0; k < params->via.map.size; k++) {
            const msgpack_object *name = &params->via.map.ptr[k].key;
            if (name->type != MSGPACK_OBJECT_STR || name->via.str.size >= 64)
                continue;
            char key[64];
            snprintf(key, sizeof key, "%.*s", (int)name->via.str.size, name->via.str.ptr);
            bool earlier = false;
            for (size_t e = 0; e < src && !earlier; e++)
                earlier = records[e] && map_get(map_get(records[e], "params"), key);
            if (earlier || same_everywhere(records, n, name->via.str.ptr, name->via.str.size))
                continue;
            for (size_t i = 0; i < n; i++) {
                size_t at = strlen(labels[i]);
                snprintf(labels[i] + at, LEGEND_LABEL_MAX - at, "%s%s=", strchr(labels[i], ':') ? ", " : ": ", key);
                append_value(labels[i], LEGEND_LABEL_MAX,
                             records[i] ? map_get(map_get(records[i], "params"), key) : NULL);
            }
        }
    }
}
