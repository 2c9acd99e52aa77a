#version 450
// Fast batches in blocks of steps (rollout_block.h): out = Z · [A, A², ..., A^mb], the
// states after mb steps at once from one state, as one wide GEMM. Z is B×D at element
// src of `z`; the powers are D×D blocks of `p` (block i holds A^(i+1)); output column
// c = i·D + j is element j of the state i+1 steps on, written to dst + i·B·D + b·D + j.
// The same kernel builds the powers (B = D rows: A^(i+2) = A^(i+1) · A, columns < D).
//
// A workgroup computes a BM×BN tile of out with NX×NY invocations; invocation (tx, ty)
// owns RP row pairs (2(ty + r·NY), +1) and CP column pairs (2(tx + c·NX), +1), so that
// every shared-memory read is a two-element vector: one broadcast per row pair, one
// contiguous run per column pair across the warp. BK consecutive k are staged in shared
// memory, double-buffered (one barrier per stage), the next stage being fetched from
// global memory while the current one is used. The order of every sum is fixed by the
// tile shape (k increasing, contracted into FMA): deterministic run to run.
// Dispatch: (ceil(B/BM), ceil(ncols/BN), 1) with local size NX·NY: the row tiles
// that share a column tile of the powers run together, so the powers (larger than the
// L2 cache for long blocks) are read from memory about once.
#extension GL_EXT_control_flow_attributes : require

#ifdef F64
#define REAL double
#define REAL2 dvec2
#else
#define REAL float
#define REAL2 vec2
#endif

layout(constant_id = 0) const uint D = 1;
layout(constant_id = 1) const uint B = 1;
layout(constant_id = 2) const uint BM = 128;
layout(constant_id = 3) const uint BN = 128;
layout(constant_id = 4) const uint NX = 16; // BN / (2 CP)
layout(constant_id = 5) const uint NY = 16; // BM / (2 RP)
layout(constant_id = 10) const uint NT = 256; // NX·NY, the local size
layout(constant_id = 6) const uint BK = 8;
layout(constant_id = 7) const uint RP = 4;
layout(constant_id = 8) const uint CP = 4;
// Invocations are numbered tid = 0..NX·NY-1 (local size NX·NY, 1, 1). WX = 0: tid = ty·NX
// + tx. Otherwise each 32 consecutive tid (one subgroup on NVIDIA) form a patch of WX
// columns by 32/WX rows of invocations, so that a subgroup's shared-memory reads of a
// k touch 32/WX row pairs and WX column pairs instead of 32/NX and NX.
layout(constant_id = 9) const uint WX = 0;
layout(local_size_x_id = 10) in;

layout(std430, binding = 0) readonly buffer Powers { REAL p[]; };
// The same buffer as pairs: with D even, the two columns of a fetched pair (even c) are
// adjacent and aligned, one vector load.
layout(std430, binding = 0) readonly buffer PowerPairs { REAL2 p2[]; };
layout(std430, binding = 1) buffer States { REAL z[]; };
// flags[0]: smallest step index (within the run, 1-based) whose state holds a NaN/Inf.
layout(std430, binding = 2) buffer Flags { uint first_bad_step; };

// step: index within the run of the first state written (output column block 0).
layout(push_constant) uniform Push {
    uint step;
    uint src;
    uint dst;
    uint ncols;
} pc;

const uint LZ = BK * BM / 2u / NT; // stage pairs each invocation loads (the host checks
const uint LA = BK * BN / 2u / NT; // that they divide evenly)
const uint ZW = BM / 2u + 1u; // row of the Z stage in pairs, padded against bank conflicts
const uint AW = BN / 2u;
shared REAL2 zs[2u * BK * ZW]; // zs[(s*BK + kk)*ZW + m/2][m%2] = Z[b0+m][k0+kk]
shared REAL2 as[2u * BK * AW]; // as[(s*BK + kk)*AW + n/2][n%2] = P[k0+kk][c0+n]

// Each invocation fetches whole pairs (two rows of Z at one k, two columns of the powers
// at one k) and stores each pair as one vector: no two invocations write parts of the
// same vector. Consecutive invocations take consecutive k of Z (its rows are contiguous
// in k) and consecutive column pairs of the powers.
REAL z_at(uint b, uint k)
{
    return (b < B && k < D) ? z[pc.src + b * D + k] : REAL(0);
}

// Index in p of output column c (= i·D + j: column j of power i+1) at row k.
uint p_index(uint c, uint k)
{
    uint i = c / D;
    return i * D * D + k * D + (c - i * D);
}

REAL p_at(uint c, uint k)
{
    return (c < pc.ncols && k < D) ? p[p_index(c, k)] : REAL(0);
}

REAL2 p_pair(uint c, uint k)
{
    if (D % 2u != 0u)
        return REAL2(p_at(c, k), p_at(c + 1u, k));
    return (c < pc.ncols && k < D) ? p2[p_index(c, k) / 2u] : REAL2(0);
}

void fetch(uint k0, uint tid, uint b0, uint c0, inout REAL2 rz[LZ], inout REAL2 ra[LA])
{
    [[unroll]] for (uint q = 0u; q < LZ; q++) {
        uint e = tid + q * NT;
        uint b = b0 + 2u * (e / BK), k = k0 + e % BK;
        rz[q] = REAL2(z_at(b, k), z_at(b + 1u, k));
    }
    [[unroll]] for (uint q = 0u; q < LA; q++) {
        uint e = tid + q * NT;
        uint c = c0 + 2u * (e % AW), k = k0 + e / AW;
        ra[q] = p_pair(c, k);
    }
}

void stash(uint s, uint tid, REAL2 rz[LZ], REAL2 ra[LA])
{
    [[unroll]] for (uint q = 0u; q < LZ; q++) {
        uint e = tid + q * NT;
        zs[(s * BK + e % BK) * ZW + e / BK] = rz[q];
    }
    [[unroll]] for (uint q = 0u; q < LA; q++) {
        uint e = tid + q * NT;
        as[(s * BK + e / AW) * AW + e % AW] = ra[q];
    }
}

void main()
{
    uint tid = gl_LocalInvocationID.x, tx, ty;
    if (WX == 0u) {
        tx = tid % NX;
        ty = tid / NX;
    } else {
        const uint WY = 32u / max(WX, 1u), patches_x = NX / max(WX, 1u); // WX > 0 here
        uint group = tid / 32u, lane = tid % 32u;
        tx = (group % patches_x) * WX + lane % WX;
        ty = (group / patches_x) * WY + lane / WX;
    }
    uint b0 = gl_WorkGroupID.x * BM, c0 = gl_WorkGroupID.y * BN;
    REAL acc[2u * RP * 2u * CP];
    [[unroll]] for (uint q = 0u; q < 4u * RP * CP; q++)
        acc[q] = REAL(0);
    REAL2 rz[LZ], ra[LA];
    fetch(0u, tid, b0, c0, rz, ra);
    stash(0u, tid, rz, ra);
    barrier();
    const uint stages = (D + BK - 1u) / BK;
    for (uint t = 0u; t < stages; t++) {
        uint s = t % 2u;
        if (t + 1u < stages)
            fetch((t + 1u) * BK, tid, b0, c0, rz, ra);
        [[unroll]] for (uint kk = 0u; kk < BK; kk++) {
            REAL2 zv[RP], av[CP];
            [[unroll]] for (uint r = 0u; r < RP; r++)
                zv[r] = zs[(s * BK + kk) * ZW + ty + r * NY];
            [[unroll]] for (uint c = 0u; c < CP; c++)
                av[c] = as[(s * BK + kk) * AW + tx + c * NX];
            [[unroll]] for (uint r = 0u; r < RP; r++)
                [[unroll]] for (uint u = 0u; u < 2u; u++)
                    [[unroll]] for (uint c = 0u; c < CP; c++)
                        [[unroll]] for (uint v = 0u; v < 2u; v++) {
                            uint q = ((2u * r + u) * CP + c) * 2u + v;
                            acc[q] = fma(zv[r][u], av[c][v], acc[q]);
                        }
        }
        // The other buffer was last read in stage t-1, which every invocation finished
        // before the barrier that ended it.
        if (t + 1u < stages)
            stash(1u - s, tid, rz, ra);
        barrier();
    }
    [[unroll]] for (uint r = 0u; r < RP; r++)
        [[unroll]] for (uint u = 0u; u < 2u; u++) {
            uint b = b0 + 2u * (ty + r * NY) + u;
            [[unroll]] for (uint c = 0u; c < CP; c++)
                [[unroll]] for (uint v = 0u; v < 2u; v++) {
                    uint col = c0 + 2u * (tx + c * NX) + v;
                    if (b < B && col < pc.ncols) {
                        uint i = col / D;
                        REAL x = acc[((2u * r + u) * CP + c) * 2u + v];
                        z[pc.dst + i * B * D + b * D + (col - i * D)] = x;
                        if (isnan(x) || isinf(x))
                            atomicMin(first_bad_step, pc.step + i);
                    }
                }
        }
}
