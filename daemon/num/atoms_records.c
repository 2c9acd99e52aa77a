/* SPDX-License-Identifier: MIT */
/* Records of the GPU reduction to atom frames (atoms_records.h). */
#include "atoms_records.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

_Static_assert(sizeof(struct atoms_gpu_rec) == 176, "struct atoms_gpu_rec must match AtomRec (std430)");

double atoms_gpu_rec_sum(const struct atoms_gpu_rec *r, int slot)
{
    /* |hi| < 2^60 and 2^k ≤ 2^62, so the product and the sum fit in 128 bits. */
    __int128 total = (__int128)r->acc[2 * slot] * ((__int128)1 << r->k) + r->acc[2 * slot + 1];
    int cls = slot < 2 ? 0 : slot < 4 ? 1 : 2;
    return ldexp((double)total, -r->q[cls]);
}

/* The atoms that wind around the torus, measured by the host walk: a carrier holding only
 * them goes through atoms_extract, whose walk from the same seed over the same cells is
 * the host's definition of their unwrapping. */
static int remeasure_winding(const struct atoms_gpu_rec *recs, uint32_t count, const int32_t *slot_labels,
                             const double *omega, uint32_t n, double box, struct atom *atoms,
                             struct dashi_error *err)
{
    size_t nn = (size_t)n * n;
    int8_t *s = calloc(nn, 1);
    if (!s)
        return dashi_fail(err, DASHI_E_INTERNAL, "", "out of host memory for the winding atoms");
    for (size_t c = 0; c < nn; c++) {
        int32_t l = slot_labels[c];
        if (l >= 0 && (recs[l].flags & ATOMS_GPU_WINDS))
            s[c] = (int8_t)recs[l].sigma;
    }
    struct atom_frame wf;
    int rc = atoms_extract(s, omega, n, box, &wf, err);
    free(s);
    if (rc != 0)
        return -1;
    for (size_t k = 0; k < wf.count && rc == 0; k++) {
        const struct atom *w = &wf.atoms[k];
        int32_t id = slot_labels[w->seed];
        if (id < 0 || (uint32_t)id >= count || recs[id].seed != w->seed || recs[id].cells != w->cells)
            rc = dashi_fail(err, DASHI_E_INTERNAL, "", "the GPU and host components at cell %u differ", w->seed);
        else
            atoms[id] = *w;
    }
    atom_frame_free(&wf);
    return rc;
}

int atoms_gpu_finish_frame(const struct atoms_gpu_rec *recs, uint32_t count, const int32_t *slot_labels,
                           const double *omega, uint32_t n, double box, struct atom_frame *frame, uint32_t *winding,
                           struct dashi_error *err)
{
    memset(frame, 0, sizeof *frame);
    size_t nn = (size_t)n * n;
    double dx = box / n;
    struct atom *atoms = calloc(count ? count : 1, sizeof *atoms); /* padding zeroed: reproducible bytes */
    int32_t *labels = malloc(nn * sizeof *labels);
    int32_t *remap = malloc((count ? count : 1) * sizeof *remap);
    if (!atoms || !labels || !remap) {
        free(atoms), free(labels), free(remap);
        return dashi_fail(err, DASHI_E_INTERNAL, "", "out of host memory for the atoms");
    }
    uint32_t nwind = 0;
    for (uint32_t id = 0; id < count; id++) {
        const struct atoms_gpu_rec *r = &recs[id];
        struct atom *a = &atoms[id];
        if (r->seed >= nn || r->cells == 0 || r->k < 0 || r->k > 62 || slot_labels[r->seed] != (int32_t)id) {
            free(atoms), free(labels), free(remap);
            return dashi_fail(err, DASHI_E_INTERNAL, "", "GPU atom record %u is inconsistent", id);
        }
        a->sigma = r->sigma;
        a->seed = r->seed;
        a->cells = r->cells;
        /* Σw is the cell count when every |ω| is 0 (w = 1), as on the host. */
        double total = atoms_gpu_rec_sum(r, 1);
        double mu = atoms_gpu_rec_sum(r, 2) / total, mv = atoms_gpu_rec_sum(r, 3) / total;
        /* Offsets are from the seed; the host's unwrapped coordinates start at the seed's. */
        atom_from_sums(a, atoms_gpu_rec_sum(r, 0), total, (double)(r->seed % n) + mu, (double)(r->seed / n) + mv,
                       atoms_gpu_rec_sum(r, 4), atoms_gpu_rec_sum(r, 5), atoms_gpu_rec_sum(r, 6), dx, box);
        nwind += (r->flags & ATOMS_GPU_WINDS) != 0;
    }
    if (nwind && remeasure_winding(recs, count, slot_labels, omega, n, box, atoms, err) != 0) {
        free(atoms), free(labels), free(remap);
        return -1;
    }
    qsort(atoms, count, sizeof *atoms, atom_order);
    /* The slot at an atom's seed is its pre-sort id: map it to the sorted index. */
    for (uint32_t k = 0; k < count; k++)
        remap[slot_labels[atoms[k].seed]] = (int32_t)k;
    for (size_t c = 0; c < nn; c++) {
        int32_t l = slot_labels[c];
        if (l >= (int32_t)count) {
            free(atoms), free(labels), free(remap);
            return dashi_fail(err, DASHI_E_INTERNAL, "", "GPU label %d at cell %zu past the %u atoms", l, c, count);
        }
        labels[c] = l >= 0 ? remap[l] : -1;
    }
    free(remap);
    frame->n = n;
    frame->count = count;
    frame->atoms = atoms;
    frame->labels = labels;
    if (winding)
        *winding = nwind;
    return 0;
}
