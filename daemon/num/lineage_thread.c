/* SPDX-License-Identifier: MIT */
/* Threading of two consecutive atom frames; the rules are in lineage_thread.h. */
#include "lineage_thread.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const kind_names[LINEAGE_KIND_COUNT] = {"continuation", "split", "merge", "birth", "death"};

const char *lineage_kind_name(enum lineage_kind k)
{
    return (unsigned)k < LINEAGE_KIND_COUNT ? kind_names[k] : "?";
}

int lineage_kind_from_name(const char *name)
{
    for (int k = 0; k < LINEAGE_KIND_COUNT; k++)
        if (strcmp(kind_names[k], name) == 0)
            return k;
    return -1;
}

void thread_params_default(struct thread_params *p)
{
    *p = (struct thread_params){.w_g = 1, .w_gamma = 1, .w_sigma = 10, .w_eps = 0.5, .gate = 4,
                                .min_overlap = 0.1, .box = 2 * M_PI};
}

void thread_result_free(struct thread_result *r)
{
    if (!r)
        return;
    free(r->edges);
    free(r->audit);
    memset(r, 0, sizeof *r);
}

struct cand {
    int32_t a, b;
    double d;
    uint32_t overlap; /* shared cells */
    bool matched, shared;
};

static double distance(const struct atom *a, const struct atom *b, const struct thread_params *p)
{
    double eps = (a->eps + b->eps) / 2;
    double gmax = a->gamma > b->gamma ? a->gamma : b->gamma;
    double d = p->w_g * atoms_periodic_distance(a->cx, a->cy, b->cx, b->cy, p->box) / eps;
    if (gmax > 0)
        d += p->w_gamma * fabs(a->gamma - b->gamma) / gmax;
    d += p->w_sigma * (a->sigma != b->sigma);
    d += p->w_eps * fabs(a->eps - b->eps) / eps;
    return d;
}

static int cmp_u64(const void *x, const void *y)
{
    uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
    return a < b ? -1 : a > b;
}

static int cmp_cand(const void *x, const void *y)
{
    const struct cand *a = x, *b = y;
    if (a->a != b->a)
        return a->a < b->a ? -1 : 1;
    return a->b < b->b ? -1 : a->b > b->b;
}

static int cmp_cand_cost(const void *x, const void *y)
{
    const struct cand *a = *(const struct cand *const *)x, *b = *(const struct cand *const *)y;
    if (a->d != b->d)
        return a->d < b->d ? -1 : 1;
    return cmp_cand(a, b);
}

struct xkey {
    double x;
    int32_t idx;
};

static int cmp_xkey(const void *p, const void *q)
{
    const struct xkey *a = p, *b = q;
    if (a->x != b->x)
        return a->x < b->x ? -1 : 1;
    return a->idx < b->idx ? -1 : a->idx > b->idx;
}

/* First position in xs (sorted by x) whose x is >= v. */
static size_t lower_x(const struct xkey *xs, size_t n, double v)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (xs[mid].x < v)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Candidate pairs, sorted by (a, b): within the gate, or sharing cells. */
static int candidates(const struct atom_frame *fa, const struct atom_frame *fb, const struct thread_params *p,
                      struct cand **out, size_t *nout)
{
    size_t nn = (size_t)fa->n * fa->n, nkeys = 0;
    uint64_t *keys = malloc((nn ? nn : 1) * sizeof *keys);
    if (!keys)
        return -1;
    for (size_t c = 0; c < nn; c++)
        if (fa->labels[c] >= 0 && fb->labels[c] >= 0)
            keys[nkeys++] = (uint64_t)fa->labels[c] << 32 | (uint32_t)fb->labels[c];
    qsort(keys, nkeys, sizeof *keys, cmp_u64);
    size_t cap = 256, n = 0;
    struct cand *c = malloc(cap * sizeof *c);
    if (!c) {
        free(keys);
        return -1;
    }
    /* Overlapping pairs, one per run of equal keys. */
    for (size_t k = 0; k < nkeys;) {
        size_t r = k;
        while (r < nkeys && keys[r] == keys[k])
            r++;
        if (n == cap) {
            struct cand *q = realloc(c, 2 * cap * sizeof *c);
            if (!q)
                goto oom;
            c = q;
            cap *= 2;
        }
        int32_t a = (int32_t)(keys[k] >> 32), b = (int32_t)(keys[k] & 0xffffffffu);
        c[n++] = (struct cand){.a = a, .b = b, .d = distance(&fa->atoms[a], &fb->atoms[b], p),
                               .overlap = (uint32_t)(r - k)};
        k = r;
    }
    size_t noverlap = n;
    /* Pairs within the gate that do not overlap. dist/ε̄ ≤ gate/w_g bounds the centroid
     * distance by r = gate/w_g · (εa + max εb)/2, so only children whose x lies within r
     * of the parent's (periodically) need a look: a window over B sorted by x. */
    size_t nb = fb->count;
    struct xkey *xs = malloc((nb ? nb : 1) * sizeof *xs);
    if (!xs)
        goto oom;
    double eps_max = 0;
    for (size_t b = 0; b < nb; b++) {
        xs[b] = (struct xkey){fb->atoms[b].cx, (int32_t)b};
        if (fb->atoms[b].eps > eps_max)
            eps_max = fb->atoms[b].eps;
    }
    qsort(xs, nb, sizeof *xs, cmp_xkey);
    for (size_t a = 0; a < fa->count; a++) {
        const struct atom *pa = &fa->atoms[a];
        double r = p->w_g > 0 ? p->gate / p->w_g * (pa->eps + eps_max) / 2 : HUGE_VAL;
        /* [lo, hi) ranges of xs to scan: the window, split at the seam when it crosses it */
        size_t ranges[2][2] = {{0, nb}, {0, 0}};
        if (r < p->box / 2) {
            double x0 = pa->cx - r, x1 = pa->cx + r;
            if (x0 < 0) {
                ranges[0][0] = lower_x(xs, nb, 0), ranges[0][1] = lower_x(xs, nb, nextafter(x1, HUGE_VAL));
                ranges[1][0] = lower_x(xs, nb, x0 + p->box), ranges[1][1] = nb;
            } else if (x1 >= p->box) {
                ranges[0][0] = lower_x(xs, nb, x0), ranges[0][1] = nb;
                ranges[1][0] = 0, ranges[1][1] = lower_x(xs, nb, nextafter(x1 - p->box, HUGE_VAL));
            } else {
                ranges[0][0] = lower_x(xs, nb, x0), ranges[0][1] = lower_x(xs, nb, nextafter(x1, HUGE_VAL));
            }
        }
        for (int q = 0; q < 2; q++)
            for (size_t k = ranges[q][0]; k < ranges[q][1]; k++) {
                size_t b = (size_t)xs[k].idx;
                const struct atom *pb = &fb->atoms[b];
                double d = distance(pa, pb, p);
                if (d > p->gate)
                    continue;
                struct cand key = {.a = (int32_t)a, .b = (int32_t)b};
                if (bsearch(&key, c, noverlap, sizeof *c, cmp_cand))
                    continue;
                if (n == cap) {
                    struct cand *nc = realloc(c, 2 * cap * sizeof *c);
                    if (!nc) {
                        free(xs);
                        goto oom;
                    }
                    c = nc;
                    cap *= 2;
                }
                c[n++] = (struct cand){.a = (int32_t)a, .b = (int32_t)b, .d = d};
            }
    }
    free(xs);
    qsort(c, n, sizeof *c, cmp_cand);
    free(keys);
    *out = c;
    *nout = n;
    return 0;
oom:
    free(keys);
    free(c);
    return -1;
}

static uint32_t uf_find(uint32_t *parent, uint32_t x)
{
    while (parent[x] != x) {
        parent[x] = parent[parent[x]];
        x = parent[x];
    }
    return x;
}

/* Minimum-cost perfect assignment of a k×k cost matrix (row-major); col_row[j] receives
 * the row assigned to column j. Hungarian algorithm with potentials, O(k³). */
static int hungarian(const double *cost, size_t k, size_t *col_row)
{
    size_t m = k + 1;
    double *u = calloc(m, sizeof *u), *v = calloc(m, sizeof *v), *minv = malloc(m * sizeof *minv);
    size_t *p = calloc(m, sizeof *p), *way = calloc(m, sizeof *way);
    bool *used = malloc(m * sizeof *used);
    if (!u || !v || !minv || !p || !way || !used) {
        free(u), free(v), free(minv), free(p), free(way), free(used);
        return -1;
    }
    for (size_t i = 1; i <= k; i++) {
        p[0] = i;
        size_t j0 = 0;
        for (size_t j = 0; j <= k; j++) {
            minv[j] = HUGE_VAL;
            used[j] = false;
        }
        do {
            used[j0] = true;
            size_t i0 = p[j0], j1 = 0;
            double delta = HUGE_VAL;
            for (size_t j = 1; j <= k; j++) {
                if (used[j])
                    continue;
                double cur = cost[(i0 - 1) * k + (j - 1)] - u[i0] - v[j];
                if (cur < minv[j]) {
                    minv[j] = cur;
                    way[j] = j0;
                }
                if (minv[j] < delta) {
                    delta = minv[j];
                    j1 = j;
                }
            }
            for (size_t j = 0; j <= k; j++) {
                if (used[j]) {
                    u[p[j]] += delta;
                    v[j] -= delta;
                } else {
                    minv[j] -= delta;
                }
            }
            j0 = j1;
        } while (p[j0] != 0);
        do {
            size_t j1 = way[j0];
            p[j0] = p[j1];
            j0 = j1;
        } while (j0);
    }
    for (size_t j = 1; j <= k; j++)
        col_row[j - 1] = p[j] - 1;
    free(u), free(v), free(minv), free(p), free(way), free(used);
    return 0;
}

/* Far above any real cost, small enough that potentials stay exact enough. */
#define NO_EDGE 1e9

/* Exact matching of one component: rows = its parents, cols = its children, each padded
 * with one "unmatched" partner per atom of the other side. */
static int match_component(struct cand *c, const size_t *ci, size_t nc, const int32_t *rows, size_t nr,
                           const int32_t *cols, size_t ncol, double gate)
{
    size_t k = nr + ncol;
    double *cost = malloc(k * k * sizeof *cost);
    size_t *col_row = malloc(k * sizeof *col_row);
    if (!cost || !col_row) {
        free(cost);
        free(col_row);
        return -1;
    }
    for (size_t i = 0; i < k * k; i++)
        cost[i] = NO_EDGE;
    for (size_t r = 0; r < nr; r++)
        cost[r * k + ncol + r] = gate; /* parent r unmatched */
    for (size_t q = 0; q < ncol; q++)
        cost[(nr + q) * k + q] = gate; /* child q unmatched */
    for (size_t r = nr; r < k; r++)
        for (size_t q = ncol; q < k; q++)
            cost[r * k + q] = 0;
    /* rows/cols are ascending, so a binary search gives each candidate's position. */
    for (size_t t = 0; t < nc; t++) {
        const struct cand *e = &c[ci[t]];
        size_t r = 0, q = 0;
        while (rows[r] != e->a)
            r++;
        while (cols[q] != e->b)
            q++;
        cost[r * k + q] = e->d;
    }
    int rc = hungarian(cost, k, col_row);
    if (rc == 0)
        for (size_t t = 0; t < nc; t++) {
            struct cand *e = &c[ci[t]];
            size_t r = 0, q = 0;
            while (rows[r] != e->a)
                r++;
            while (cols[q] != e->b)
                q++;
            if (col_row[q] == r)
                e->matched = true;
        }
    free(cost);
    free(col_row);
    return rc;
}

/* Greedy matching for a component too large for the exact solver. */
static int match_greedy(struct cand *c, const size_t *ci, size_t nc, bool *a_used, bool *b_used, double gate)
{
    struct cand **order = malloc((nc ? nc : 1) * sizeof *order);
    if (!order)
        return -1;
    for (size_t t = 0; t < nc; t++)
        order[t] = &c[ci[t]];
    qsort(order, nc, sizeof *order, cmp_cand_cost);
    /* A match is worth taking only when it costs less than leaving both unmatched. */
    for (size_t t = 0; t < nc; t++)
        if (order[t]->d < 2 * gate && !a_used[order[t]->a] && !b_used[order[t]->b]) {
            order[t]->matched = true;
            a_used[order[t]->a] = b_used[order[t]->b] = true;
        }
    free(order);
    return 0;
}

/* Continuation matching over the connected components of the candidate graph. Nodes
 * 0..na-1 are parents, na.. children; the members of each component are gathered by a
 * counting sort on its root (the smaller root wins every union: deterministic). */
static int match_all(struct cand *c, size_t nc, size_t na, size_t nb, double gate)
{
    size_t nodes = na + nb;
    uint32_t *parent = malloc((nodes + 1) * sizeof *parent);
    size_t *start = calloc(nodes + 2, sizeof *start), *fill = malloc((nodes + 1) * sizeof *fill);
    size_t *members = malloc((nodes + 1) * sizeof *members);
    size_t *cstart = calloc(nodes + 2, sizeof *cstart), *cfill = malloc((nodes + 1) * sizeof *cfill);
    size_t *ci = malloc((nc + 1) * sizeof *ci);
    int32_t *rows = malloc((na + 1) * sizeof *rows), *cols = malloc((nb + 1) * sizeof *cols);
    bool *a_used = calloc(na + 1, 1), *b_used = calloc(nb + 1, 1);
    int rc = -1;
    if (!parent || !start || !fill || !members || !cstart || !cfill || !ci || !rows || !cols || !a_used || !b_used)
        goto out;
    for (size_t x = 0; x < nodes; x++)
        parent[x] = (uint32_t)x;
    for (size_t t = 0; t < nc; t++) {
        uint32_t x = uf_find(parent, (uint32_t)c[t].a), y = uf_find(parent, (uint32_t)(na + (size_t)c[t].b));
        if (x != y)
            parent[x > y ? x : y] = x < y ? x : y;
    }
    for (size_t x = 0; x < nodes; x++) /* flatten: parent[x] is now x's root */
        parent[x] = uf_find(parent, (uint32_t)x);
    for (size_t x = 0; x < nodes; x++)
        start[parent[x] + 1]++;
    for (size_t t = 0; t < nc; t++)
        cstart[parent[c[t].a] + 1]++;
    for (size_t x = 0; x < nodes; x++) {
        start[x + 1] += start[x];
        cstart[x + 1] += cstart[x];
    }
    memcpy(fill, start, nodes * sizeof *fill);
    memcpy(cfill, cstart, nodes * sizeof *cfill);
    for (size_t x = 0; x < nodes; x++) /* ascending, so members stay sorted */
        members[fill[parent[x]]++] = x;
    for (size_t t = 0; t < nc; t++)
        ci[cfill[parent[c[t].a]]++] = t;
    for (size_t root = 0; root < na; root++) {
        size_t nci = cstart[root + 1] - cstart[root];
        if (parent[root] != root || nci == 0)
            continue;
        size_t nr = 0, ncol = 0;
        for (size_t m = start[root]; m < start[root + 1]; m++) {
            if (members[m] < na)
                rows[nr++] = (int32_t)members[m];
            else
                cols[ncol++] = (int32_t)(members[m] - na);
        }
        int r = nr + ncol <= HUNGARIAN_MAX
                    ? match_component(c, ci + cstart[root], nci, rows, nr, cols, ncol, gate)
                    : match_greedy(c, ci + cstart[root], nci, a_used, b_used, gate);
        if (r != 0)
            goto out;
    }
    rc = 0;
out:
    free(parent), free(start), free(fill), free(members), free(cstart), free(cfill), free(ci), free(rows);
    free(cols), free(a_used), free(b_used);
    return rc;
}

int threads_link(const struct atom_frame *fa, const struct atom_frame *fb, const struct thread_params *p,
                 struct thread_result *out, struct dashi_error *err)
{
    memset(out, 0, sizeof *out);
    if (fa->n != fb->n)
        return dashi_fail(err, DASHI_E_BAD_VALUE, "N", "frames of different sizes (%u, %u)", fa->n, fb->n);
    size_t na = fa->count, nb = fb->count;
    struct cand *c = NULL;
    size_t nc = 0;
    int32_t *outdeg = calloc(na + 1, sizeof *outdeg), *indeg = calloc(nb + 1, sizeof *indeg);
    double *sum_child = calloc(na + 1, sizeof(double)), *sum_t = calloc(nb + 1, sizeof(double));
    double *sum_signed = calloc(nb + 1, sizeof(double));
    enum lineage_kind *child_event = calloc(nb + 1, sizeof *child_event);
    bool *splitting = calloc(na + 1, 1);
    if (!outdeg || !indeg || !sum_child || !sum_t || !sum_signed || !child_event || !splitting ||
        candidates(fa, fb, p, &c, &nc) != 0 || match_all(c, nc, na, nb, p->gate) != 0)
        goto oom;

    size_t nlinks = 0;
    for (size_t t = 0; t < nc; t++) {
        const struct atom *a = &fa->atoms[c[t].a], *b = &fb->atoms[c[t].b];
        uint32_t smaller = a->cells < b->cells ? a->cells : b->cells;
        c[t].shared = a->sigma == b->sigma && c[t].overlap > 0 && c[t].overlap >= p->min_overlap * smaller;
        if (!c[t].matched && !c[t].shared)
            continue;
        outdeg[c[t].a]++;
        indeg[c[t].b]++;
        sum_child[c[t].a] += b->gamma;
        nlinks++;
    }
    size_t nbirth = 0, ndeath = 0;
    for (size_t b = 0; b < nb; b++)
        nbirth += indeg[b] == 0;
    for (size_t a = 0; a < na; a++)
        ndeath += outdeg[a] == 0;
    out->edges = malloc((nlinks + nbirth + ndeath + 1) * sizeof *out->edges);
    out->audit = malloc((nb + ndeath + 1) * sizeof *out->audit);
    if (!out->edges || !out->audit)
        goto oom;

    /* Links, in (parent, child) order, with their transfers. */
    for (size_t t = 0; t < nc; t++) {
        if (!c[t].matched && !c[t].shared)
            continue;
        int32_t ia = c[t].a, ib = c[t].b;
        const struct atom *a = &fa->atoms[ia], *b = &fb->atoms[ib];
        double tr = sum_child[ia] > 0 ? a->gamma * b->gamma / sum_child[ia] : a->gamma / outdeg[ia];
        enum lineage_kind k = indeg[ib] >= 2 ? LINEAGE_MERGE : outdeg[ia] >= 2 ? LINEAGE_SPLIT : LINEAGE_CONTINUATION;
        sum_t[ib] += tr;
        sum_signed[ib] += a->sigma * tr;
        child_event[ib] = k;
        if (k == LINEAGE_SPLIT)
            splitting[ia] = true;
        if (k == LINEAGE_CONTINUATION)
            out->events[LINEAGE_CONTINUATION]++;
        double frac = k == LINEAGE_SPLIT ? (a->gamma > 0 ? tr / a->gamma : 1.0 / outdeg[ia]) : 1.0;
        out->edges[out->nedges++] = (struct lineage_edge){.parent = ia, .child = ib, .kind = k, .fraction = frac,
                                                          .transfer = tr};
    }
    /* Merge fractions need every parent's transfer into the child: a second pass. */
    for (size_t e = 0; e < out->nedges; e++) {
        struct lineage_edge *ed = &out->edges[e];
        if (ed->kind == LINEAGE_MERGE)
            ed->fraction = sum_t[ed->child] > 0 ? ed->transfer / sum_t[ed->child] : 1.0 / indeg[ed->child];
    }
    for (size_t a = 0; a < na; a++)
        out->events[LINEAGE_SPLIT] += splitting[a];
    for (size_t b = 0; b < nb; b++) {
        const struct atom *ab = &fb->atoms[b];
        struct audit_rec *r = &out->audit[out->naudit++];
        r->idx = (int32_t)b;
        r->at_parent = false;
        if (indeg[b] == 0) {
            out->edges[out->nedges++] = (struct lineage_edge){.parent = -1, .child = (int32_t)b,
                                                              .kind = LINEAGE_BIRTH, .fraction = 1,
                                                              .transfer = ab->gamma};
            out->events[LINEAGE_BIRTH]++;
            r->event = LINEAGE_BIRTH;
            r->residual = ab->gamma;
            r->signed_residual = ab->sigma * ab->gamma;
        } else {
            if (indeg[b] >= 2)
                out->events[LINEAGE_MERGE]++;
            r->event = child_event[b];
            r->residual = ab->gamma - sum_t[b];
            r->signed_residual = ab->sigma * ab->gamma - sum_signed[b];
            out->abs_residual += fabs(r->residual);
        }
        out->signed_residual += r->signed_residual;
    }
    for (size_t a = 0; a < na; a++) {
        if (outdeg[a] != 0)
            continue;
        const struct atom *aa = &fa->atoms[a];
        out->edges[out->nedges++] = (struct lineage_edge){.parent = (int32_t)a, .child = -1, .kind = LINEAGE_DEATH,
                                                          .fraction = 1, .transfer = aa->gamma};
        out->events[LINEAGE_DEATH]++;
        out->audit[out->naudit++] = (struct audit_rec){.idx = (int32_t)a, .at_parent = true, .event = LINEAGE_DEATH,
                                                       .residual = -aa->gamma,
                                                       .signed_residual = -aa->sigma * aa->gamma};
        out->signed_residual -= aa->sigma * aa->gamma;
    }
    free(c), free(outdeg), free(indeg), free(sum_child), free(sum_t), free(sum_signed), free(child_event);
    free(splitting);
    return 0;
oom:
    free(c), free(outdeg), free(indeg), free(sum_child), free(sum_t), free(sum_signed), free(child_event);
    free(splitting);
    thread_result_free(out);
    return dashi_fail(err, DASHI_E_INTERNAL, "", "out of host memory while threading atoms");
}
