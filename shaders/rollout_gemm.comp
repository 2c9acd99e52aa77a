#version 450
// Batches (B >= 8): out = Z · A as a tiled GEMM with the k dimension split inside the
// workgroup. A workgroup computes a BM×BN tile of out (BM batch rows, BN outputs); its
// invocations form SK slices of NY×NX, each invocation accumulating a TM×TN register
// tile (rows ty + m*NY, columns tx + n*NX: strided, so shared-memory reads do not
// conflict). The workgroup stages BK consecutive k of Z and A in shared memory (the
// next stage is fetched into registers while the current one is used); slice g uses
// the k ≡ g (mod SK) of each stage, in increasing k. The SK partial tiles are then
// added pairwise through shared memory: (s0+s1), (s2+s3), ... then ((s0+s1)+(s2+s3)), ...
//
// -DEXACT (SK = 16, BK a multiple of 16): slice p is exactly partial p of exact mode
// (k = p, p+16, ... from +0, every product rounded before its addition: `precise`) and
// the pairwise reduction is exactly its fixed tree, so results equal rollout_gemv.comp
// and the C loop bit for bit (docs/numerics.md). Without it (fast mode) contraction into
// FMA is used; the order is still fixed by the tile shape, so runs are deterministic.
// Dispatch: (ceil(D/BN), ceil(B/BM), 1) with local size (NX, NY, SK).
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
#include "rollout_common.glsl"

#ifdef EXACT
#define PRECISE precise
#else
#define PRECISE
#endif

layout(constant_id = 0) const uint D = 1;
layout(constant_id = 1) const uint B = 1;
layout(constant_id = 2) const uint BM = 32;
layout(constant_id = 3) const uint BN = 48;
layout(constant_id = 4) const uint TM = 4;
layout(constant_id = 5) const uint TN = 6;
layout(constant_id = 6) const uint NX = 8; // BN / TN
layout(constant_id = 7) const uint NY = 8; // BM / TM
layout(constant_id = 8) const uint BK = 16;
layout(constant_id = 9) const uint SK = 4; // a power of two dividing BK
layout(local_size_x_id = 6, local_size_y_id = 7, local_size_z_id = 9) in;

const uint NT = NX * NY * SK;
const uint LZ = (BK * BM + NT - 1u) / NT; // stage elements each invocation loads
const uint LA = (BK * BN + NT - 1u) / NT;
const uint KS = BK / SK; // k per slice per stage

// One shared array: during the k loop the stage, zs[kk*BM + m] = Z[b0+m][k0+kk] at 0
// and as[kk*BN + n] = A[k0+kk][j0+n] at AS; after it the reduction's partial tiles.
const uint AS = BK * BM;
const uint STAGE = BK * (BM + BN);
const uint RED = ((SK + 1u) / 2u) * BM * BN;
shared REAL sm[STAGE > RED ? STAGE : RED];

void fetch(uint k0, uint tid, uint j0, uint b0, inout REAL rz[LZ], inout REAL ra[LA])
{
    [[unroll]] for (uint q = 0u; q < LZ; q++) {
        uint e = tid + q * NT;
        uint kk = e % BK, m = e / BK;
        uint b = b0 + m, k = k0 + kk;
        rz[q] = (e < BK * BM && b < B && k < D) ? z[pc.src + b * D + k] : REAL(0);
    }
    [[unroll]] for (uint q = 0u; q < LA; q++) {
        uint e = tid + q * NT;
        uint n = e % BN, kk = e / BN;
        uint j = j0 + n, k = k0 + kk;
        ra[q] = (e < BK * BN && j < D && k < D) ? a[k * D + j] : REAL(0);
    }
}

void main()
{
    uint tx = gl_LocalInvocationID.x, ty = gl_LocalInvocationID.y, g = gl_LocalInvocationID.z;
    uint tid = (g * NY + ty) * NX + tx;
    uint j0 = gl_WorkGroupID.x * BN, b0 = gl_WorkGroupID.y * BM;
    PRECISE REAL acc[TM * TN];
    [[unroll]] for (uint q = 0u; q < TM * TN; q++)
        acc[q] = REAL(0);
    REAL rz[LZ], ra[LA];
    fetch(0u, tid, j0, b0, rz, ra);
    for (uint k0 = 0u; k0 < D; k0 += BK) {
        [[unroll]] for (uint q = 0u; q < LZ; q++) {
            uint e = tid + q * NT;
            if (e < BK * BM)
                sm[(e % BK) * BM + e / BK] = rz[q];
        }
        [[unroll]] for (uint q = 0u; q < LA; q++) {
            uint e = tid + q * NT;
            if (e < BK * BN)
                sm[AS + e] = ra[q];
        }
        barrier();
        if (k0 + BK < D)
            fetch(k0 + BK, tid, j0, b0, rz, ra);
        [[unroll]] for (uint q = 0u; q < KS; q++) {
            uint kk = g + q * SK;
            if (k0 + kk < D) { // the same for the whole slice
                REAL zr[TM], ar[TN];
                [[unroll]] for (uint m = 0u; m < TM; m++)
                    zr[m] = sm[kk * BM + ty + m * NY];
                [[unroll]] for (uint n = 0u; n < TN; n++)
                    ar[n] = sm[AS + kk * BN + tx + n * NX];
                [[unroll]] for (uint m = 0u; m < TM; m++)
                    [[unroll]] for (uint n = 0u; n < TN; n++) {
#ifdef EXACT
                        PRECISE REAL prod = zr[m] * ar[n];
                        acc[m * TN + n] = acc[m * TN + n] + prod;
#else
                        acc[m * TN + n] = fma(zr[m], ar[n], acc[m * TN + n]);
#endif
                    }
            }
        }
        barrier();
    }
    // Pairwise reduction of the slices: at distance h, slice g (g mod 2h == h) hands its
    // tile to slice g - h through partial tile g / 2h of sm (the loop ended on a barrier).
    for (uint h = 1u; h < SK; h *= 2u) {
        uint slot = (g / (2u * h)) * BM * BN + ty * NX + tx;
        if (g % (2u * h) == h) {
            [[unroll]] for (uint q = 0u; q < TM * TN; q++)
                sm[slot + q * NX * NY] = acc[q];
        }
        barrier();
        if (g % (2u * h) == 0u) {
            [[unroll]] for (uint q = 0u; q < TM * TN; q++)
                acc[q] = acc[q] + sm[slot + q * NX * NY];
        }
        barrier();
    }
    if (g != 0u)
        return;
    [[unroll]] for (uint m = 0u; m < TM; m++) {
        uint b = b0 + ty + m * NY;
        [[unroll]] for (uint n = 0u; n < TN; n++) {
            uint j = j0 + tx + n * NX;
            if (b < B && j < D)
                store_output(b * D + j, acc[m * TN + n]);
        }
    }
}
