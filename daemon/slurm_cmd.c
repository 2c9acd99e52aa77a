/* SPDX-License-Identifier: MIT */
/* Slurm commands run without blocking the loop (slurm_cmd.h). */
#include "slurm_cmd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SLURM_STDERR_CAP 2048

struct capture {
    uv_pipe_t pipe;
    char *buf;
    size_t n, cap;
    bool truncated;
};

struct slurm_cmd {
    uv_process_t proc;
    struct capture out, err;
    int open_handles; /* freed when the last is closed */
    bool exited, abandoned;
    int64_t exit_status;
    char chunk[4096]; /* what one read brings */
    slurm_cmd_done done;
    void *ctx;
    uint64_t tag;
};

static void on_closed(uv_handle_t *h)
{
    struct slurm_cmd *cmd = h->data;
    if (--cmd->open_handles > 0)
        return;
    free(cmd->out.buf);
    free(cmd->err.buf);
    free(cmd);
}

static void close_all(struct slurm_cmd *cmd)
{
    uv_handle_t *hs[] = {(uv_handle_t *)&cmd->proc, (uv_handle_t *)&cmd->out.pipe, (uv_handle_t *)&cmd->err.pipe};
    for (int i = 0; i < 3; i++)
        if (!uv_is_closing(hs[i]))
            uv_close(hs[i], on_closed);
}

/* Once it exited and both pipes reached their end: the callback, then the handles go. */
static void maybe_finish(struct slurm_cmd *cmd)
{
    if (!cmd->exited || uv_is_active((uv_handle_t *)&cmd->out.pipe) || uv_is_active((uv_handle_t *)&cmd->err.pipe))
        return;
    if (!cmd->abandoned) {
        cmd->out.buf[cmd->out.n] = 0;
        cmd->err.buf[cmd->err.n] = 0;
        struct slurm_cmd_result r = {cmd->exit_status, cmd->out.buf, cmd->err.buf, cmd->out.truncated, cmd->tag};
        cmd->abandoned = true;
        cmd->done(cmd->ctx, &r);
    }
    close_all(cmd);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    struct slurm_cmd *cmd = h->data;
    *buf = uv_buf_init(cmd->chunk, sizeof cmd->chunk); /* copied into the capture, or dropped */
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    struct slurm_cmd *cmd = s->data;
    struct capture *c = (uv_pipe_t *)s == &cmd->out.pipe ? &cmd->out : &cmd->err;
    if (n > 0) {
        size_t room = c->cap - c->n, take = (size_t)n < room ? (size_t)n : room;
        memcpy(c->buf + c->n, buf->base, take);
        c->n += take;
        c->truncated = c->truncated || take < (size_t)n;
    } else if (n < 0) {
        uv_read_stop(s);
        maybe_finish(cmd);
    }
}

static void on_exit_cb(uv_process_t *p, int64_t status, int term_signal)
{
    struct slurm_cmd *cmd = p->data;
    cmd->exited = true;
    cmd->exit_status = term_signal ? -1 : status;
    maybe_finish(cmd);
}

static int capture_init(uv_loop_t *loop, struct slurm_cmd *cmd, struct capture *c, size_t cap)
{
    c->cap = cap;
    c->buf = malloc(cap + 1);
    if (!c->buf || uv_pipe_init(loop, &c->pipe, 0) != 0)
        return -1;
    c->pipe.data = cmd;
    cmd->open_handles++;
    return 0;
}

int slurm_cmd_start(uv_loop_t *loop, const char *const *argv, size_t out_cap, slurm_cmd_done done, void *ctx,
                    uint64_t tag, const char *field, struct slurm_cmd **out, struct dashi_error *err)
{
    struct slurm_cmd *cmd = calloc(1, sizeof *cmd);
    if (!cmd)
        return dashi_fail(err, DASHI_E_INTERNAL, field, "out of memory");
    cmd->done = done;
    cmd->ctx = ctx;
    cmd->tag = tag;
    if (capture_init(loop, cmd, &cmd->out, out_cap) != 0 || capture_init(loop, cmd, &cmd->err, SLURM_STDERR_CAP) != 0) {
        free(cmd->out.buf);
        free(cmd->err.buf);
        free(cmd); /* uv_pipe_init holds no resource until the pipe is used */
        return dashi_fail(err, DASHI_E_INTERNAL, field, "out of memory");
    }
    uv_stdio_container_t stdio[3] = {
        {.flags = UV_IGNORE},
        {.flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE, .data.stream = (uv_stream_t *)&cmd->out.pipe},
        {.flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE, .data.stream = (uv_stream_t *)&cmd->err.pipe},
    };
    uv_process_options_t opt = {.exit_cb = on_exit_cb, .file = argv[0], .args = (char **)argv,
                                .stdio_count = 3, .stdio = stdio};
    cmd->proc.data = cmd;
    int rc = uv_spawn(loop, &cmd->proc, &opt);
    cmd->open_handles++; /* the process handle needs closing even when the spawn failed */
    if (rc != 0) {
        cmd->abandoned = true;
        close_all(cmd);
        return dashi_fail(err, DASHI_E_SLURM, field, "cannot run %s: %s", argv[0], uv_strerror(rc));
    }
    uv_read_start((uv_stream_t *)&cmd->out.pipe, on_alloc, on_read);
    uv_read_start((uv_stream_t *)&cmd->err.pipe, on_alloc, on_read);
    *out = cmd;
    return 0;
}

void slurm_cmd_abandon(struct slurm_cmd *cmd)
{
    cmd->abandoned = true;
    close_all(cmd);
}
