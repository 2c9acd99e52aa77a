#version 450
// Fixed-order reductions of per-workgroup partials (deterministic on every device):
// workgroup (q, f) reduces part[base + f*fpart + q*stride + i], i < count, into
// res[dst + f*fres + q] (f: a frame of a batch, 0 for one); op 0 is a sum, op 1 a
// maximum. Strided per-thread accumulation, then a fixed tree.
#extension GL_EXT_shader_explicit_arithmetic_types_float64 : enable
layout(local_size_x = 256) in;
layout(std430, binding = 0) readonly buffer Part { double part[]; };
layout(std430, binding = 1) buffer Res { double res[]; };
layout(push_constant) uniform P {
    uint count, stride, base, dst, op, fpart, fres;
} p;

shared double red[256];

void main()
{
    uint t = gl_LocalInvocationID.x, q = gl_WorkGroupID.x, f = gl_WorkGroupID.y;
    uint b = p.base + f * p.fpart + q * p.stride;
    double acc = 0.0;
    for (uint i = t; i < p.count; i += 256u)
        acc = p.op == 1u ? max(acc, part[b + i]) : acc + part[b + i];
    red[t] = acc;
    barrier();
    for (uint h = 128u; h > 0u; h >>= 1u) {
        if (t < h)
            red[t] = p.op == 1u ? max(red[t], red[t + h]) : red[t] + red[t + h];
        barrier();
    }
    if (t == 0u)
        res[p.dst + f * p.fres + q] = red[0];
}
