#version 450
// out[b][j] = sum_i z[b][i] * A[i][j] with the fixed summation order of exact mode
// (docs/numerics.md, "Rollout"): P = 16 partial sums, partial p adds the products of
// i = p, p+16, p+32, ... in increasing i starting from +0, then the fixed pairwise tree
// ((s0+s1)+(s2+s3))+... over the 16 partials. With -DEXACT every operation is `precise`,
// so no driver may contract it into FMA or reorder it; without it (fast GEMV) the same
// order is used but contraction is allowed.
// Workgroup: x = OUT_WG consecutive outputs j, y = the 16 partials; RB batch rows share
// every load of A. Dispatch: (ceil(D/OUT_WG), ceil(B/RB), 1).
#extension GL_GOOGLE_include_directive : require
#include "rollout_common.glsl"

#ifdef EXACT
#define PRECISE precise
#else
#define PRECISE
#endif

#define P 16u
#define U 8u
layout(constant_id = 0) const uint D = 1;
layout(constant_id = 1) const uint B = 1;
layout(constant_id = 2) const uint OUT_WG = 8;
layout(constant_id = 3) const uint RB = 1;
layout(local_size_x_id = 2, local_size_y = 16, local_size_z = 1) in;

shared REAL part[RB * P * OUT_WG];

void main()
{
    uint jj = gl_LocalInvocationID.x;
    uint p = gl_LocalInvocationID.y;
    uint j = gl_WorkGroupID.x * OUT_WG + jj;
    uint b0 = gl_WorkGroupID.y * RB;
    PRECISE REAL s[RB];
    for (uint r = 0; r < RB; r++)
        s[r] = REAL(0);
    if (j < D) {
        // U terms of a partial per pass: their loads are all issued before the (ordered)
        // additions, so the loop is not one memory latency per term.
        uint i = p;
        for (; i + (U - 1) * P < D; i += U * P) {
            REAL av[U];
            for (uint u = 0; u < U; u++)
                av[u] = a[(i + u * P) * D + j];
            for (uint r = 0; r < RB; r++) {
                if (b0 + r < B) {
                    REAL zv[U];
                    for (uint u = 0; u < U; u++)
                        zv[u] = z[pc.src + (b0 + r) * D + i + u * P];
                    for (uint u = 0; u < U; u++) {
                        PRECISE REAL prod = zv[u] * av[u];
                        s[r] = s[r] + prod;
                    }
                }
            }
        }
        for (; i < D; i += P) {
            REAL av = a[i * D + j];
            for (uint r = 0; r < RB; r++) {
                if (b0 + r < B) {
                    PRECISE REAL prod = z[pc.src + (b0 + r) * D + i] * av;
                    s[r] = s[r] + prod;
                }
            }
        }
    }
    for (uint r = 0; r < RB; r++)
        part[(r * P + p) * OUT_WG + jj] = s[r];
    barrier();
    if (j >= D)
        return;
    for (uint r = p; r < RB; r += P) {
        if (b0 + r >= B)
            break;
        uint base = r * P * OUT_WG + jj;
        REAL v[16];
        for (uint q = 0; q < 16; q++)
            v[q] = part[base + q * OUT_WG];
        PRECISE REAL t0 = v[0] + v[1], t1 = v[2] + v[3], t2 = v[4] + v[5], t3 = v[6] + v[7];
        PRECISE REAL t4 = v[8] + v[9], t5 = v[10] + v[11], t6 = v[12] + v[13], t7 = v[14] + v[15];
        PRECISE REAL u0 = t0 + t1, u1 = t2 + t3, u2 = t4 + t5, u3 = t6 + t7;
        PRECISE REAL w0 = u0 + u1, w1 = u2 + u3;
        PRECISE REAL outv = w0 + w1;
        store_output((b0 + r) * D + j, outv);
    }
}
