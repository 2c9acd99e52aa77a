/* SPDX-License-Identifier: MIT */
/* msgpack -> JSON: string escaping (RFC 8259) and UTF-8 repair, containers, the
 * float round trip, NaN/Inf -> null, bin -> hex, non-string keys. Objects are built
 * with msgpack-c's packer and unpacked, as they would arrive from the wire. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>

/* cmocka's fail_msg() calls a global print_error(), a name the client library also
 * defines; report through stderr so these tests do not depend on which one links. */
#define FAIL_MSG(...)                                                                           \
    do {                                                                                        \
        fprintf(stderr, "ERROR: " __VA_ARGS__);                                                 \
        fputc('\n', stderr);                                                                    \
        fail();                                                                                 \
    } while (0)

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "wire.h"

struct packed {
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_unpacked u;
};

static msgpack_packer *start(struct packed *p)
{
    msgpack_sbuffer_init(&p->sb);
    msgpack_packer_init(&p->pk, &p->sb, msgpack_sbuffer_write);
    msgpack_unpacked_init(&p->u);
    return &p->pk;
}

/* Unpacks what was packed and returns its JSON text (caller frees). */
static char *to_json(struct packed *p, int indent)
{
    size_t off = 0;
    assert_int_equal(msgpack_unpack_next(&p->u, p->sb.data, p->sb.size, &off), MSGPACK_UNPACK_SUCCESS);
    char *text = json_string(&p->u.data, indent);
    assert_non_null(text);
    return text;
}

static void done(struct packed *p, char *text)
{
    free(text);
    msgpack_unpacked_destroy(&p->u);
    msgpack_sbuffer_destroy(&p->sb);
}

static void expect_string_json(const char *raw, size_t n, const char *want)
{
    struct packed p;
    msgpack_packer *pk = start(&p);
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, raw, n);
    char *text = to_json(&p, -1);
    assert_string_equal(text, want);
    done(&p, text);
}

#define FFFD "\xef\xbf\xbd"

static void test_string_escaping(void **state)
{
    (void)state;
    expect_string_json("plain", 5, "\"plain\"");
    expect_string_json("q\"b\\s/", 6, "\"q\\\"b\\\\s/\"");
    expect_string_json("\b\f\n\r\t", 5, "\"\\b\\f\\n\\r\\t\"");
    expect_string_json("\x01\x1f\x7f", 3, "\"\\u0001\\u001f\x7f\"");
    expect_string_json("a\0b", 3, "\"a\\u0000b\"");
    /* valid UTF-8 passes through: 2-, 3- and 4-byte sequences */
    expect_string_json("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 9, "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"");
    /* invalid UTF-8: each offending byte becomes U+FFFD */
    expect_string_json("a\xff" "b", 3, "\"a" FFFD "b\"");
    expect_string_json("\xc0\xaf", 2, "\"" FFFD FFFD "\"");             /* overlong '/' */
    expect_string_json("\xed\xa0\x80", 3, "\"" FFFD FFFD FFFD "\"");    /* a UTF-16 surrogate */
    expect_string_json("\xf4\x90\x80\x80", 4, "\"" FFFD FFFD FFFD FFFD "\""); /* above U+10FFFF */
    expect_string_json("x\xe2\x82", 3, "\"x" FFFD FFFD "\"");           /* truncated at the end */
    expect_string_json("\x80", 1, "\"" FFFD "\"");                       /* lone continuation */
}

static void test_write_string_direct(void **state)
{
    (void)state;
    char *buf = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&buf, &size);
    assert_non_null(f);
    assert_int_equal(json_write_string(f, "tab\there", 8), 0);
    fclose(f);
    assert_string_equal(buf, "\"tab\\there\"");
    free(buf);
}

static void test_scalars_and_bin(void **state)
{
    (void)state;
    struct packed p;
    msgpack_packer *pk = start(&p);
    static const uint8_t bytes[] = {0x00, 0x0f, 0xab, 0xff};
    msgpack_pack_array(pk, 10);
    msgpack_pack_nil(pk);
    msgpack_pack_true(pk);
    msgpack_pack_false(pk);
    msgpack_pack_uint64(pk, UINT64_MAX);
    msgpack_pack_int64(pk, INT64_MIN);
    msgpack_pack_double(pk, NAN);
    msgpack_pack_double(pk, INFINITY);
    msgpack_pack_double(pk, -INFINITY);
    msgpack_pack_bin(pk, sizeof bytes);
    msgpack_pack_bin_body(pk, bytes, sizeof bytes);
    msgpack_pack_bin(pk, 0);
    char *text = to_json(&p, -1);
    assert_string_equal(text, "[null,true,false,18446744073709551615,-9223372036854775808,null,null,null,"
                              "\"000fabff\",\"\"]");
    done(&p, text);
}

static void test_nested_and_pretty(void **state)
{
    (void)state;
    struct packed p;
    msgpack_packer *pk = start(&p);
    msgpack_pack_map(pk, 4);
    pk_kv_str(pk, "name", "les");
    pk_key(pk, "grid");
    msgpack_pack_map(pk, 2);
    pk_kv_u64(pk, "n", 256);
    pk_key(pk, "shape");
    msgpack_pack_array(pk, 2);
    msgpack_pack_int(pk, 4);
    msgpack_pack_int(pk, -4);
    pk_key(pk, "empty_map");
    msgpack_pack_map(pk, 0);
    pk_key(pk, "empty_list");
    msgpack_pack_array(pk, 0);
    char *compact = to_json(&p, -1);
    assert_string_equal(compact,
                        "{\"name\":\"les\",\"grid\":{\"n\":256,\"shape\":[4,-4]},\"empty_map\":{},\"empty_list\":[]}");
    char *pretty = json_string(&p.u.data, 2);
    assert_non_null(pretty);
    assert_string_equal(pretty, "{\n"
                                "  \"name\": \"les\",\n"
                                "  \"grid\": {\n"
                                "    \"n\": 256,\n"
                                "    \"shape\": [\n"
                                "      4,\n"
                                "      -4\n"
                                "    ]\n"
                                "  },\n"
                                "  \"empty_map\": {},\n"
                                "  \"empty_list\": []\n"
                                "}");
    free(pretty);
    done(&p, compact);
}

static void test_non_string_keys(void **state)
{
    (void)state;
    struct packed p;
    msgpack_packer *pk = start(&p);
    msgpack_pack_map(pk, 3);
    msgpack_pack_int(pk, 5);
    pk_str(pk, "five");
    msgpack_pack_nil(pk);
    msgpack_pack_true(pk);
    msgpack_pack_array(pk, 1);
    pk_str(pk, "k");
    msgpack_pack_int(pk, 1);
    char *text = to_json(&p, -1);
    assert_string_equal(text, "{\"5\":\"five\",\"null\":true,\"[\\\"k\\\"]\":1}");
    done(&p, text);
}

/* Packs one double, converts, parses the text back with strtod and compares bits. */
static void check_float_roundtrip(double v)
{
    struct packed p;
    msgpack_packer *pk = start(&p);
    msgpack_pack_double(pk, v);
    char *text = to_json(&p, -1);
    char *end;
    double back = strtod(text, &end);
    assert_int_equal(*end, 0);
    if (memcmp(&back, &v, sizeof v) != 0)
        FAIL_MSG("%.17g printed as %s, read back as %.17g", v, text, back);
    /* a float stays recognisable as a float in JSON */
    assert_non_null(strpbrk(text, ".e"));
    done(&p, text);
}

static void test_float_roundtrip(void **state)
{
    (void)state;
    static const double fixed[] = {0.0, -0.0, 1.0, -2.0, 0.1, 1.0 / 3.0, 2.0 / 3.0, 1e300, -1e-300,
                                   5e-324, 2.2250738585072014e-308, 1.7976931348623157e308, 9007199254740993.0,
                                   123456789012345678.0, 0.015625, 3.141592653589793, 1e21, 1e-7};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
        check_float_roundtrip(fixed[i]);
    /* many bit patterns from a fixed-seed generator (xorshift64) */
    uint64_t x = 0x9e3779b97f4a7c15u;
    for (int i = 0; i < 20000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        double v;
        memcpy(&v, &x, sizeof v);
        if (isfinite(v))
            check_float_roundtrip(v);
    }
}

static void test_shortest_and_integral(void **state)
{
    (void)state;
    struct packed p;
    msgpack_packer *pk = start(&p);
    msgpack_pack_array(pk, 5);
    msgpack_pack_double(pk, 0.1);
    msgpack_pack_double(pk, 1.0);
    msgpack_pack_double(pk, -0.0);
    msgpack_pack_float(pk, 0.1f);
    msgpack_pack_float(pk, 3.0f);
    char *text = to_json(&p, -1);
    /* 0.1 is the shortest text for the double nearest 0.1 and for the float nearest 0.1 */
    assert_string_equal(text, "[0.1,1.0,-0.0,0.1,3.0]");
    done(&p, text);

    /* float32 values come back exactly when read as float */
    uint32_t x = 0x12345678u;
    for (int i = 0; i < 5000; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        float f;
        memcpy(&f, &x, sizeof f);
        if (!isfinite(f))
            continue;
        pk = start(&p);
        msgpack_pack_float(pk, f);
        text = to_json(&p, -1);
        float back = strtof(text, NULL);
        if (memcmp(&back, &f, sizeof f) != 0)
            FAIL_MSG("float %.9g printed as %s", (double)f, text);
        done(&p, text);
    }
}

static void test_write_error(void **state)
{
    (void)state;
    struct packed p;
    msgpack_packer *pk = start(&p);
    pk_str(pk, "x");
    char *text = to_json(&p, -1);
    /* a stream opened read-only cannot be written */
    FILE *f = fopen("/dev/null", "r");
    assert_non_null(f);
    assert_int_equal(json_write(f, &p.u.data, -1), -1);
    fclose(f);
    done(&p, text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_string_escaping),
        cmocka_unit_test(test_write_string_direct),
        cmocka_unit_test(test_scalars_and_bin),
        cmocka_unit_test(test_nested_and_pretty),
        cmocka_unit_test(test_non_string_keys),
        cmocka_unit_test(test_float_roundtrip),
        cmocka_unit_test(test_shortest_and_integral),
        cmocka_unit_test(test_write_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
