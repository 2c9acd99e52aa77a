/* SPDX-License-Identifier: MIT */
/* `dashi put | get | render`: moving blobs in and out of the store and drawing them
 * (docs/cli.md). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "atoms_fetch.h"
#include "cli.h"
#include "render.h"

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

/* Downloads the blob to a scratch file and draws it; the daemon only serves bytes (and,
 * with --atoms, the atoms of one step to mark on it). */
int cmd_render(struct dashi_client *c, struct cli_opts *o, struct dashi_error *err)
{
    const char *out = cli_opt(o, "o"), *frame_s = cli_opt(o, "frame"), *cmap = cli_opt(o, "cmap");
    const char *atoms_s = cli_opt(o, "atoms"), *step_s = cli_opt(o, "step");
    if (o->args.npos < 1 || !out || !*out)
        return dashi_fail(err, DASHI_E_MISSING_FIELD, o->args.npos < 1 ? "hash" : "o",
                          "usage: dashi render HASH -o FILE.png [--frame K] [--cmap diverging] "
                          "[--atoms ID [--step T]]");
    if (step_s && !atoms_s)
        return dashi_fail(err, DASHI_E_BAD_VALUE, "step", "--step picks the atoms' step: it needs --atoms ID");
    int frame = 0;
    if (frame_s) {
        char *end;
        long v = strtol(frame_s, &end, 10);
        if (*frame_s == 0 || *end || v < 0 || v > 100000000)
            return dashi_fail(err, DASHI_E_BAD_VALUE, "frame", "--frame must be a frame index >= 0, got '%s'",
                              frame_s);
        frame = (int)v;
    }
    struct atom_mark *marks = NULL;
    size_t nmarks = 0;
    int64_t atoms_job = 0, atoms_step = 0;
    if (atoms_s) {
        if (atoms_fetch_marks(c, atoms_s, step_s, frame, &atoms_job, &atoms_step, &marks, &nmarks, err) != 0)
            return -1;
        fprintf(stderr, "dashi: %zu atoms of job %lld at step %lld\n", nmarks, (long long)atoms_job,
                (long long)atoms_step);
    }
    char tmp[] = "/tmp/dashi-render-XXXXXX";
    int fd = mkstemp(tmp);
    if (fd < 0) {
        free(marks);
        return dashi_fail(err, DASHI_E_IO, "", "mkstemp: %s", strerror(errno));
    }
    close(fd);
    int rc = client_get_file(c, o->pos[0], tmp, err);
    if (rc == 0)
        rc = render_png_marked(tmp, out, frame, cmap && *cmap ? cmap : "diverging", marks, nmarks, err);
    unlink(tmp);
    free(marks);
    if (rc != 0)
        return -1;
    if (o->args.json && atoms_s)
        printf("{\"png\": \"%s\", \"frame\": %d, \"atoms_job\": %lld, \"atoms_step\": %lld, \"atoms\": %zu}\n",
               out, frame, (long long)atoms_job, (long long)atoms_step, nmarks);
    else if (o->args.json)
        printf("{\"png\": \"%s\", \"frame\": %d}\n", out, frame);
    else
        printf("%s\n", out);
    return 0;
}
