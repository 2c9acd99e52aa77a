#version 450
// Atom ids for a batch of labelled frames (daemon/num/atoms_gpu.c): the roots of a frame
// (cells whose label is their own index, i.e. the seeds) numbered 0, 1, ... in flat
// order, by an exclusive prefix sum in three passes over blocks of 1024 cells:
//   COUNT   roots per block                         -> scratch[nb*nn + b*nblk + block]
//   BLOCKS  one workgroup per frame: exclusive scan of its block counts in place, the
//           frame's atom count into meta (and the overflow flag when it exceeds cap)
//   ASSIGN  the id of each root -> scratch[b*nn + root]; the root also clears its
//           record and writes its seed and sign there.
// The final label state is at p.src. Every sum is an integer in a fixed order.
#include "atoms_common.glsl"

layout(local_size_x = 256) in;
const uint BLOCK = 1024u;
shared uint sh[256];

uint nblocks() { return (p.n * p.n + BLOCK - 1u) / BLOCK; }

bool is_root(uint b, uint c)
{
    uint nn = p.n * p.n;
    return c < nn && lab[p.src + b * nn + c] == c;
}

#ifdef BLOCKS
void main()
{
    uint t = gl_LocalInvocationID.x, b = gl_WorkGroupID.x, nn = p.n * p.n, nblk = nblocks();
    uint base = p.nb * nn + b * nblk;
    uint running = 0u;
    for (uint c0 = 0u; c0 < nblk; c0 += 256u) {
        uint v = c0 + t < nblk ? scratch[base + c0 + t] : 0u;
        sh[t] = v;
        barrier();
        for (uint d = 1u; d < 256u; d <<= 1u) { // inclusive Hillis-Steele scan
            uint add = t >= d ? sh[t - d] : 0u;
            barrier();
            sh[t] += add;
            barrier();
        }
        if (c0 + t < nblk)
            scratch[base + c0 + t] = running + sh[t] - v;
        running += sh[255];
        barrier();
    }
    if (t == 0u) {
        meta[b * p.meta_stride + META_COUNT] = running;
        meta[b * p.meta_stride + META_OVERFLOW] = running > p.cap ? 1u : 0u;
    }
}
#else
void main()
{
    uint t = gl_LocalInvocationID.x, blk = gl_WorkGroupID.x, b = gl_WorkGroupID.y, nn = p.n * p.n;
    uint c0 = blk * BLOCK + 4u * t;
    uint mine = 0u;
    for (uint e = 0u; e < 4u; e++)
        mine += is_root(b, c0 + e) ? 1u : 0u;
    sh[t] = mine;
    barrier();
#ifdef COUNT
    for (uint h = 128u; h > 0u; h >>= 1u) {
        if (t < h)
            sh[t] += sh[t + h];
        barrier();
    }
    if (t == 0u)
        scratch[p.nb * nn + b * nblocks() + blk] = sh[0];
#else // ASSIGN
    for (uint d = 1u; d < 256u; d <<= 1u) {
        uint add = t >= d ? sh[t - d] : 0u;
        barrier();
        sh[t] += add;
        barrier();
    }
    uint id = scratch[p.nb * nn + b * nblocks() + blk] + sh[t] - mine;
    for (uint e = 0u; e < 4u; e++) {
        uint c = c0 + e;
        if (!is_root(b, c))
            continue;
        scratch[b * nn + c] = id;
        if (id < p.cap) {
            uint r = b * p.cap + id;
            rec[r].seed = c;
            rec[r].sigma = carrier[2u * b * nn + c];
            rec[r].cells = 0u;
            rec[r].umax = 0u;
            rec[r].flags = 0u;
            rec[r].k = 0;
            rec[r].q = int[3](0, 0, 0);
            rec[r].pad = 0u;
            rec[r].maxw = 0ul;
            for (uint a = 0u; a < 14u; a++)
                rec[r].acc[a] = 0l;
            rec[r].mu_u = 0.0;
            rec[r].mu_v = 0.0;
        }
        id++;
    }
#endif
}
#endif
