#version 450
// The carrier and its connected components (daemon/num/atoms_gpu.c; host reference
// daemon/num/atoms.c), for a batch of frames:
//   TERNARY  plane 0 of frame b = ternary(clip(R / (max|R| + 1e-12), -1, 1), tau), the
//            formula of encode_carrier.comp, written where the closure reads it (b*2nn)
//   else     one iteration of the labelling of the closed carrier: 8-connected,
//            same-sign, periodic components, each cell ending with the lowest flat index
//            of its component (its root = the host's seed) and its offset (u, v) from
//            the root along some path of the component.
//
// Labelling: min-label propagation, deterministic because it is Jacobi everywhere (every
// value read is from the previous state, shared or global), so the result is a function
// of the carrier alone. Iteration t reads state src, writes state dst:
//   1. a 16×16 tile with a one-cell halo is loaded into shared memory and iterated to its
//      own fixed point: a cell takes the lowest label among itself and its same-sign
//      neighbours, with that neighbour's offset plus the step (ties keep the cell's own,
//      then the first neighbour in the host's order); the halo stays as loaded;
//   2. pointer jumping: a cell labelled L takes L's label in state src, adding offsets;
//   3. cells whose label changed are counted per frame (meta[META_CHANGED + t]).
// Iteration 0 starts from the carrier (label = own index, offset 0) and writes that start
// into src too, so that both states always hold a valid labelling. Once an iteration
// changed nothing, the two states are equal and later iterations of that frame return at
// once. At the fixed point every component holds its minimum index; the offsets are
// displacements along paths of the component, so for a component that does not wind
// around the torus they are its unique unwrapping; winding is detected afterwards.
#include "atoms_common.glsl"

#ifdef TERNARY
layout(local_size_x = 256) in;
void main()
{
    uint idx = cell_index(), nn = p.n * p.n;
    if (idx >= p.nb * nn)
        return;
    uint b = idx / nn, e = idx % nn;
    double x = real_planes[(2u * b + 1u) * nn + e] / (maxr[b] + 1e-12);
    x = clamp(x, -1.0, 1.0);
    carrier[2u * b * nn + e] = x >= p.tau ? 1 : (x <= -p.tau ? -1 : 0);
}
#else
layout(local_size_x = 16, local_size_y = 16) in;
const uint T = 16u, W = T + 2u;
shared uint sl[2][W * W];
shared ivec2 so[2][W * W];
shared int ss[W * W];
shared uint again[3];
shared uint nchanged;

void main()
{
    uint b = gl_WorkGroupID.z, n = p.n, nn = n * n, fb = b * nn;
    uint mb = b * p.meta_stride;
    if (p.iter > 0u && meta[mb + META_CHANGED + p.iter - 1u] == 0u)
        return; // converged: both states already hold the fixed point
    uint lid = gl_LocalInvocationIndex;
    int i0 = int(gl_WorkGroupID.y * T) - 1, j0 = int(gl_WorkGroupID.x * T) - 1;
    for (uint k = lid; k < W * W; k += 256u) {
        uint c = wrapi(i0 + int(k / W)) * n + wrapi(j0 + int(k % W));
        int s = carrier[2u * b * nn + c];
        ss[k] = s;
        uint l;
        ivec2 o;
        if (p.iter == 0u) {
            l = s != 0 ? c : NONE;
            o = ivec2(0);
        } else {
            l = lab[p.src + fb + c];
            o = off[p.src + fb + c];
        }
        sl[0][k] = l;
        so[0][k] = o;
        sl[1][k] = l;
        so[1][k] = o;
    }
    if (lid < 3u)
        again[lid] = 0u;
    if (lid == 0u)
        nchanged = 0u;
    barrier();

    uint ti = gl_LocalInvocationID.y, tj = gl_LocalInvocationID.x;
    uint gi = gl_WorkGroupID.y * T + ti, gj = gl_WorkGroupID.x * T + tj;
    bool inside = gi < n && gj < n;
    int me = int((ti + 1u) * W + tj + 1u);
    int sg = ss[me];
    bool live = inside && sg != 0;
    uint start = sl[0][me];
    uint cur = 0u;
    for (uint round = 0u;; round++) {
        uint nxt = cur ^ 1u;
        uint bl = sl[cur][me];
        ivec2 bo = so[cur][me];
        bool better = false;
        if (live) {
            for (int k = 0; k < 8; k++) {
                int q = me + STEP_DI[k] * int(W) + STEP_DJ[k];
                uint l = sl[cur][q];
                if (ss[q] == sg && l < bl) {
                    bl = l;
                    // the neighbour is at (u, v) + (dj, di) of this cell: this cell is at its
                    // offset minus the step
                    bo = so[cur][q] - ivec2(STEP_DJ[k], STEP_DI[k]);
                    better = true;
                }
            }
        }
        sl[nxt][me] = bl;
        so[nxt][me] = bo;
        if (lid == 0u)
            again[(round + 1u) % 3u] = 0u; // last read two rounds ago, next written after the barrier
        if (better)
            again[round % 3u] = 1u;
        barrier();
        cur = nxt;
        if (again[round % 3u] == 0u)
            break;
    }

    if (inside) {
        uint c = gi * n + gj;
        uint l = sl[cur][me];
        ivec2 o = so[cur][me];
        if (live && p.iter > 0u) {
            uint l2 = lab[p.src + fb + l];
            if (l2 < l) {
                o += off[p.src + fb + l];
                l = l2;
            }
        }
        lab[p.dst + fb + c] = l;
        off[p.dst + fb + c] = o;
        if (p.iter == 0u) { // the start, into src as well
            lab[p.src + fb + c] = start;
            off[p.src + fb + c] = ivec2(0);
        }
        if (l != start)
            atomicAdd(nchanged, 1u);
    }
    barrier();
    if (lid == 0u && nchanged != 0u)
        atomicAdd(meta[mb + META_CHANGED + p.iter], nchanged);
}
#endif
