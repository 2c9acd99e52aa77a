/* SPDX-License-Identifier: MIT */
/* SQLite helpers shared by the store's files (store.c, store_atoms.c); not for others,
 * which go through store.h. Each fills err (E_DB, naming what failed) and returns -1. */
#ifndef DASHI_STORE_SQL_H
#define DASHI_STORE_SQL_H

#include <sqlite3.h>

/* Declared, not included: store.h's module includes this header. */
struct store;
struct dashi_error;

int store_db_fail(struct store *st, struct dashi_error *err, const char *what);
/* Runs SQL without results (several statements allowed). */
int store_exec(struct store *st, const char *sql, struct dashi_error *err);
/* Prepares one statement; *stmt is NULL on failure. */
int store_prepare(struct store *st, const char *sql, sqlite3_stmt **stmt, struct dashi_error *err);

#endif
