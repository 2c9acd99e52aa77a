/* dashid's configuration: command line over config file over defaults. */
#ifndef DASHI_CONFIG_H
#define DASHI_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "errors.h"
#include "paths.h"

struct daemon_config {
    char socket_path[108];    /* sun_path limit */
    unsigned socket_mode;     /* permission bits of the socket file (0600 per-user, 0660 system) */
    char state_dir[4096];
    char device[128];         /* "auto" | "lavapipe" | index | name substring */
    bool foreground;
    double slice_ms;          /* target GPU time of one slice */
    uint64_t max_upload_bytes;
    uint64_t max_queued_per_user;
    double usage_half_life_s; /* decay of per-user GPU usage for fair share */
    char config_path[4096];   /* empty when none */
};

/* Defaults: socket and state under the per-user locations (DESIGN.md "Embedded default"). */
void config_defaults(struct daemon_config *cfg);
/* Reads `key = value` lines (# comments). Unknown keys and bad values are errors naming
 * the key and line (field "config"). */
int config_load_file(struct daemon_config *cfg, const char *path, struct dashi_error *err);

#endif
