/* SPDX-License-Identifier: MIT */
/* The config keys of the Slurm executor (docs/cli.md "Slurm", docs/cluster.md): where the
 * catalogue writes specs, inputs and bundles, which Slurm commands it runs, and how often
 * it asks Slurm about its jobs. Part of struct daemon_config, immutable after startup. */
#ifndef DASHI_SLURM_CONFIG_H
#define DASHI_SLURM_CONFIG_H

#define SLURM_PATH_MAX 1024

struct slurm_config {
    char workdir[SLURM_PATH_MAX]; /* slurm_workdir: "" disables --executor slurm */
    char sbatch[SLURM_PATH_MAX];  /* a path, or a name looked up on PATH */
    char squeue[SLURM_PATH_MAX];
    char sacct[SLURM_PATH_MAX];
    char scancel[SLURM_PATH_MAX];
    char gres[128];               /* slurm_gres: what each job asks for ("" none) */
    double poll_s;                /* slurm_poll_s: between two squeue polls */
};

void slurm_config_defaults(struct slurm_config *c);
/* 1 when key is not a Slurm key; 0 when set; -1 with *expect when val is bad. */
int slurm_config_set(struct slurm_config *c, const char *key, const char *val, const char **expect);

#endif
