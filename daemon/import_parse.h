/* SPDX-License-Identifier: MIT */
/* A result bundle's parts, checked, as a job to record (import_parse.c). */
#ifndef DASHI_IMPORT_PARSE_H
#define DASHI_IMPORT_PARSE_H

#include <msgpack.h>
#include <sys/types.h>

#include "store_origin.h"

#define IMPORT_BLOBS_MAX 64

/* Whose job it becomes, and the store that must hold its outputs. */
struct import_who {
    struct store *st;
    uid_t uid;
    const char *user;
};

/* What a parse owns; imp points into it (origin left to the caller). */
struct import_parts {
    struct job_import imp;
    struct imported_event *events;
    struct imported_blob blobs[IMPORT_BLOBS_MAX];
    struct metric *metrics;
    struct zhash *hashes;
};

/* args: {record, metrics?, hashes?, ...} (the import op's arguments or a bundle's index);
 * *rec the record in it. Every field checked (stable codes, the field named); on failure p
 * still needs import_parts_free. */
int import_parts_parse(const struct import_who *who, const msgpack_object *args, struct import_parts *p,
                       const msgpack_object **rec, struct dashi_error *err);
void import_parts_free(struct import_parts *p);

#endif
