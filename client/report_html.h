/* SPDX-License-Identifier: MIT */
/* The HTML of `dashi report` (docs/cli.md "report"): a page that opens from disk with no
 * server, no script and no external URL. Everything that came from the daemon (names,
 * parameters, messages, map keys) is written through html_text, which escapes it, so a
 * job whose strings hold markup shows that markup as text instead of running it. */
#ifndef DASHI_REPORT_HTML_H
#define DASHI_REPORT_HTML_H

#include <msgpack.h>
#include <stdio.h>

/* s[0..n) as HTML text, safe inside elements and quoted attributes: & < > " ' escaped,
 * control characters other than tab and newline written as U+FFFD. */
void html_text(FILE *f, const char *s, size_t n);
void html_cstr(FILE *f, const char *s);
/* A value as text: a string as itself, anything else as compact JSON, escaped. */
void html_value(FILE *f, const msgpack_object *v);

/* The document up to the opening of <body>, and its end. The Content-Security-Policy
 * allows only the inline style and sibling images: even markup that escaped would not
 * run or fetch anything. */
void html_begin(FILE *f, const char *title);
void html_end(FILE *f);

/* A map as a two-column table (key, value) under heading h3; "none" when it is empty or
 * not a map. */
void html_map_table(FILE *f, const char *heading, const msgpack_object *map);

/* A figure: the sibling file src (a name we made, not the daemon's) with a caption. */
void html_figure(FILE *f, const char *src, const char *caption);

#endif
