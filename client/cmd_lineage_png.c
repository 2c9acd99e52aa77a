/* SPDX-License-Identifier: MIT */
#include "cmd_lineage_png.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "atoms_fetch.h"
#include "lineage_png.h"
#include "figure.h"

/* The answer's edges as plain structs (*out malloc'd). */
static int read_edges(const msgpack_object *list, struct lineage_edge **out, size_t *n, struct dashi_error *err)
{
    *n = list && list->type == MSGPACK_OBJECT_ARRAY ? list->via.array.size : 0;
    *out = malloc((*n ? *n : 1) * sizeof **out);
    if (!*out)
        return dashi_fail(err, DASHI_E_INTERNAL, "", "out of memory for %zu lineage edges", *n);
    for (size_t k = 0; k < *n; k++) {
        const msgpack_object *e = &list->via.array.ptr[k], *kind = map_get(e, "kind");
        (*out)[k] = (struct lineage_edge){
            .parent_step = obj_i64(map_get(e, "parent_step")),
            .parent_idx = obj_i64(map_get(e, "parent_idx")),
            .child_step = obj_i64(map_get(e, "child_step")),
            .child_idx = obj_i64(map_get(e, "child_idx")),
            .kind = kind && kind->type == MSGPACK_OBJECT_STR ? lineage_kind_parse(kind->via.str.ptr, kind->via.str.size)
                                                             : LEK_OTHER,
        };
    }
    return 0;
}

/* Γ and σ of every node: one atoms request (or a few pages) per step, over the index
 * range that step's nodes span. */
static int fill_atoms(struct dashi_client *c, int64_t job, struct lineage_layout *l, struct dashi_error *err)
{
    for (size_t begin = 0, end; begin < l->n; begin = end) {
        for (end = begin; end < l->n && l->nodes[end].step == l->nodes[begin].step;)
            end++;
        struct atom_list atoms = {0};
        if (atoms_fetch_step(c, job, l->nodes[begin].step, l->nodes[begin].idx, l->nodes[end - 1].idx, &atoms, err)) {
            atom_list_free(&atoms);
            return -1;
        }
        for (size_t k = 0; k < atoms.n; k++) {
            struct lineage_node *nd = lineage_find(l, atoms.v[k].step, atoms.v[k].idx);
            if (nd) {
                nd->sigma = atoms.v[k].sigma;
                nd->gamma = atoms.v[k].gamma;
            }
        }
        atom_list_free(&atoms);
    }
    return 0;
}

/* A JSON string (the path may hold quotes or backslashes). */
static void print_json_string(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            printf("\\%c", ch);
        else if (ch < 0x20)
            printf("\\u%04x", ch);
        else
            putchar(ch);
    }
    putchar('"');
}

static void print_json_summary(const char *path, const struct lineage_layout *l, bool truncated, size_t nedges)
{
    printf("{\"png\": ");
    print_json_string(path);
    printf(", \"width\": %d, \"height\": %d, \"columns\": %d, \"column_dx\": %d, \"lanes\": %d, "
           "\"truncated\": %s, \"edges\": %zu, \"nodes\": [",
           l->width, l->height, l->columns, l->column_dx, l->lanes, truncated ? "true" : "false", nedges);
    for (size_t k = 0; k < l->n; k++) {
        const struct lineage_node *nd = &l->nodes[k];
        printf("%s\n  {\"step\": %lld, \"idx\": %lld, \"sigma\": %d, \"gamma\": %.17g, \"lane\": %d, \"x\": %d, "
               "\"y\": %d, \"r\": %d}",
               k ? "," : "", (long long)nd->step, (long long)nd->idx, nd->sigma, nd->gamma, nd->lane, nd->x, nd->y,
               nd->r);
    }
    printf("]}\n");
}

int cmd_lineage_png(struct dashi_client *c, int64_t job, const msgpack_object *result, bool truncated,
                    const char *path, bool json, struct dashi_error *err)
{
    const msgpack_object *atom = map_get(result, "atom"), *dir = map_get(result, "direction");
    bool ancestors = dir && dir->type == MSGPACK_OBJECT_STR && dir->via.str.size == 9 &&
                     memcmp(dir->via.str.ptr, "ancestors", 9) == 0;
    struct lineage_edge *edges;
    size_t nedges;
    if (read_edges(map_get(result, "edges"), &edges, &nedges, err) != 0)
        return -1;
    struct lineage_layout l;
    struct draw_canvas canvas = {0};
    int rc = -1;
    if (lineage_collect(obj_i64(map_get(atom, "step")), obj_i64(map_get(atom, "idx")), edges, nedges, &l, err) != 0)
        goto out;
    if (fill_atoms(c, job, &l, err) != 0)
        goto out;
    if (l.nodes[l.start].sigma == 0) { /* the op answers an unknown atom with no edges */
        dashi_fail(err, DASHI_E_NOT_FOUND, "atom", "job %lld has no atom %lld:%lld", (long long)job,
                   (long long)l.nodes[l.start].step, (long long)l.nodes[l.start].idx);
        goto out;
    }
    if (lineage_place(&l, edges, nedges, ancestors, err) != 0 ||
        lineage_draw(&l, edges, nedges, &canvas, err) != 0 ||
        fig_write_png(path, "png", &(struct fig_image){canvas.px, canvas.w, canvas.h}, err) != 0)
        goto out;
    if (truncated)
        fprintf(stderr, "dashi: the walk stopped at %zu edges (--limit); narrow it with --depth\n",
                nedges);
    if (json)
        print_json_summary(path, &l, truncated, nedges);
    else
        printf("%s\n", path);
    rc = 0;
out:
    draw_canvas_free(&canvas);
    lineage_layout_free(&l);
    free(edges);
    return rc;
}
