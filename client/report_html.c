/* SPDX-License-Identifier: MIT */
#include "report_html.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

void html_text(FILE *f, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        switch (ch) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&#39;", f); break;
        default:
            if (ch < 0x20 && ch != '\t' && ch != '\n')
                fputs("&#xFFFD;", f);
            else
                fputc(ch, f);
        }
    }
}

void html_cstr(FILE *f, const char *s) { html_text(f, s, strlen(s)); }

void html_value(FILE *f, const msgpack_object *v)
{
    if (!v || v->type == MSGPACK_OBJECT_NIL) {
        fputs("—", f);
        return;
    }
    if (v->type == MSGPACK_OBJECT_STR) {
        html_text(f, v->via.str.ptr, v->via.str.size);
        return;
    }
    char *json = json_string(v, -1);
    html_cstr(f, json ? json : "?");
    free(json);
}

/* Plain and printable: system fonts, tables with rules, figures at their own size. */
static const char STYLE[] =
    "body{font-family:sans-serif;margin:2em;color:#111;max-width:1400px}"
    "h1{font-size:1.5em}h2{font-size:1.25em;border-top:1px solid #999;padding-top:.6em;margin-top:2em}"
    "h3{font-size:1em;margin-bottom:.3em}"
    "table{border-collapse:collapse;margin:.3em 0 1em}"
    "td,th{border:1px solid #bbb;padding:.2em .5em;text-align:left;vertical-align:top;font-size:.9em}"
    "td.num{text-align:right;font-variant-numeric:tabular-nums}"
    "code,td.mono{font-family:monospace;word-break:break-all}"
    "figure{margin:1em 0}img{max-width:100%;height:auto;border:1px solid #ddd}"
    "figcaption{font-size:.9em;color:#444}.missing{color:#a00}";

void html_begin(FILE *f, const char *title)
{
    fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n", f);
    fputs("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; img-src 'self' file:; "
          "style-src 'unsafe-inline'\">\n",
          f);
    fputs("<title>", f);
    html_cstr(f, title);
    fprintf(f, "</title>\n<style>%s</style>\n</head>\n<body>\n", STYLE);
}

void html_end(FILE *f) { fputs("</body>\n</html>\n", f); }

void html_map_table(FILE *f, const char *heading, const msgpack_object *map)
{
    fprintf(f, "<h3>%s</h3>\n", heading);
    if (!map || map->type != MSGPACK_OBJECT_MAP || map->via.map.size == 0) {
        fputs("<p>none</p>\n", f);
        return;
    }
    fputs("<table>\n", f);
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object_kv *kv = &map->via.map.ptr[i];
        bool number = kv->val.type != MSGPACK_OBJECT_STR && kv->val.type != MSGPACK_OBJECT_MAP &&
                      kv->val.type != MSGPACK_OBJECT_ARRAY;
        fputs("<tr><th>", f);
        html_value(f, &kv->key);
        fprintf(f, "</th><td class=\"%s\">", number ? "num" : "mono");
        html_value(f, &kv->val);
        fputs("</td></tr>\n", f);
    }
    fputs("</table>\n", f);
}

void html_figure(FILE *f, const char *src, const char *caption)
{
    fputs("<figure><img src=\"", f);
    html_cstr(f, src);
    fputs("\" alt=\"", f);
    html_cstr(f, caption);
    fputs("\"><figcaption>", f);
    html_cstr(f, caption);
    fputs("</figcaption></figure>\n", f);
}
