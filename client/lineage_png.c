/* SPDX-License-Identifier: MIT */
#include "lineage_png.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { TICK = 3, START_RING_GAP = 2 };

struct draw_rgb lineage_kind_colour(enum lineage_edge_kind kind)
{
    switch (kind) {
    case LEK_CONTINUATION:
        return (struct draw_rgb){150, 150, 150};
    case LEK_SPLIT:
        return (struct draw_rgb){245, 130, 0};
    case LEK_MERGE:
        return (struct draw_rgb){30, 100, 235};
    case LEK_BIRTH:
        return (struct draw_rgb){0, 160, 0};
    case LEK_DEATH:
        return (struct draw_rgb){225, 0, 0};
    default:
        return (struct draw_rgb){170, 110, 210};
    }
}

enum lineage_edge_kind lineage_kind_parse(const char *name, size_t len)
{
    static const char *const names[] = {"continuation", "split", "merge", "birth", "death"};
    for (int k = 0; k < LEK_OTHER; k++)
        if (strlen(names[k]) == len && memcmp(names[k], name, len) == 0)
            return (enum lineage_edge_kind)k;
    return LEK_OTHER;
}

static int node_order(const void *pa, const void *pb)
{
    const struct lineage_node *a = pa, *b = pb;
    if (a->step != b->step)
        return a->step < b->step ? -1 : 1;
    return a->idx < b->idx ? -1 : a->idx > b->idx;
}

struct lineage_node *lineage_find(const struct lineage_layout *l, int64_t step, int64_t idx)
{
    struct lineage_node key = {.step = step, .idx = idx};
    return l->n ? bsearch(&key, l->nodes, l->n, sizeof key, node_order) : NULL;
}

static void add_node(struct lineage_layout *l, int64_t step, int64_t idx)
{
    l->nodes[l->n++] = (struct lineage_node){.step = step, .idx = idx, .gamma = -1, .lane = -1};
}

int lineage_collect(int64_t start_step, int64_t start_idx, const struct lineage_edge *edges, size_t nedges,
                    struct lineage_layout *l, struct dashi_error *err)
{
    memset(l, 0, sizeof *l);
    l->nodes = malloc((1 + 2 * nedges) * sizeof *l->nodes);
    if (!l->nodes)
        return dashi_fail(err, DASHI_E_INTERNAL, "", "out of memory for %zu lineage edges", nedges);
    add_node(l, start_step, start_idx);
    for (size_t e = 0; e < nedges; e++) {
        if (edges[e].parent_idx >= 0)
            add_node(l, edges[e].parent_step, edges[e].parent_idx);
        if (edges[e].child_idx >= 0)
            add_node(l, edges[e].child_step, edges[e].child_idx);
    }
    qsort(l->nodes, l->n, sizeof *l->nodes, node_order);
    size_t u = 0;
    for (size_t k = 0; k < l->n; k++)
        if (u == 0 || node_order(&l->nodes[u - 1], &l->nodes[k]) != 0)
            l->nodes[u++] = l->nodes[k];
    l->n = u;
    l->start = (size_t)(lineage_find(l, start_step, start_idx) - l->nodes);
    return 0;
}

void lineage_layout_free(struct lineage_layout *l)
{
    free(l->nodes);
    l->nodes = NULL;
    l->n = 0;
}

static int64_t gcd64(int64_t a, int64_t b)
{
    while (b) {
        int64_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

/* Neighbours of every node (both ends of each atom-to-atom edge) as compressed rows. */
struct adjacency {
    size_t *first; /* n + 1 */
    size_t *other;
};

static int adjacency_build(const struct lineage_layout *l, const struct lineage_edge *edges, size_t nedges,
                           struct adjacency *a, struct dashi_error *err)
{
    a->first = calloc(l->n + 1, sizeof *a->first);
    a->other = malloc((2 * nedges + 1) * sizeof *a->other);
    size_t *fill = calloc(l->n + 1, sizeof *fill);
    if (!a->first || !a->other || !fill) {
        free(a->first);
        free(a->other);
        free(fill);
        return dashi_fail(err, DASHI_E_INTERNAL, "", "out of memory for the lineage layout");
    }
    for (int pass = 0; pass < 2; pass++) {
        for (size_t e = 0; e < nedges; e++) {
            const struct lineage_node *p = edges[e].parent_idx >= 0
                                               ? lineage_find(l, edges[e].parent_step, edges[e].parent_idx)
                                               : NULL;
            const struct lineage_node *c = edges[e].child_idx >= 0
                                               ? lineage_find(l, edges[e].child_step, edges[e].child_idx)
                                               : NULL;
            if (!p || !c)
                continue;
            size_t pi = (size_t)(p - l->nodes), ci = (size_t)(c - l->nodes);
            if (pass == 0) {
                a->first[pi + 1]++;
                a->first[ci + 1]++;
            } else {
                a->other[a->first[pi] + fill[pi]++] = ci;
                a->other[a->first[ci] + fill[ci]++] = pi;
            }
        }
        if (pass == 0)
            for (size_t k = 0; k < l->n; k++)
                a->first[k + 1] += a->first[k];
    }
    free(fill);
    return 0;
}

/* Lanes of the nodes of one column [begin, end): the start atom first (lane 0), then by
 * index; each keeps the lowest free lane among its placed neighbours, else the lowest
 * free lane. taken has room for every lane; it is left cleared. */
static void place_column(struct lineage_layout *l, const struct adjacency *a, size_t begin, size_t end, bool *taken)
{
    for (int round = 0; round < 2; round++)
        for (size_t k = begin; k < end; k++) {
            bool is_start = k == l->start;
            if (is_start != (round == 0))
                continue;
            struct lineage_node *nd = &l->nodes[k];
            int lane = is_start && !taken[0] ? 0 : -1;
            for (size_t q = a->first[k]; lane != 0 && q < a->first[k + 1]; q++) {
                int cand = l->nodes[a->other[q]].lane;
                if (cand >= 0 && !taken[cand] && (lane < 0 || cand < lane))
                    lane = cand;
            }
            if (lane < 0)
                for (lane = 0; taken[lane];)
                    lane++;
            taken[lane] = true;
            nd->lane = lane;
            if (lane + 1 > l->lanes)
                l->lanes = lane + 1;
        }
    for (size_t k = begin; k < end; k++)
        taken[l->nodes[k].lane] = false;
}

int lineage_place(struct lineage_layout *l, const struct lineage_edge *edges, size_t nedges, bool ancestors,
                  struct dashi_error *err)
{
    int64_t first = l->nodes[0].step, last = l->nodes[l->n - 1].step, g = 0;
    for (size_t k = 0; k < l->n; k++)
        g = gcd64(g, l->nodes[k].step - first);
    if (g == 0)
        g = 1;
    int64_t columns = (last - first) / g + 1;
    int64_t dx = LINEAGE_COLUMN_DX;
    if (columns > 1 && 2 * LINEAGE_MARGIN + (columns - 1) * dx + 1 > LINEAGE_MAX_WIDTH)
        dx = (LINEAGE_MAX_WIDTH - 2 * LINEAGE_MARGIN - 1) / (columns - 1);
    if (dx < 4)
        return dashi_fail(err, DASHI_E_TOO_LARGE, "png",
                          "the lineage spans %lld frames, too many to draw: narrow it with --depth",
                          (long long)columns);
    l->columns = (int)columns;
    l->column_dx = (int)dx;
    l->lanes = 0;

    struct adjacency a;
    if (adjacency_build(l, edges, nedges, &a, err) != 0)
        return -1;
    bool *taken = calloc(l->n + 1, sizeof *taken);
    if (!taken) {
        free(a.first);
        free(a.other);
        return dashi_fail(err, DASHI_E_INTERNAL, "", "out of memory for the lineage layout");
    }
    /* Nodes are sorted by step, so a column is a run; walk the runs away from the start. */
    for (size_t done = 0; done < l->n;) {
        size_t begin, end;
        if (!ancestors) {
            begin = done;
            for (end = begin; end < l->n && l->nodes[end].step == l->nodes[begin].step;)
                end++;
        } else {
            end = l->n - done;
            for (begin = end - 1; begin > 0 && l->nodes[begin - 1].step == l->nodes[end - 1].step;)
                begin--;
        }
        place_column(l, &a, begin, end, taken);
        done += end - begin;
    }
    free(taken);
    free(a.first);
    free(a.other);

    int64_t height = 2 * LINEAGE_MARGIN + (int64_t)(l->lanes - 1) * LINEAGE_LANE_DY + 1;
    if (height > 32768)
        return dashi_fail(err, DASHI_E_TOO_LARGE, "png",
                          "the lineage needs %d lanes, too many to draw: narrow it with --depth", l->lanes);
    l->width = (int)(2 * LINEAGE_MARGIN + (columns - 1) * dx + 1);
    l->height = (int)height;
    int rmax = (int)((dx - 6) / 2);
    rmax = rmax > LINEAGE_RADIUS_MAX ? LINEAGE_RADIUS_MAX : rmax < 0 ? 0 : rmax;
    int rmin = rmax < LINEAGE_RADIUS_MIN ? rmax : LINEAGE_RADIUS_MIN;
    double gmax = 0;
    for (size_t k = 0; k < l->n; k++)
        if (l->nodes[k].gamma > gmax)
            gmax = l->nodes[k].gamma;
    for (size_t k = 0; k < l->n; k++) {
        struct lineage_node *nd = &l->nodes[k];
        nd->column = (int)((nd->step - first) / g);
        nd->x = LINEAGE_MARGIN + nd->column * (int)dx;
        nd->y = LINEAGE_MARGIN + nd->lane * LINEAGE_LANE_DY;
        if (nd->gamma >= 0 && gmax > 0)
            nd->r = rmin + (int)lround((rmax - rmin) * sqrt(nd->gamma / gmax));
        else
            nd->r = (rmin + rmax) / 2;
    }
    return 0;
}

static struct draw_rgb node_colour(int sigma)
{
    return sigma > 0 ? LINEAGE_NODE_POSITIVE : sigma < 0 ? LINEAGE_NODE_NEGATIVE : LINEAGE_NODE_UNKNOWN;
}

static void draw_edge(const struct draw_canvas *c, const struct lineage_layout *l, const struct lineage_edge *e)
{
    struct draw_rgb colour = lineage_kind_colour(e->kind);
    const struct lineage_node *p = e->parent_idx >= 0 ? lineage_find(l, e->parent_step, e->parent_idx) : NULL;
    const struct lineage_node *ch = e->child_idx >= 0 ? lineage_find(l, e->child_step, e->child_idx) : NULL;
    int half = l->column_dx / 2;
    if (p && ch) {
        draw_line(c, p->x, p->y, ch->x, ch->y, colour);
    } else if (ch && e->parent_idx < 0) { /* a birth: from nothing, half a column before */
        draw_line(c, ch->x - half, ch->y, ch->x, ch->y, colour);
        draw_line(c, ch->x - half, ch->y - TICK, ch->x - half, ch->y + TICK, colour);
    } else if (p && e->child_idx < 0) { /* a death: into nothing, half a column after */
        draw_line(c, p->x, p->y, p->x + half, p->y, colour);
        draw_line(c, p->x + half, p->y - TICK, p->x + half, p->y + TICK, colour);
    }
}

int lineage_draw(const struct lineage_layout *l, const struct lineage_edge *edges, size_t nedges,
                 struct draw_canvas *c, struct dashi_error *err)
{
    if (draw_canvas_init(c, l->width, l->height, LINEAGE_BACKGROUND, false, err) != 0)
        return -1;
    /* Kind by kind, so the rarer events lie over the continuations where lines cross. */
    for (int kind = 0; kind < LEK_COUNT; kind++)
        for (size_t e = 0; e < nedges; e++)
            if ((int)edges[e].kind == kind)
                draw_edge(c, l, &edges[e]);
    for (size_t k = 0; k < l->n; k++)
        draw_disc(c, l->nodes[k].x, l->nodes[k].y, l->nodes[k].r, node_colour(l->nodes[k].sigma));
    const struct lineage_node *s = &l->nodes[l->start];
    draw_ring(c, s->x, s->y, s->r + START_RING_GAP, LINEAGE_START_RING);
    return 0;
}
