/* SPDX-License-Identifier: MIT */
/* `dashi put | get`: moving blobs in and out of the store (docs/cli.md). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

int cmd_put(struct dashi_client *c, struct cli_opts *o, struct dashi_error *err)
{
    if (o->args.npos < 1)
        return dashi_fail(err, DASHI_E_MISSING_FIELD, "file", "put needs a .npy file");
    char hash[DASHI_HASH_HEX + 1];
    if (client_put_file(c, o->pos[0], hash, err) != 0)
        return -1;
    if (o->args.json)
        printf("{\"hash\": \"%s\"}\n", hash);
    else
        printf("%s\n", hash);
    return 0;
}

int cmd_get(struct dashi_client *c, struct cli_opts *o, struct dashi_error *err)
{
    const char *out = cli_opt(o, "o");
    if (o->args.npos < 1 || !out || !*out)
        return dashi_fail(err, DASHI_E_MISSING_FIELD, o->args.npos < 1 ? "hash" : "o",
                          "usage: dashi get HASH -o FILE.npy");
    if (client_get_file(c, o->pos[0], out, err) != 0)
        return -1;
    if (o->args.json)
        printf("{\"hash\": \"%s\", \"path\": \"%s\"}\n", o->pos[0], out);
    else
        printf("%s\n", out);
    return 0;
}
