/* SPDX-License-Identifier: MIT */
/* report_html: what `dashi report` writes around the daemon's strings. Text, map keys and
 * values come out with & < > " ' escaped and control bytes replaced, whatever their type. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report_html.h"

/* What fn writes, as a malloc'd string. */
static char *written(void (*fn)(FILE *, const void *), const void *arg)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    fn(f, arg);
    assert_int_equal(fclose(f), 0);
    return buf;
}

static void write_text(FILE *f, const void *s) { html_cstr(f, s); }

static void text_is_escaped(void **state)
{
    (void)state;
    char *out = written(write_text, "<script>alert('x' & \"y\")</script>");
    assert_string_equal(out, "&lt;script&gt;alert(&#39;x&#39; &amp; &quot;y&quot;)&lt;/script&gt;");
    free(out);
    out = written(write_text, "a\tb\nc\rd\x01" "e");
    assert_string_equal(out, "a\tb\nc&#xFFFD;d&#xFFFD;e");
    free(out);
}

static void write_map(FILE *f, const void *obj) { html_map_table(f, "Parameters", obj); }

/* {"<b>": "<i>", "n": [1, "<u>"]}: the key, the string and the array's JSON all escaped. */
static void map_keys_and_values_are_escaped(void **state)
{
    (void)state;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 2);
    msgpack_pack_str_with_body(&pk, "<b>", 3);
    msgpack_pack_str_with_body(&pk, "<i>", 3);
    msgpack_pack_str_with_body(&pk, "n", 1);
    msgpack_pack_array(&pk, 2);
    msgpack_pack_int(&pk, 1);
    msgpack_pack_str_with_body(&pk, "<u>", 3);
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    assert_int_equal(msgpack_unpack_next(&u, sb.data, sb.size, NULL), MSGPACK_UNPACK_SUCCESS);
    char *out = written(write_map, &u.data);
    assert_null(strstr(out, "<b>"));
    assert_null(strstr(out, "<i>"));
    assert_null(strstr(out, "<u>"));
    assert_non_null(strstr(out, "<th>&lt;b&gt;</th><td class=\"mono\">&lt;i&gt;</td>"));
    assert_non_null(strstr(out, "[1,&quot;&lt;u&gt;&quot;]"));
    free(out);
    msgpack_unpacked_destroy(&u);
    msgpack_sbuffer_destroy(&sb);
}

static void write_empty(FILE *f, const void *unused)
{
    (void)unused;
    html_map_table(f, "Outputs", NULL);
}

static void a_missing_map_says_none(void **state)
{
    (void)state;
    char *out = written(write_empty, NULL);
    assert_string_equal(out, "<h3>Outputs</h3>\n<p>none</p>\n");
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(text_is_escaped),
        cmocka_unit_test(map_keys_and_values_are_escaped),
        cmocka_unit_test(a_missing_map_says_none),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
