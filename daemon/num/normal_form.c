/* SPDX-License-Identifier: MIT */
/* The MDL normal form Π; the rules and their order are in normal_form.h.
 *
 * Shape bookkeeping: an atom's second-moment tensor (box units², the 1/12-per-cell term
 * of atoms.c included) is rebuilt from (ε, orientation, elongation): trace ε², eigenvalue
 * ratio elongation², major axis at the orientation. Merges and splits work on tensors and
 * turn the result back into the three numbers the same way atoms.c does. */
#include "normal_form.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define NF_MAX_GRID 1024

void nf_params_default(struct nf_params *p)
{
    *p = (struct nf_params){.merge_angle = M_PI / 4, .box = 2 * M_PI, .n = 64};
}

double normal_form_atom_bits(const struct atom *a, uint32_t n)
{
    return 1 + 2 * log2((double)n) + log2(1.0 + a->cells) + 16;
}

void nf_result_free(struct nf_result *r)
{
    if (!r)
        return;
    free(r->atoms);
    free(r->edges);
    free(r->audit);
    free(r->source_index);
    free(r->source_start);
    memset(r, 0, sizeof *r);
}

struct moments {
    double xx, yy, xy;
};

static struct moments atom_moments(const struct atom *a)
{
    double e2 = a->elongation * a->elongation, tr = a->eps * a->eps;
    double lmin = tr / (1 + e2), lmax = tr - lmin;
    double c = cos(a->orientation), s = sin(a->orientation);
    return (struct moments){lmax * c * c + lmin * s * s, lmax * s * s + lmin * c * c, (lmax - lmin) * c * s};
}

/* ε, orientation and elongation of a tensor, as atoms.c measures them. */
static void set_shape(struct atom *a, struct moments m)
{
    double half_tr = (m.xx + m.yy) / 2, half_diff = (m.xx - m.yy) / 2;
    double disc = sqrt(half_diff * half_diff + m.xy * m.xy);
    double lmax = half_tr + disc, lmin = half_tr - disc;
    if (lmin < 1e-300)
        lmin = 1e-300;
    a->eps = sqrt(m.xx + m.yy);
    a->orientation = 0.5 * atan2(2 * m.xy, m.xx - m.yy);
    a->elongation = sqrt(lmax / lmin);
}

static double wrap(double x, double box)
{
    double w = fmod(x, box);
    if (w < 0)
        w += box;
    return w >= box ? 0 : w; /* fmod of a tiny negative plus box can round up to box */
}

static double minimal_image(double d, double box) { return d - box * nearbyint(d / box); }

/* Orientations closer than `angle` modulo π, or either atom round. */
static bool aligned(const struct atom *a, const struct atom *b, double angle)
{
    if (a->elongation < NF_ROUND_ELONGATION || b->elongation < NF_ROUND_ELONGATION)
        return true;
    double d = fmod(fabs(a->orientation - b->orientation), M_PI);
    if (d > M_PI / 2)
        d = M_PI - d;
    return d < angle;
}

static int check_input(const struct atom *in, size_t count, const struct nf_params *p, struct dashi_error *err)
{
    if (!(p->gamma_min >= 0 && isfinite(p->gamma_min)) || !(p->lambda >= 0 && isfinite(p->lambda)) ||
        !(p->merge_dist >= 0 && isfinite(p->merge_dist)) || !(p->merge_angle >= 0 && isfinite(p->merge_angle)) ||
        !(p->split_elong == 0 || (p->split_elong >= 1 && isfinite(p->split_elong))) ||
        !(p->box > 0 && isfinite(p->box)) || p->n < 1)
        return dashi_fail(err, DASHI_E_BAD_VALUE, "", "normal form parameters out of range");
    if (count > UINT32_MAX)
        return dashi_fail(err, DASHI_E_TOO_LARGE, "", "%zu atoms are more than the normal form takes", count);
    for (size_t i = 0; i < count; i++) {
        const struct atom *a = &in[i];
        if ((a->sigma != 1 && a->sigma != -1) || !(a->gamma >= 0 && isfinite(a->gamma)) || !isfinite(a->cx) ||
            !isfinite(a->cy) || !(a->eps > 0 && isfinite(a->eps)) || !isfinite(a->orientation) ||
            !(a->elongation >= 1 && isfinite(a->elongation)))
            return dashi_fail(err, DASHI_E_BAD_VALUE, "atoms",
                              "atom %zu is not valid (σ ±1, finite Γ ≥ 0, centroid, ε > 0, elongation ≥ 1)", i);
    }
    return 0;
}

/* ---- steps 1-3: which atoms survive ---- */

struct ranked {
    double score, gamma;
    uint32_t idx;
};

static int cmp_ranked(const void *x, const void *y)
{
    const struct ranked *a = x, *b = y;
    if (a->score != b->score)
        return a->score > b->score ? -1 : 1;
    if (a->gamma != b->gamma)
        return a->gamma > b->gamma ? -1 : 1;
    return a->idx < b->idx ? -1 : a->idx > b->idx;
}

/* alive[i] after prune, score and budget; returns the number alive, or -1 (memory). */
static long long survivors(const struct atom *in, size_t count, const struct nf_params *p, bool *alive)
{
    size_t nalive = 0;
    for (size_t i = 0; i < count; i++) {
        const struct atom *a = &in[i];
        alive[i] = a->gamma >= p->gamma_min && a->cells >= p->min_cells;
        if (alive[i] && p->lambda > 0)
            alive[i] = a->gamma - p->lambda * normal_form_atom_bits(a, p->n) > 0;
        nalive += alive[i];
    }
    if (p->budget == 0 || nalive <= p->budget)
        return (long long)nalive;
    struct ranked *r = malloc(nalive * sizeof *r);
    if (!r)
        return -1;
    size_t k = 0;
    for (size_t i = 0; i < count; i++)
        if (alive[i])
            r[k++] = (struct ranked){in[i].gamma - p->lambda * normal_form_atom_bits(&in[i], p->n), in[i].gamma,
                                     (uint32_t)i};
    qsort(r, nalive, sizeof *r, cmp_ranked);
    for (size_t j = p->budget; j < nalive; j++)
        alive[r[j].idx] = false;
    free(r);
    return p->budget;
}

/* ---- step 4: merge groups ---- */

static uint32_t uf_find(uint32_t *parent, uint32_t x)
{
    while (parent[x] != x) {
        parent[x] = parent[parent[x]];
        x = parent[x];
    }
    return x;
}

static void uf_union(uint32_t *parent, uint32_t x, uint32_t y)
{
    x = uf_find(parent, x);
    y = uf_find(parent, y);
    if (x != y)
        parent[x > y ? x : y] = x < y ? x : y;
}

static uint32_t cell_of(double x, double box, uint32_t g)
{
    uint32_t c = (uint32_t)(wrap(x, box) / box * g);
    return c >= g ? g - 1 : c;
}

/* Links the survivors surv[0..m) (input indices, ascending) into groups: root[k] is the
 * smallest position of k's group. A pair (a, b) is tested from the member with the larger
 * ε (ties: the lower position), whose reach 2·merge_dist·ε covers every partner, through a
 * grid of cells no smaller than the mean reach. */
static int merge_groups(const struct atom *in, const uint32_t *surv, uint32_t m, const struct nf_params *p,
                        uint32_t *root)
{
    for (uint32_t k = 0; k < m; k++)
        root[k] = k;
    if (p->merge_dist <= 0 || m < 2)
        return 0;
    double box = p->box, mean_reach = 0;
    for (uint32_t k = 0; k < m; k++)
        mean_reach += 2 * p->merge_dist * in[surv[k]].eps;
    mean_reach /= m;
    uint32_t gmax = (uint32_t)(2 * sqrt((double)m)) + 1;
    if (gmax > NF_MAX_GRID)
        gmax = NF_MAX_GRID;
    double per = box / mean_reach;
    uint32_t g = per >= gmax ? gmax : per < 1 ? 1 : (uint32_t)per;
    size_t ncell = (size_t)g * g;
    size_t *start = calloc(ncell + 1, sizeof *start), *fill = malloc((ncell + 1) * sizeof *fill);
    uint32_t *items = malloc((size_t)m * sizeof *items), *home = malloc((size_t)m * sizeof *home);
    if (!start || !fill || !items || !home) {
        free(start), free(fill), free(items), free(home);
        return -1;
    }
    for (uint32_t k = 0; k < m; k++) {
        const struct atom *a = &in[surv[k]];
        home[k] = cell_of(a->cy, box, g) * g + cell_of(a->cx, box, g);
        start[home[k] + 1]++;
    }
    for (size_t c = 0; c < ncell; c++)
        start[c + 1] += start[c];
    memcpy(fill, start, ncell * sizeof *fill);
    for (uint32_t k = 0; k < m; k++) /* ascending, so each cell lists positions in order */
        items[fill[home[k]]++] = k;
    double h = box / g;
    for (uint32_t k = 0; k < m; k++) {
        const struct atom *a = &in[surv[k]];
        double reach = 2 * p->merge_dist * a->eps;
        double span = ceil(reach / h);
        bool all = 2 * span + 1 >= g;
        uint32_t ka = all ? 0 : (uint32_t)span;
        uint32_t ci = home[k] / g, cj = home[k] % g;
        uint32_t rows = all ? g : 2 * ka + 1;
        for (uint32_t ri = 0; ri < rows; ri++)
            for (uint32_t rj = 0; rj < rows; rj++) {
                uint32_t i = all ? ri : (ci + g - ka + ri) % g;
                uint32_t j = all ? rj : (cj + g - ka + rj) % g;
                size_t c = (size_t)i * g + j;
                for (size_t t = start[c]; t < start[c + 1]; t++) {
                    uint32_t q = items[t];
                    const struct atom *b = &in[surv[q]];
                    if (q == k || b->eps > a->eps || (b->eps == a->eps && q < k))
                        continue;
                    if (a->sigma != b->sigma || !aligned(a, b, p->merge_angle))
                        continue;
                    double d = atoms_periodic_distance(a->cx, a->cy, b->cx, b->cy, box);
                    if (d < p->merge_dist * (a->eps + b->eps))
                        uf_union(root, k, q);
                }
            }
    }
    for (uint32_t k = 0; k < m; k++)
        root[k] = uf_find(root, k);
    free(start), free(fill), free(items), free(home);
    return 0;
}

/* The merged atom of members (input indices, ascending). */
static struct atom merged_atom(const struct atom *in, const uint32_t *members, size_t k, double box)
{
    const struct atom *ref = &in[members[0]];
    double w_total = 0;
    for (size_t t = 0; t < k; t++)
        w_total += in[members[t]].gamma;
    bool uniform = !(w_total > 0);
    double wsum = uniform ? (double)k : w_total, mx = 0, my = 0;
    uint64_t cells = 0;
    for (size_t t = 0; t < k; t++) {
        const struct atom *a = &in[members[t]];
        double w = uniform ? 1.0 : a->gamma;
        mx += w * minimal_image(a->cx - ref->cx, box);
        my += w * minimal_image(a->cy - ref->cy, box);
        cells += a->cells;
    }
    mx /= wsum;
    my /= wsum;
    struct moments m = {0, 0, 0};
    for (size_t t = 0; t < k; t++) {
        const struct atom *a = &in[members[t]];
        double w = uniform ? 1.0 : a->gamma;
        double dx = minimal_image(a->cx - ref->cx, box) - mx, dy = minimal_image(a->cy - ref->cy, box) - my;
        struct moments ma = atom_moments(a);
        m.xx += w * (ma.xx + dx * dx);
        m.yy += w * (ma.yy + dy * dy);
        m.xy += w * (ma.xy + dx * dy);
    }
    m.xx /= wsum;
    m.yy /= wsum;
    m.xy /= wsum;
    struct atom out = *ref;
    out.gamma = w_total;
    out.cx = wrap(ref->cx + mx, box);
    out.cy = wrap(ref->cy + my, box);
    out.cells = cells > UINT32_MAX ? UINT32_MAX : (uint32_t)cells;
    set_shape(&out, m);
    return out;
}

/* The two halves of a split atom: side +1 at +a/2 along the orientation, −1 at −a/2. */
static struct atom split_half(const struct atom *a, int side, double box)
{
    struct moments m = atom_moments(a);
    double half_tr = (m.xx + m.yy) / 2, half_diff = (m.xx - m.yy) / 2;
    double lmax = half_tr + sqrt(half_diff * half_diff + m.xy * m.xy);
    double lmin = a->eps * a->eps - lmax;
    if (lmin < 0)
        lmin = 0;
    double offset = 0.5 * sqrt(3 * lmax), c = cos(a->orientation), s = sin(a->orientation);
    struct atom h = *a;
    h.gamma = a->gamma / 2;
    h.cells = a->cells - a->cells / 2;
    h.cx = wrap(a->cx + side * offset * c, box);
    h.cy = wrap(a->cy + side * offset * s, box);
    double q = lmax / 4;
    set_shape(&h, (struct moments){q * c * c + lmin * s * s, q * s * s + lmin * c * c, (q - lmin) * c * s});
    return h;
}

/* ---- assembly ---- */

struct pre {
    struct atom a;
    uint32_t first;       /* lowest source (input index) */
    uint32_t group;       /* root position of the group */
    uint8_t ordinal;      /* split half: 0 (+a/2) or 1 */
    uint8_t kind;         /* enum lineage_kind of the group's edges */
};

static int cmp_pre(const void *x, const void *y)
{
    const struct pre *a = x, *b = y;
    if (a->a.gamma != b->a.gamma)
        return a->a.gamma > b->a.gamma ? -1 : 1;
    if (a->first != b->first)
        return a->first < b->first ? -1 : 1;
    return a->ordinal < b->ordinal ? -1 : a->ordinal > b->ordinal;
}

int normal_form_apply(const struct atom *in, size_t count, const struct nf_params *p, struct nf_result *out,
                      struct dashi_error *err)
{
    memset(out, 0, sizeof *out);
    if (check_input(in, count, p, err) != 0)
        return -1;
    bool *alive = malloc(count + 1);
    uint32_t *surv = NULL, *root = NULL, *gstart = NULL, *gfill = NULL, *gmembers = NULL, *out_of_group = NULL;
    struct pre *pre = NULL;
    double *sum_t = NULL, *sum_s = NULL;
    if (!alive)
        goto oom;
    long long kept = survivors(in, count, p, alive);
    if (kept < 0)
        goto oom;
    uint32_t m = (uint32_t)kept;
    surv = malloc(((size_t)m + 1) * sizeof *surv);
    root = malloc(((size_t)m + 1) * sizeof *root);
    gstart = calloc((size_t)m + 2, sizeof *gstart);
    gfill = malloc(((size_t)m + 1) * sizeof *gfill);
    gmembers = malloc(((size_t)m + 1) * sizeof *gmembers);
    out_of_group = malloc(((size_t)m + 1) * sizeof *out_of_group);
    pre = malloc((2 * (size_t)m + 1) * sizeof *pre);
    if (!surv || !root || !gstart || !gfill || !gmembers || !out_of_group || !pre)
        goto oom;
    for (size_t i = 0, k = 0; i < count; i++)
        if (alive[i])
            surv[k++] = (uint32_t)i;
    if (merge_groups(in, surv, m, p, root) != 0)
        goto oom;
    /* Members of each group by a counting sort on the root (positions stay ascending). */
    for (uint32_t k = 0; k < m; k++)
        gstart[root[k] + 1]++;
    for (uint32_t k = 0; k < m; k++)
        gstart[k + 1] += gstart[k];
    memcpy(gfill, gstart, (size_t)m * sizeof *gfill);
    for (uint32_t k = 0; k < m; k++)
        gmembers[gfill[root[k]]++] = surv[k];

    size_t npre = 0;
    for (uint32_t r = 0; r < m; r++) {
        if (root[r] != r)
            continue;
        const uint32_t *mem = gmembers + gstart[r];
        size_t k = gstart[r + 1] - gstart[r];
        const struct atom *a = &in[mem[0]];
        if (k >= 2) {
            pre[npre++] = (struct pre){merged_atom(in, mem, k, p->box), mem[0], r, 0, LINEAGE_MERGE};
        } else if (p->split_elong > 0 && a->elongation > p->split_elong) {
            pre[npre++] = (struct pre){split_half(a, +1, p->box), mem[0], r, 0, LINEAGE_SPLIT};
            pre[npre++] = (struct pre){split_half(a, -1, p->box), mem[0], r, 1, LINEAGE_SPLIT};
        } else {
            pre[npre++] = (struct pre){*a, mem[0], r, 0, LINEAGE_CONTINUATION};
        }
    }
    qsort(pre, npre, sizeof *pre, cmp_pre);
    size_t ndeath = count - m, nlinks = 0;
    out->atoms = malloc((npre + 1) * sizeof *out->atoms);
    out->source_start = malloc((npre + 1) * sizeof *out->source_start);
    out->source_index = malloc((2 * (size_t)m + 1) * sizeof *out->source_index);
    out->audit = malloc((npre + ndeath + 1) * sizeof *out->audit);
    sum_t = calloc(npre + 1, sizeof *sum_t);
    sum_s = calloc(npre + 1, sizeof *sum_s);
    if (!out->atoms || !out->source_start || !out->source_index || !out->audit || !sum_t || !sum_s)
        goto oom;
    out->source_start[0] = 0;
    for (size_t k = 0; k < npre; k++) {
        out->atoms[k] = pre[k].a;
        if (pre[k].ordinal == 0)
            out_of_group[pre[k].group] = (uint32_t)k;
        uint32_t g = pre[k].group;
        size_t s0 = out->source_start[k];
        for (uint32_t t = gstart[g]; t < gstart[g + 1]; t++)
            out->source_index[s0++] = gmembers[t];
        out->source_start[k + 1] = s0;
        nlinks += gstart[g + 1] - gstart[g];
    }
    out->count = npre;
    out->edges = malloc((nlinks + ndeath + 1) * sizeof *out->edges);
    if (!out->edges)
        goto oom;
    /* Links in (parent, child) order: parents ascending, a split parent's halves adjacent. */
    for (uint32_t k = 0; k < m; k++) {
        uint32_t i = surv[k], g = root[k], o = out_of_group[g];
        const struct atom *a = &in[i];
        enum lineage_kind kind = (enum lineage_kind)pre[o].kind;
        int halves = kind == LINEAGE_SPLIT ? 2 : 1;
        for (int h = 0; h < halves; h++) {
            double tr = kind == LINEAGE_SPLIT ? a->gamma / 2 : a->gamma;
            double frac = kind == LINEAGE_SPLIT      ? 0.5
                          : kind == LINEAGE_CONTINUATION ? 1.0
                          : out->atoms[o].gamma > 0      ? a->gamma / out->atoms[o].gamma
                                                         : 1.0 / (gstart[g + 1] - gstart[g]);
            out->edges[out->nedges++] = (struct lineage_edge){.parent = (int32_t)i, .child = (int32_t)(o + h),
                                                              .kind = kind, .fraction = frac, .transfer = tr};
            sum_t[o + h] += tr;
            sum_s[o + h] += a->sigma * tr;
        }
        if (kind == LINEAGE_CONTINUATION)
            out->events[LINEAGE_CONTINUATION]++;
        else if (kind == LINEAGE_SPLIT)
            out->events[LINEAGE_SPLIT]++;
    }
    for (size_t k = 0; k < npre; k++) {
        const struct atom *b = &out->atoms[k];
        if (pre[k].kind == LINEAGE_MERGE)
            out->events[LINEAGE_MERGE]++;
        struct audit_rec *r = &out->audit[out->naudit++];
        *r = (struct audit_rec){.idx = (int32_t)k, .at_parent = false, .event = (enum lineage_kind)pre[k].kind,
                                .residual = b->gamma - sum_t[k], .signed_residual = b->sigma * b->gamma - sum_s[k]};
        out->abs_residual += fabs(r->residual);
        out->signed_residual += r->signed_residual;
    }
    for (size_t i = 0; i < count; i++) {
        if (alive[i])
            continue;
        const struct atom *a = &in[i];
        out->edges[out->nedges++] = (struct lineage_edge){.parent = (int32_t)i, .child = -1, .kind = LINEAGE_DEATH,
                                                          .fraction = 1, .transfer = a->gamma};
        out->audit[out->naudit++] = (struct audit_rec){.idx = (int32_t)i, .at_parent = true, .event = LINEAGE_DEATH,
                                                       .residual = -a->gamma, .signed_residual = -a->sigma * a->gamma};
        out->signed_residual -= a->sigma * a->gamma;
        out->events[LINEAGE_DEATH]++;
    }
    free(alive), free(surv), free(root), free(gstart), free(gfill), free(gmembers);
    free(out_of_group), free(pre), free(sum_t), free(sum_s);
    return 0;
oom:
    free(alive), free(surv), free(root), free(gstart), free(gfill), free(gmembers);
    free(out_of_group), free(pre), free(sum_t), free(sum_s);
    nf_result_free(out);
    return dashi_fail(err, DASHI_E_INTERNAL, "", "out of host memory for the normal form");
}
