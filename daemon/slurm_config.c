/* SPDX-License-Identifier: MIT */
/* The Slurm executor's config keys (slurm_config.h). */
#include "slurm_config.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void slurm_config_defaults(struct slurm_config *c)
{
    memset(c, 0, sizeof *c);
    snprintf(c->sbatch, sizeof c->sbatch, "sbatch");
    snprintf(c->squeue, sizeof c->squeue, "squeue");
    snprintf(c->sacct, sizeof c->sacct, "sacct");
    snprintf(c->scancel, sizeof c->scancel, "scancel");
    snprintf(c->gres, sizeof c->gres, "gpu:1");
    c->poll_s = 10.0;
}

/* A value copied whole (empty allowed only where `empty_ok`), else -1. */
static int copy_value(char *dst, size_t cap, const char *val, int empty_ok)
{
    size_t n = strlen(val);
    if (n >= cap || (n == 0 && !empty_ok))
        return -1;
    memcpy(dst, val, n + 1);
    return 0;
}

int slurm_config_set(struct slurm_config *c, const char *key, const char *val, const char **expect)
{
    static const struct {
        const char *key;
        size_t offset, cap;
    } commands[] = {
        {"sbatch", offsetof(struct slurm_config, sbatch), sizeof c->sbatch},
        {"squeue", offsetof(struct slurm_config, squeue), sizeof c->squeue},
        {"sacct", offsetof(struct slurm_config, sacct), sizeof c->sacct},
        {"scancel", offsetof(struct slurm_config, scancel), sizeof c->scancel},
    };
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(key, commands[i].key) == 0) {
            *expect = "a command: an absolute path or a name on PATH (at most 1023 bytes)";
            return copy_value((char *)c + commands[i].offset, commands[i].cap, val, 0);
        }
    if (strcmp(key, "slurm_workdir") == 0) {
        *expect = "an absolute path of a directory the compute nodes share, or empty to disable --executor slurm";
        return val[0] == 0 || val[0] == '/' ? copy_value(c->workdir, sizeof c->workdir, val, 1) : -1;
    }
    if (strcmp(key, "slurm_gres") == 0) {
        *expect = "a Slurm gres (gpu:1), or empty to ask for none";
        return copy_value(c->gres, sizeof c->gres, val, 1);
    }
    if (strcmp(key, "slurm_poll_s") == 0) {
        char *end;
        *expect = "a number of seconds from 0.1 to 3600";
        double s = strtod(val, &end);
        if (end == val || *end || !(s >= 0.1 && s <= 3600))
            return -1;
        c->poll_s = s;
        return 0;
    }
    return 1;
}
