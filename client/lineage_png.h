/* SPDX-License-Identifier: MIT */
/* `dashi lineage --png`: the DAG of one thread as a picture, time on the x axis.
 *
 * Layout (docs/cli.md): one node per atom instance the edges reach, plus the start atom.
 * Column = (step - first step) / g, g the gcd of the step differences (one column per
 * tracked frame), x = MARGIN + column·dx; y = MARGIN + lane·LANE_DY. Lanes are given
 * column by column going away from the start atom (left to right for descendants, right
 * to left for ancestors), nodes of a column by index (Γ rank): a node keeps the lowest lane
 * of an already placed neighbour that is still free in its column, else takes the lowest
 * free lane; the start atom has lane 0. Node radius 2 + (RADIUS_MAX - 2)·√(Γ/Γmax) rounded,
 * fill by sign; edges are one-pixel segments between node centres coloured by kind, a
 * birth (death) a half-column stub into (out of) its atom ending in a short vertical tick. */
#ifndef DASHI_LINEAGE_PNG_H
#define DASHI_LINEAGE_PNG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "draw.h"
#include "errors.h"

enum { LINEAGE_MARGIN = 16, LINEAGE_COLUMN_DX = 24, LINEAGE_LANE_DY = 24, LINEAGE_RADIUS_MAX = 9,
       LINEAGE_RADIUS_MIN = 2, LINEAGE_MAX_WIDTH = 16384 };

/* Edge kinds in the order the daemon codes them (continuation 0 ... death 4). */
enum lineage_edge_kind { LEK_CONTINUATION, LEK_SPLIT, LEK_MERGE, LEK_BIRTH, LEK_DEATH, LEK_OTHER, LEK_COUNT };

#define LINEAGE_BACKGROUND ((struct draw_rgb){255, 255, 255})
#define LINEAGE_NODE_POSITIVE ((struct draw_rgb){160, 20, 40})
#define LINEAGE_NODE_NEGATIVE ((struct draw_rgb){20, 50, 140})
#define LINEAGE_NODE_UNKNOWN ((struct draw_rgb){70, 70, 70})
#define LINEAGE_START_RING ((struct draw_rgb){0, 0, 0})
/* Edge colour of a kind: continuation grey, split orange, merge blue, birth green, death
 * red, anything else purple. */
struct draw_rgb lineage_kind_colour(enum lineage_edge_kind kind);
/* "continuation" ... "death"; LEK_OTHER for anything else. */
enum lineage_edge_kind lineage_kind_parse(const char *name, size_t len);

struct lineage_edge {
    int64_t parent_step, parent_idx; /* parent_idx < 0: a birth */
    int64_t child_step, child_idx;   /* child_idx < 0: a death */
    enum lineage_edge_kind kind;
};

struct lineage_node {
    int64_t step, idx;
    int sigma;    /* 0 when unknown */
    double gamma; /* < 0 when unknown */
    int column, lane, x, y, r;
};

struct lineage_layout {
    struct lineage_node *nodes; /* by (step, idx) */
    size_t n;
    size_t start; /* index of the start atom in nodes */
    int columns, lanes, column_dx, width, height;
};

/* The nodes of edges plus the start atom, unique, by (step, idx); sigma 0, gamma -1. */
int lineage_collect(int64_t start_step, int64_t start_idx, const struct lineage_edge *edges, size_t nedges,
                    struct lineage_layout *l, struct dashi_error *err);
/* The node (step, idx) or NULL. */
struct lineage_node *lineage_find(const struct lineage_layout *l, int64_t step, int64_t idx);
/* Columns, lanes, positions, radii and the picture size (after sigma/gamma are filled in).
 * E_TOO_LARGE when the picture would be taller than the canvas allows. */
int lineage_place(struct lineage_layout *l, const struct lineage_edge *edges, size_t nedges, bool ancestors,
                  struct dashi_error *err);
/* Draws the placed layout onto a fresh canvas (the caller frees it). */
int lineage_draw(const struct lineage_layout *l, const struct lineage_edge *edges, size_t nedges,
                 struct draw_canvas *c, struct dashi_error *err);
void lineage_layout_free(struct lineage_layout *l);

#endif
