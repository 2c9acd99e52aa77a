#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void config_defaults(struct daemon_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    default_socket_path(cfg->socket_path, sizeof cfg->socket_path);
    default_state_dir(cfg->state_dir, sizeof cfg->state_dir);
    snprintf(cfg->device, sizeof cfg->device, "auto");
    cfg->socket_mode = 0600;
    cfg->slice_ms = 50.0;
    cfg->max_upload_bytes = 16ull << 30;
    cfg->max_queued_per_user = 1000;
    cfg->usage_half_life_s = 300.0;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = 0;
    return s;
}

static int parse_u64(const char *v, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long x = strtoull(v, &end, 0);
    if (errno || end == v || *end || v[0] == '-')
        return -1;
    *out = x;
    return 0;
}

static int parse_positive_double(const char *v, double *out)
{
    char *end;
    double x = strtod(v, &end);
    if (end == v || *end || !isfinite(x) || x <= 0)
        return -1;
    *out = x;
    return 0;
}

static int copy_str(char *dst, size_t cap, const char *v)
{
    if (strlen(v) >= cap || v[0] == 0)
        return -1;
    memcpy(dst, v, strlen(v) + 1);
    return 0;
}

/* One `key = value` assignment; -1 with a message naming what is expected. */
static int config_set(struct daemon_config *cfg, const char *key, const char *val, const char **expect)
{
    uint64_t u;
    if (strcmp(key, "socket") == 0) {
        *expect = "an absolute path shorter than 108 bytes";
        return val[0] == '/' ? copy_str(cfg->socket_path, sizeof cfg->socket_path, val) : -1;
    }
    if (strcmp(key, "socket_mode") == 0) {
        *expect = "an octal mode such as 0660";
        if (val[0] != '0' || parse_u64(val, &u) || u > 0777)
            return -1;
        cfg->socket_mode = (unsigned)u;
        return 0;
    }
    if (strcmp(key, "state_dir") == 0) {
        *expect = "an absolute path";
        return val[0] == '/' ? copy_str(cfg->state_dir, sizeof cfg->state_dir, val) : -1;
    }
    if (strcmp(key, "device") == 0) {
        *expect = "auto, lavapipe, a device index or a name";
        return copy_str(cfg->device, sizeof cfg->device, val);
    }
    if (strcmp(key, "slice_ms") == 0) {
        *expect = "a positive number of milliseconds";
        return parse_positive_double(val, &cfg->slice_ms);
    }
    if (strcmp(key, "usage_half_life_s") == 0) {
        *expect = "a positive number of seconds";
        return parse_positive_double(val, &cfg->usage_half_life_s);
    }
    if (strcmp(key, "max_upload_bytes") == 0) {
        *expect = "a positive integer";
        if (parse_u64(val, &u) || u == 0)
            return -1;
        cfg->max_upload_bytes = u;
        return 0;
    }
    if (strcmp(key, "max_queued_per_user") == 0) {
        *expect = "a positive integer";
        if (parse_u64(val, &u) || u == 0)
            return -1;
        cfg->max_queued_per_user = u;
        return 0;
    }
    *expect = NULL;
    return -1;
}

int config_load_file(struct daemon_config *cfg, const char *path, struct dashi_error *err)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return dashi_fail(err, DASHI_E_IO, "config", "cannot open config file %s: %s", path, strerror(errno));
    char line[8192];
    int lineno = 0, rc = 0;
    while (rc == 0 && fgets(line, sizeof line, f)) {
        lineno++;
        char *hash = strchr(line, '#');
        if (hash)
            *hash = 0;
        char *s = trim(line);
        if (!*s)
            continue;
        char *eq = strchr(s, '=');
        if (!eq) {
            rc = dashi_fail(err, DASHI_E_BAD_VALUE, "config", "%s:%d: expected `key = value`", path, lineno);
            break;
        }
        *eq = 0;
        char *key = trim(s), *val = trim(eq + 1);
        const char *expect = NULL;
        if (config_set(cfg, key, val, &expect) != 0) {
            if (expect)
                rc = dashi_fail(err, DASHI_E_BAD_VALUE, "config", "%s:%d: %s must be %s, got '%s'", path, lineno,
                                key, expect, val);
            else
                rc = dashi_fail(err, DASHI_E_UNKNOWN_FIELD, "config", "%s:%d: unknown key '%s'", path, lineno, key);
        }
    }
    if (rc == 0 && ferror(f))
        rc = dashi_fail(err, DASHI_E_IO, "config", "error reading %s", path);
    fclose(f);
    if (rc == 0)
        snprintf(cfg->config_path, sizeof cfg->config_path, "%s", path);
    return rc;
}
