/* SPDX-License-Identifier: MIT */
/* Numbered SQL migrations embedded from schema/ at build time (schema/embed.sh). */
#ifndef DASHI_SCHEMA_H
#define DASHI_SCHEMA_H

struct schema_migration {
    int version;      /* the number the file name starts with */
    const char *file; /* for error messages */
    const char *sql;
};

/* Ascending by version, terminated by {0, 0, 0}. */
extern const struct schema_migration schema_migrations[];

#endif
