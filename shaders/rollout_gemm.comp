#version 450
// Fast mode for batches: out = Z · A as a tiled GEMM. A workgroup computes a BM×BN tile
// of out (BM batch rows, BN outputs) through shared-memory tiles of BK columns (the
// next tile is fetched into registers while the current one is used); each
// invocation accumulates a TM×TN register tile, rows ty + m*(BM/TM), columns
// tx + n*(BN/TN) (strided so shared-memory reads do not conflict). Contraction into FMA
// is allowed; the order is fixed by the tiling, so runs are deterministic on a device.
// Dispatch: (ceil(D/BN), ceil(B/BM), 1) with local size (BN/TN, BM/TM).
#extension GL_GOOGLE_include_directive : require
#include "rollout_common.glsl"

layout(constant_id = 0) const uint D = 1;
layout(constant_id = 1) const uint B = 1;
layout(constant_id = 2) const uint BM = 32;
layout(constant_id = 3) const uint BN = 64;
layout(constant_id = 4) const uint TM = 2;
layout(constant_id = 5) const uint TN = 4;
layout(constant_id = 6) const uint NX = 16; // BN / TN
layout(constant_id = 7) const uint NY = 16; // BM / TM
layout(constant_id = 8) const uint BK = 16;
layout(local_size_x_id = 6, local_size_y_id = 7, local_size_z = 1) in;

const uint NT = NX * NY;
const uint LZ = (BK * BM + NT - 1) / NT; // tile elements each invocation loads
const uint LA = (BK * BN + NT - 1) / NT;

shared REAL zs[BK * BM];
shared REAL as_[BK * BN];

// The next k-tile is fetched into registers while the current one is multiplied.
void fetch(uint k0, uint tid, uint j0, uint b0, inout REAL rz[LZ], inout REAL ra[LA])
{
    for (uint q = 0; q < LZ; q++) {
        uint e = tid + q * NT;
        uint kk = e % BK, m = e / BK;
        uint b = b0 + m, k = k0 + kk;
        rz[q] = (e < BK * BM && b < B && k < D) ? z[pc.src + b * D + k] : REAL(0);
    }
    for (uint q = 0; q < LA; q++) {
        uint e = tid + q * NT;
        uint n = e % BN, kk = e / BN;
        uint j = j0 + n, k = k0 + kk;
        ra[q] = (e < BK * BN && j < D && k < D) ? a[k * D + j] : REAL(0);
    }
}

void main()
{
    uint tx = gl_LocalInvocationID.x, ty = gl_LocalInvocationID.y;
    uint tid = ty * NX + tx;
    uint j0 = gl_WorkGroupID.x * BN, b0 = gl_WorkGroupID.y * BM;
    REAL acc[TM * TN];
    for (uint q = 0; q < TM * TN; q++)
        acc[q] = REAL(0);
    REAL rz[LZ], ra[LA];
    fetch(0, tid, j0, b0, rz, ra);
    for (uint k0 = 0; k0 < D; k0 += BK) {
        for (uint q = 0; q < LZ; q++) {
            uint e = tid + q * NT;
            if (e < BK * BM)
                zs[(e % BK) * BM + e / BK] = rz[q];
        }
        for (uint q = 0; q < LA; q++) {
            uint e = tid + q * NT;
            if (e < BK * BN)
                as_[(e / BN) * BN + e % BN] = ra[q];
        }
        barrier();
        if (k0 + BK < D)
            fetch(k0 + BK, tid, j0, b0, rz, ra);
        for (uint kk = 0; kk < BK; kk++) {
            REAL zr[TM], ar[TN];
            for (uint m = 0; m < TM; m++)
                zr[m] = zs[kk * BM + ty + m * NY];
            for (uint n = 0; n < TN; n++)
                ar[n] = as_[kk * BN + tx + n * NX];
            for (uint m = 0; m < TM; m++)
                for (uint n = 0; n < TN; n++)
                    acc[m * TN + n] = fma(zr[m], ar[n], acc[m * TN + n]);
        }
        barrier();
    }
    for (uint m = 0; m < TM; m++) {
        uint b = b0 + ty + m * NY;
        for (uint n = 0; n < TN; n++) {
            uint j = j0 + tx + n * NX;
            if (b < B && j < D)
                store_output(b * D + j, acc[m * TN + n]);
        }
    }
}
