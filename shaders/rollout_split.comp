#version 450
// The split product of fast f64 batches: out = Z · A computed from int8 digits, exactly
// in integers, on the tensor cores (docs/numerics.md, "Split product"). Each value is
// scaled by a power of two (per row of Z, per column of A) into (-1, 1) and cut into S
// signed 7-bit digits, most significant first: x = sum_i d_i 2^(-7(i+1)) + r, |r| < 2^(-7S).
// Products of digit planes i and j with i + j < S are summed in int32 (exact: at most
// S * Dp * 127^2 < 2^31), one accumulator per q = i + j; then
//   out = ldexp(sum over q = S-1 down to 0 of double(acc_q) * 2^(-7(q+2)), e_row + e_col),
// where every product is exact (a power of two), so the result does not depend on FMA
// contraction, on the device, or on which of the two GEMM kernels ran.
//
// Variants (shaders/variants.txt):
//  -DSLICE   digits of Z: one workgroup per (padded) row finds the row's exponent and
//            writes its S digit planes, four digits to a word; rows >= B are zeros.
//  -DMATRIX  the product on NV cooperative matrices (16×32 · 32×16 int8 → int32); the
//            digit count is compile-time here (-DSD=7 or 8).
//  (neither) the same integers with one invocation per output element (any device).
// Buffers: 0 = A's digits (S planes of Dp×Dp bytes), 1 = states (rollout_common.glsl),
// 2 = flags, 3 = Z's digits (S planes of Bp×Dp bytes), 4 = exponents (Dp columns of A
// then Bp rows of Z). Push constants as rollout_common.glsl: step, src, dst.
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
#extension GL_EXT_shader_explicit_arithmetic_types_int64 : require
#define SPLIT
#define F64
#include "rollout_common.glsl"

layout(constant_id = 0) const uint D = 1;
layout(constant_id = 1) const uint DP = 32; // D rounded up to 32
layout(constant_id = 2) const uint B = 1;
layout(constant_id = 3) const uint BP = 32; // B rounded up to 32
#ifndef MATRIX
layout(constant_id = 4) const uint S = 8; // digits per value (1..8)
#endif

// exps[c] = exponent of A's column c (c < DP); exps[DP + b] = exponent of Z's row b.
layout(std430, binding = 4) buffer Exponents { int exps[]; };

#if defined(SLICE)
layout(constant_id = 5) const uint NT = 128;
layout(local_size_x_id = 5) in;
layout(std430, binding = 3) writeonly buffer ZDigits { uint zd[]; };
shared double row_max[NT];

void main()
{
    uint b = gl_WorkGroupID.x, tid = gl_LocalInvocationID.x;
    double m = 0.0;
    if (b < B)
        for (uint k = tid; k < D; k += NT)
            m = max(m, abs(z[pc.src + b * D + k]));
    row_max[tid] = m;
    barrier();
    for (uint h = NT / 2u; h > 0u; h /= 2u) {
        if (tid < h)
            row_max[tid] = max(row_max[tid], row_max[tid + h]);
        barrier();
    }
    m = row_max[0];
    int e = 0;
    if (m > 0.0 && !isinf(m) && !isnan(m)) // a non-finite state is flagged by the step that made it
        frexp(m, e);                        // |z| <= m < 2^e
    if (tid == 0u)
        exps[DP + b] = e;
    const double unit = double(1ul << (7u * S)); // 2^(7S): X = floor(|z| 2^(7S-e)) < 2^56
    for (uint w = tid; w < DP / 4u; w += NT) {
        uint words[8] = uint[8](0u, 0u, 0u, 0u, 0u, 0u, 0u, 0u);
        [[unroll]] for (uint l = 0u; l < 4u; l++) {
            uint k = 4u * w + l;
            double v = (b < B && k < D) ? z[pc.src + b * D + k] : 0.0;
            uint64_t X = uint64_t(abs(ldexp(v, -e)) * unit);
            [[unroll]] for (uint i = 0u; i < 8u; i++) {
                if (i < S) {
                    int d = int(uint((X >> (7u * (S - 1u - i))) & 127ul));
                    if (v < 0.0)
                        d = -d;
                    words[i] |= (uint(d) & 255u) << (8u * l);
                }
            }
        }
        [[unroll]] for (uint i = 0u; i < 8u; i++)
            if (i < S)
                zd[i * BP * (DP / 4u) + b * (DP / 4u) + w] = words[i];
    }
}

#elif defined(MATRIX)
#extension GL_NV_cooperative_matrix : require
#extension GL_NV_integer_cooperative_matrix : require
#extension GL_EXT_shader_explicit_arithmetic_types_int8 : require
#extension GL_KHR_memory_scope_semantics : require
#extension GL_KHR_shader_subgroup_basic : require
// SD (7 or 8 digits): -D on the glslc line. A workgroup of four subgroups computes a 32×32
// tile, each subgroup a 16×16 quarter. Per 32-wide k-step the workgroup copies the digit
// blocks of its rows of Z and its columns of A (S × 32 × 32 bytes each) into shared
// memory, 16 bytes per load, the next step's blocks being fetched into registers while
// the current ones are multiplied. The matrices are named variables and the digit pairs
// written out: arrays of cooperative matrices indexed in loops were kept in memory by
// the driver.
const uint S = SD;
layout(local_size_x = 32, local_size_y = 4) in;
layout(std430, binding = 0) readonly buffer ADigits { uvec4 ad[]; };
layout(std430, binding = 3) readonly buffer ZDigits { uvec4 zd[]; };
const uint BLK = S * 64u;        // uvec4 per block: S planes × 32 rows × 2
const uint PER_T = 2u * BLK / 128u; // uvec4 each invocation copies per k-step
shared uvec4 zs[BLK];            // [plane][row][half]
shared uvec4 as4[BLK];           // [plane][k][half]
shared int tile[4u * 256u];

#define ZMAT icoopmatNV<8, gl_ScopeSubgroup, 16, 32>
#define AMAT icoopmatNV<8, gl_ScopeSubgroup, 32, 16>
#define CMAT icoopmatNV<32, gl_ScopeSubgroup, 16, 16>
#define ZLOAD(m, i) coopMatLoadNV(m, zs, ((i) * 32u + wr * 16u) * 2u, 2u, false)

// Element e < 2·BLK of the k-step's blocks at k0: e < BLK from Z, the rest from A.
uvec4 fetch(uint e, uint k0, uint row0, uint col0)
{
    const uint R = DP / 16u; // uvec4 per row of a plane
    uint x = e % BLK, plane = x / 64u, r = (x / 2u) % 32u, h = x % 2u;
    if (e < BLK)
        return zd[(plane * BP + row0 + r) * R + k0 / 16u + h];
    return ad[(plane * DP + k0 + r) * R + col0 / 16u + h];
}

// Folds accumulator q of this subgroup into v (q = S-1 down to 0).
void fold(CMAT acc, int q, uint w, uint lane, inout double v[8])
{
    coopMatStoreNV(acc, tile, w * 256u, 16u, false);
    subgroupMemoryBarrierShared();
    subgroupBarrier();
    double wq = ldexp(1.0, -7 * (q + 2));
    [[unroll]] for (uint e = 0u; e < 8u; e++)
        v[e] = v[e] + double(tile[w * 256u + lane + 32u * e]) * wq;
    subgroupBarrier();
}

void main()
{
    uint lane = gl_LocalInvocationID.x, w = gl_LocalInvocationID.y, tid = w * 32u + lane;
    uint wr = w & 1u, wc = w >> 1u;
    uint row0 = gl_WorkGroupID.y * 32u, col0 = gl_WorkGroupID.x * 32u;
    CMAT c0 = CMAT(0), c1 = CMAT(0), c2 = CMAT(0), c3 = CMAT(0), c4 = CMAT(0), c5 = CMAT(0), c6 = CMAT(0);
#if SD > 7
    CMAT c7 = CMAT(0);
#endif
    uvec4 next[PER_T];
    [[unroll]] for (uint q = 0u; q < PER_T; q++)
        next[q] = fetch(tid + 128u * q, 0u, row0, col0);
    for (uint k0 = 0u; k0 < DP; k0 += 32u) {
        [[unroll]] for (uint q = 0u; q < PER_T; q++) {
            uint e = tid + 128u * q;
            if (e < BLK)
                zs[e] = next[q];
            else
                as4[e - BLK] = next[q];
        }
        barrier();
        if (k0 + 32u < DP)
            [[unroll]] for (uint q = 0u; q < PER_T; q++)
                next[q] = fetch(tid + 128u * q, k0 + 32u, row0, col0);
        ZMAT z0, z1, z2, z3, z4, z5, z6;
        ZLOAD(z0, 0u); ZLOAD(z1, 1u); ZLOAD(z2, 2u); ZLOAD(z3, 3u); ZLOAD(z4, 4u); ZLOAD(z5, 5u); ZLOAD(z6, 6u);
#if SD > 7
        ZMAT z7;
        ZLOAD(z7, 7u);
#endif
        AMAT at; // digit plane j of A, times z_i into c_(i+j) for i + j < S
        coopMatLoadNV(at, as4, 0u * 64u + wc, 2u, false);
        c0 = coopMatMulAddNV(z0, at, c0);
        c1 = coopMatMulAddNV(z1, at, c1);
        c2 = coopMatMulAddNV(z2, at, c2);
        c3 = coopMatMulAddNV(z3, at, c3);
        c4 = coopMatMulAddNV(z4, at, c4);
        c5 = coopMatMulAddNV(z5, at, c5);
        c6 = coopMatMulAddNV(z6, at, c6);
#if SD > 7
        c7 = coopMatMulAddNV(z7, at, c7);
#endif
        coopMatLoadNV(at, as4, 1u * 64u + wc, 2u, false);
        c1 = coopMatMulAddNV(z0, at, c1);
        c2 = coopMatMulAddNV(z1, at, c2);
        c3 = coopMatMulAddNV(z2, at, c3);
        c4 = coopMatMulAddNV(z3, at, c4);
        c5 = coopMatMulAddNV(z4, at, c5);
        c6 = coopMatMulAddNV(z5, at, c6);
#if SD > 7
        c7 = coopMatMulAddNV(z6, at, c7);
#endif
        coopMatLoadNV(at, as4, 2u * 64u + wc, 2u, false);
        c2 = coopMatMulAddNV(z0, at, c2);
        c3 = coopMatMulAddNV(z1, at, c3);
        c4 = coopMatMulAddNV(z2, at, c4);
        c5 = coopMatMulAddNV(z3, at, c5);
        c6 = coopMatMulAddNV(z4, at, c6);
#if SD > 7
        c7 = coopMatMulAddNV(z5, at, c7);
#endif
        coopMatLoadNV(at, as4, 3u * 64u + wc, 2u, false);
        c3 = coopMatMulAddNV(z0, at, c3);
        c4 = coopMatMulAddNV(z1, at, c4);
        c5 = coopMatMulAddNV(z2, at, c5);
        c6 = coopMatMulAddNV(z3, at, c6);
#if SD > 7
        c7 = coopMatMulAddNV(z4, at, c7);
#endif
        coopMatLoadNV(at, as4, 4u * 64u + wc, 2u, false);
        c4 = coopMatMulAddNV(z0, at, c4);
        c5 = coopMatMulAddNV(z1, at, c5);
        c6 = coopMatMulAddNV(z2, at, c6);
#if SD > 7
        c7 = coopMatMulAddNV(z3, at, c7);
#endif
        coopMatLoadNV(at, as4, 5u * 64u + wc, 2u, false);
        c5 = coopMatMulAddNV(z0, at, c5);
        c6 = coopMatMulAddNV(z1, at, c6);
#if SD > 7
        c7 = coopMatMulAddNV(z2, at, c7);
#endif
        coopMatLoadNV(at, as4, 6u * 64u + wc, 2u, false);
        c6 = coopMatMulAddNV(z0, at, c6);
#if SD > 7
        c7 = coopMatMulAddNV(z1, at, c7);
#endif
#if SD > 7
        coopMatLoadNV(at, as4, 7u * 64u + wc, 2u, false);
#if SD > 7
        c7 = coopMatMulAddNV(z0, at, c7);
#endif
#endif
        barrier();
    }
    double v[8] = double[8](0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
#if SD > 7
    fold(c7, 7, w, lane, v);
#endif
    fold(c6, 6, w, lane, v);
    fold(c5, 5, w, lane, v);
    fold(c4, 4, w, lane, v);
    fold(c3, 3, w, lane, v);
    fold(c2, 2, w, lane, v);
    fold(c1, 1, w, lane, v);
    fold(c0, 0, w, lane, v);
    [[unroll]] for (uint e = 0u; e < 8u; e++) {
        uint t = lane + 32u * e, b = row0 + wr * 16u + t / 16u, c = col0 + wc * 16u + t % 16u;
        if (b < B && c < D)
            store_output(b * D + c, ldexp(v[e], exps[DP + b] + exps[c]));
    }
}

#else
layout(local_size_x = 16, local_size_y = 16) in;
layout(std430, binding = 0) readonly buffer ADigits { uint ad[]; };
layout(std430, binding = 3) readonly buffer ZDigits { uint zd[]; };

int digit(uint word, uint byte_index)
{
    return bitfieldExtract(int(word), int(8u * (byte_index & 3u)), 8);
}

void main()
{
    uint c = gl_GlobalInvocationID.x, b = gl_GlobalInvocationID.y;
    if (b >= B || c >= D)
        return;
    int acc[8] = int[8](0, 0, 0, 0, 0, 0, 0, 0);
    for (uint k = 0u; k < DP; k++) {
        int dz[8];
        [[unroll]] for (uint i = 0u; i < 8u; i++) {
            uint at = i * BP * DP + b * DP + k;
            dz[i] = i < S ? digit(zd[at / 4u], at) : 0;
        }
        [[unroll]] for (uint j = 0u; j < 8u; j++) {
            if (j < S) {
                uint at = j * DP * DP + k * DP + c;
                int da = digit(ad[at / 4u], at);
                [[unroll]] for (uint i = 0u; i < 8u; i++)
                    if (i + j < S)
                        acc[i + j] += dz[i] * da;
            }
        }
    }
    double v = 0.0;
    [[unroll]] for (int q = 7; q >= 0; q--)
        if (uint(q) < S)
            v = v + double(acc[q]) * ldexp(1.0, -7 * (q + 2));
    store_output(b * D + c, ldexp(v, exps[DP + b] + exps[c]));
}
#endif
