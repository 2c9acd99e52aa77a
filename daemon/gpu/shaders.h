/* SPDX-License-Identifier: MIT */
/* SPIR-V modules compiled by glslc at build time and embedded (shaders/embed.sh).
 * The list of modules and their defines is shaders/variants.txt. */
#ifndef DASHI_SHADERS_H
#define DASHI_SHADERS_H

#include <stddef.h>
#include <stdint.h>

struct embedded_shader {
    const char *name;
    const uint32_t *code;
    size_t words;
};

/* Terminated by {0, 0, 0}. */
extern const struct embedded_shader embedded_shaders[];

/* NULL if no module has that name. */
const struct embedded_shader *shader_find(const char *name);

#endif
