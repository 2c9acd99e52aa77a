#version 450
// Per-atom reductions of a labelled batch (daemon/num/atoms_gpu.c), one invocation per cell,
// the label state at p.src, atom ids in scratch[b*nn + root]:
//   SHAPE    labels_out = atom id (-1 off the support); cells, umax, max |ω| by integer
//            atomics; the winding check: a same-sign neighbour whose offset is not this
//            cell's offset plus the step shows a path around the torus, flags bit 0
//   SUMS     Σω, Σw, Σw·u, Σw·v as fixed-point int64 sums (atoms_common.glsl); the root
//            writes the scale exponents
//   MOMENTS  the centroid (mu_u, mu_v) from those sums, then Σw·du², Σw·dv², Σw·du·dv
//            about it (two passes like the host, so no cancellation)
//   PACK     each root copies its record to the host-visible output
#include "atoms_common.glsl"

layout(local_size_x = 256) in;

void main()
{
    uint idx = cell_index(), nn = p.n * p.n;
    if (idx >= p.nb * nn)
        return;
    uint b = idx / nn, c = idx % nn;
    int s = carrier[2u * b * nn + c];
#ifdef SHAPE
    if (s == 0) {
        labels_out[idx] = -1;
        return;
    }
#else
    if (s == 0)
        return;
#endif
    uint root = lab[p.src + idx];
    uint id = scratch[b * nn + root];
    if (id >= p.cap) { // overflow: reported through meta, nothing written
#ifdef SHAPE
        labels_out[idx] = -1;
#endif
        return;
    }
    uint r = b * p.cap + id;
    ivec2 o = off[p.src + idx];
#ifdef SHAPE
    labels_out[idx] = int(id);
    double w = real_planes[2u * b * nn + c];
    atomicAdd(rec[r].cells, 1u);
    atomicMax(rec[r].umax, uint(max(abs(o.x), abs(o.y))));
    atomicMax(rec[r].maxw, doubleBitsToUint64(abs(w)));
    uint i = c / p.n, j = c % p.n;
    bool winds = false;
    for (int k = 0; k < 8; k++) {
        uint qc = wrapi(int(i) + STEP_DI[k]) * p.n + wrapi(int(j) + STEP_DJ[k]);
        if (carrier[2u * b * nn + qc] == s && off[p.src + b * nn + qc] != o + ivec2(STEP_DJ[k], STEP_DI[k]))
            winds = true;
    }
    if (winds)
        atomicOr(rec[r].flags, 1u);
#elif defined(SUMS)
    uint cells = rec[r].cells, umax = rec[r].umax;
    uint64_t maxw = rec[r].maxw;
    int k = fixed_k(cells), q0 = fixed_q(0u, cells, maxw, umax), q1 = fixed_q(1u, cells, maxw, umax);
    if (c == root) {
        rec[r].k = k;
        rec[r].q = int[3](q0, q1, fixed_q(2u, cells, maxw, umax));
    }
    double om = real_planes[2u * b * nn + c];
    double w = maxw == 0ul ? 1.0 : abs(om);
    fixed_add(r, 0u, om, q0, k);
    fixed_add(r, 1u, w, q0, k);
    precise double wu = w * double(o.x), wv = w * double(o.y);
    fixed_add(r, 2u, wu, q1, k);
    fixed_add(r, 3u, wv, q1, k);
#elif defined(MOMENTS)
    int q0 = rec[r].q[0], q1 = rec[r].q[1], q2 = rec[r].q[2];
    double total = fixed_value(r, 1u, q0);
    double mu_u = fixed_value(r, 2u, q1) / total, mu_v = fixed_value(r, 3u, q1) / total;
    if (c == root) {
        rec[r].mu_u = mu_u;
        rec[r].mu_v = mu_v;
    }
    double om = real_planes[2u * b * nn + c];
    double w = rec[r].maxw == 0ul ? 1.0 : abs(om);
    precise double du = double(o.x) - mu_u, dv = double(o.y) - mu_v;
    precise double tuu = w * du * du, tvv = w * dv * dv, tuv = w * du * dv;
    int k = rec[r].k;
    fixed_add(r, 4u, tuu, q2, k);
    fixed_add(r, 5u, tvv, q2, k);
    fixed_add(r, 6u, tuv, q2, k);
#else // PACK
    if (c == root)
        rec_out[r] = rec[r];
#endif
}
