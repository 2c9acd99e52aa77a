#version 450
// C = A·Bᵀ in float64 for the ridge fit (daemon/num/ridge_gpu.c): C(i,j) = Σ_k A(i,k)·B(j,k)
// over k < K, with A (M×K), B (N×K) and C (M×N) row-major views into one buffer:
// A(i,k) = m[a_off + i*lda + k], B(j,k) = m[b_off + j*ldb + k], C(i,j) = m[c_off + i*ldc + j].
// Every other product the fit needs is this one of transposed copies (ridge_transpose).
// Each C(i,j) is 0 + a0·b0 + a1·b1 + ... in ascending k with every product and sum
// rounded on its own (`precise`: no FMA contraction), which is the order and rounding of
// the reference BLAS dgemm: the result equals the host path's (checked bit for bit on
// lavapipe and the H100).
// A workgroup computes a 64×64 tile of C through shared 16-deep slices of A and B; each
// invocation owns a 4×4 register tile (rows ty + 16a, columns tx + 16b).
// Dispatch: (ceil(N/64), ceil(M/64), 1).
#extension GL_EXT_shader_explicit_arithmetic_types_float64 : enable
#extension GL_EXT_control_flow_attributes : enable
layout(local_size_x = 16, local_size_y = 16) in;
layout(std430, binding = 0) buffer Mat { double m[]; };
layout(push_constant) uniform P {
    uint M, N, K;
    uint a_off, lda, b_off, ldb, c_off, ldc;
} p;

const uint BT = 64u, BK = 16u;
shared double as_[BK][BT + 1u];
shared double bs[BK][BT + 1u];

void main()
{
    uint tx = gl_LocalInvocationID.x, ty = gl_LocalInvocationID.y, tid = ty * 16u + tx;
    uint i0 = gl_WorkGroupID.y * BT, j0 = gl_WorkGroupID.x * BT;
    double acc[16];
    [[unroll]] for (uint q = 0u; q < 16u; q++)
        acc[q] = 0.0;
    for (uint k0 = 0u; k0 < p.K; k0 += BK) {
        for (uint e = tid; e < BK * BT; e += 256u) { // neighbours read neighbouring k
            uint kk = e % BK, r = e / BK, k = k0 + kk;
            as_[kk][r] = (k < p.K && i0 + r < p.M) ? m[p.a_off + (i0 + r) * p.lda + k] : 0.0;
            bs[kk][r] = (k < p.K && j0 + r < p.N) ? m[p.b_off + (j0 + r) * p.ldb + k] : 0.0;
        }
        barrier();
        uint kn = min(BK, p.K - k0); // the padding is never added: 0 + x would still be x, but -0 would not
        for (uint kk = 0u; kk < kn; kk++)
            [[unroll]] for (uint a = 0u; a < 4u; a++)
                [[unroll]] for (uint b = 0u; b < 4u; b++) {
                    precise double prod = as_[kk][ty + 16u * a] * bs[kk][tx + 16u * b];
                    precise double s = acc[a * 4u + b] + prod;
                    acc[a * 4u + b] = s;
                }
        barrier();
    }
    [[unroll]] for (uint a = 0u; a < 4u; a++)
        [[unroll]] for (uint b = 0u; b < 4u; b++) {
            uint i = i0 + ty + 16u * a, j = j0 + tx + 16u * b;
            if (i < p.M && j < p.N)
                m[p.c_off + i * p.ldc + j] = acc[a * 4u + b];
        }
}
