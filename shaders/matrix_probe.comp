#version 450
// Arithmetic throughput probe (bench/matrix.c): every subgroup runs ITERS rounds of four
// independent multiply-adds, then folds them into out[] so nothing is optimised away.
//  -DINT8  16×32 · 32×16 int8 → int32 cooperative matrices (8192 multiply-adds each)
//  -DFP16  16×16 · 16×16 fp16 → fp32 cooperative matrices (4096 each)
//  (none)  scalar f64 fma, four chains per invocation
#extension GL_EXT_shader_explicit_arithmetic_types : require
layout(constant_id = 0) const uint ITERS = 1024;
layout(local_size_x = 32, local_size_y = 4) in;
layout(std430, binding = 0) buffer Data { int seed; int flag; double out_d; };
#ifdef INT8
layout(std430, binding = 1) buffer Out { int32_t out_m[]; };
#else
layout(std430, binding = 1) buffer Out { float out_m[]; };
#endif

#if defined(INT8) || defined(FP16)
#extension GL_NV_cooperative_matrix : require
#extension GL_NV_integer_cooperative_matrix : require
#extension GL_KHR_memory_scope_semantics : require
#ifdef INT8
#define AM icoopmatNV<8, gl_ScopeSubgroup, 16, 32>
#define BM icoopmatNV<8, gl_ScopeSubgroup, 32, 16>
#define CM icoopmatNV<32, gl_ScopeSubgroup, 16, 16>
#define ELEM(x) int8_t(x)
#define ACC0 int32_t(0)
#else
#define AM fcoopmatNV<16, gl_ScopeSubgroup, 16, 16>
#define BM fcoopmatNV<16, gl_ScopeSubgroup, 16, 16>
#define CM fcoopmatNV<32, gl_ScopeSubgroup, 16, 16>
#define ELEM(x) float16_t(x)
#define ACC0 float(0)
#endif
// LOAD_U4 / LOAD_I8 (int8 only): every round loads both operands from shared memory
// (2 KiB per subgroup, never written: only the load cost is measured), seen as uvec4
// or as int8_t.
#if defined(LOAD_U4)
#define LOAD
shared uvec4 src[4u * 128u];
#define LOAD_A(m, at) coopMatLoadNV(m, src, (at) / 16u, 2u, false)
#define LOAD_B(m, at) coopMatLoadNV(m, src, (at) / 16u, 1u, false)
#elif defined(LOAD_I8)
#define LOAD
shared int8_t src[4u * 2048u];
#define LOAD_A(m, at) coopMatLoadNV(m, src, (at), 32u, false)
#define LOAD_B(m, at) coopMatLoadNV(m, src, (at), 16u, false)
#endif
void main()
{
    AM a = AM(ELEM(seed));
    BM b = BM(ELEM(seed + 1));
    CM c0 = CM(ACC0), c1 = CM(ACC0), c2 = CM(ACC0), c3 = CM(ACC0);
#ifdef LOAD
    uint base = gl_LocalInvocationID.y * 2048u;
    for (uint i = 0u; i < ITERS; i++) {
        LOAD_A(a, base + (i & 1u) * 1024u);
        LOAD_B(b, base + (i & 1u) * 1024u + 512u);
#else
    for (uint i = 0u; i < ITERS; i++) {
#endif
        c0 = coopMatMulAddNV(a, b, c0);
        c1 = coopMatMulAddNV(a, b, c1);
        c2 = coopMatMulAddNV(a, b, c2);
        c3 = coopMatMulAddNV(a, b, c3);
    }
    if (flag == 1) { // never set: the results are kept, not written
        coopMatStoreNV(c0, out_m, 0, 16, false);
        coopMatStoreNV(c1, out_m, 256, 16, false);
        coopMatStoreNV(c2, out_m, 512, 16, false);
        coopMatStoreNV(c3, out_m, 768, 16, false);
    }
}
#else
void main()
{
    double x = double(seed) * 1e-9, c0 = 1.0, c1 = 2.0, c2 = 3.0, c3 = 4.0;
    for (uint i = 0u; i < ITERS; i++) {
        c0 = fma(c0, x, 0.5);
        c1 = fma(c1, x, 0.25);
        c2 = fma(c2, x, 0.125);
        c3 = fma(c3, x, 0.0625);
    }
    if (flag == 1)
        out_d = c0 + c1 + c2 + c3;
}
#endif
