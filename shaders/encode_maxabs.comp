#version 450
// max |R| of each frame (real plane 2b+1): one workgroup per frame, strided per-thread
// maxima then a fixed tree. max is exact, so the order does not matter.
#extension GL_EXT_shader_explicit_arithmetic_types_float64 : enable
layout(local_size_x = 256) in;
layout(std430, binding = 0) readonly buffer Real { double real_planes[]; };
layout(std430, binding = 1) writeonly buffer MaxR { double maxr[]; };
layout(push_constant) uniform P { uint n; } p;

shared double sm[256];

void main()
{
    uint t = gl_LocalInvocationID.x, b = gl_WorkGroupID.x, nn = p.n * p.n;
    uint base = (2u * b + 1u) * nn;
    double m = 0.0;
    for (uint e = t; e < nn; e += 256u)
        m = max(m, abs(real_planes[base + e]));
    sm[t] = m;
    barrier();
    for (uint s = 128u; s > 0u; s >>= 1u) {
        if (t < s)
            sm[t] = max(sm[t], sm[t + s]);
        barrier();
    }
    if (t == 0u)
        maxr[b] = sm[0];
}
