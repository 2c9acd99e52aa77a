/* SPDX-License-Identifier: MIT */
/* `dashi study SUBCOMMAND [OPTIONS]`: the table of studies (cmd_study.h). A study lane adds
 * one line here and its own cmd_study_NAME.c. */
#include <string.h>

#include "cmd_study.h"

struct study {
    const char *name;
    cli_command_fn run;
};

static const struct study studies[] = {
    {"closure", cmd_study_closure},
    {"generalization", cmd_study_generalization},
    {"slider", cmd_study_slider},
    {NULL, NULL},
};

int cmd_study(struct dashi_client *c, struct cli_opts *o, struct dashi_error *err)
{
    const char *sub = o->args.npos > 0 ? o->pos[0] : NULL;
    for (const struct study *s = studies; sub && s->name; s++)
        if (strcmp(sub, s->name) == 0)
            return s->run(c, o, err);
    return dashi_fail(err, sub ? DASHI_E_BAD_VALUE : DASHI_E_MISSING_FIELD, "study",
                      "%s%s%s: the studies are: closure, generalization, slider", sub ? "no study named '" : "study needs a study name",
                      sub ? sub : "", sub ? "'" : "");
}
