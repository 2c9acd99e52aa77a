/* SPDX-License-Identifier: MIT */
/* Fault injection into the Vulkan runtime (DASHI_VK_FAULT, grammar in vk.h): the parser
 * and the per-call decision. The runtime's submit and allocation paths ask vk_fault_hit
 * and then fail exactly as the driver would, so what the daemon does next is the real
 * recovery path, testable on lavapipe, whose device is never lost by itself. */
#include "vk.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int bad(struct dashi_error *err, const char *spec, const char *why)
{
    return dashi_fail(err, DASHI_E_BAD_VALUE, "DASHI_VK_FAULT",
                      "DASHI_VK_FAULT=\"%s\": %s (rules: device_lost:WHEN[:K], oom:WHEN[:K], recreate_fail:M; "
                      "WHEN is N >= 1 or usr1)",
                      spec, why);
}

/* A decimal integer >= 1 making up the whole of s. */
static bool parse_positive(const char *s, uint64_t *out)
{
    if (!*s || *s == '-' || *s == '+')
        return false;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v == 0)
        return false;
    *out = v;
    return true;
}

/* One rule "name:a[:b]" (already split at ':' into fields[0..n)). */
static int parse_rule(char **fields, int n, struct vk_fault *f, const char *spec, struct dashi_error *err)
{
    if (strcmp(fields[0], "recreate_fail") == 0) {
        if (n != 2 || !parse_positive(fields[1], &f->recreate_failures))
            return bad(err, spec, "recreate_fail takes one count >= 1");
        return 0;
    }
    enum vk_fault_op op;
    if (strcmp(fields[0], "device_lost") == 0)
        op = VK_FAULT_SUBMIT;
    else if (strcmp(fields[0], "oom") == 0)
        op = VK_FAULT_ALLOC;
    else
        return bad(err, spec, "unknown rule");
    struct vk_fault_rule *r = &f->rule[op];
    if (r->count)
        return bad(err, spec, "a rule is given twice");
    if (n < 2 || n > 3)
        return bad(err, spec, "a rule takes WHEN and an optional count");
    r->on_signal = strcmp(fields[1], "usr1") == 0;
    if (!r->on_signal && !parse_positive(fields[1], &r->at))
        return bad(err, spec, "WHEN must be an integer >= 1 or usr1");
    r->count = 1;
    if (n == 3 && !parse_positive(fields[2], &r->count))
        return bad(err, spec, "the count must be an integer >= 1");
    return 0;
}

int vk_fault_parse(const char *spec, struct vk_fault *out, struct dashi_error *err)
{
    memset(out, 0, sizeof *out);
    if (!spec || !*spec)
        return 0;
    if (strlen(spec) >= sizeof out->spec)
        return bad(err, "...", "too long");
    char buf[sizeof out->spec];
    memcpy(buf, spec, strlen(spec) + 1);
    char *save_rule = NULL;
    for (char *rule = strtok_r(buf, ",", &save_rule); rule; rule = strtok_r(NULL, ",", &save_rule)) {
        char *fields[4] = {NULL}, *save_field = NULL;
        int n = 0;
        for (char *t = strtok_r(rule, ":", &save_field); t && n < 4; t = strtok_r(NULL, ":", &save_field))
            fields[n++] = t;
        if (parse_rule(fields, n, out, spec, err) != 0) { /* n >= 1: strtok_r skips empty rules */
            memset(out, 0, sizeof *out);
            return -1;
        }
    }
    snprintf(out->spec, sizeof out->spec, "%s", spec);
    out->enabled = true;
    return 0;
}

bool vk_fault_hit(struct vk_fault *f, enum vk_fault_op op)
{
    struct vk_fault_rule *r = &f->rule[op];
    if (!f->enabled || !r->count)
        return false;
    r->seen++;
    if (!r->on_signal && r->seen == r->at)
        atomic_store(&r->pending, r->count);
    uint_fast64_t left = atomic_load(&r->pending);
    while (left > 0 && !atomic_compare_exchange_weak(&r->pending, &left, left - 1))
        ;
    return left > 0;
}

bool vk_fault_arm(struct vk_fault *f)
{
    bool any = false;
    for (int op = 0; op < VK_FAULT_OPS; op++) {
        struct vk_fault_rule *r = &f->rule[op];
        if (f->enabled && r->count && r->on_signal) {
            atomic_store(&r->pending, r->count);
            any = true;
        }
    }
    return any;
}
