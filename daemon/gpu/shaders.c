/* SPDX-License-Identifier: MIT */
#include "shaders.h"

#include <string.h>

const struct embedded_shader *shader_find(const char *name)
{
    for (const struct embedded_shader *s = embedded_shaders; s->name; s++)
        if (strcmp(s->name, name) == 0)
            return s;
    return NULL;
}
