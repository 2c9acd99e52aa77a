#version 450
// Sums the stage-1 partials in a fixed order (one workgroup: strided per-thread sums,
// then a fixed tree) into series[slot]: E = scale * sum(u^2+v^2), Z = scale * sum(w^2),
// scale = 1/(2 N^2). Deterministic and independent of the subgroup size.
#extension GL_EXT_shader_explicit_arithmetic_types_float64 : enable
layout(local_size_x = 256) in;
layout(std430, binding = 0) readonly buffer Part { double part[]; };
layout(std430, binding = 1) buffer Series { double series[]; }; // E at 2*slot, Z at 2*slot+1
layout(push_constant) uniform P {
    uint count; // partial pairs
    uint slot;
    double scale;
} p;

shared double se[256];
shared double sz[256];

void main()
{
    uint t = gl_LocalInvocationID.x;
    double e = 0.0, z = 0.0;
    for (uint i = t; i < p.count; i += 256u) {
        e += part[2u * i];
        z += part[2u * i + 1u];
    }
    se[t] = e;
    sz[t] = z;
    barrier();
    for (uint s = 128u; s > 0u; s >>= 1u) {
        if (t < s) {
            se[t] += se[t + s];
            sz[t] += sz[t + s];
        }
        barrier();
    }
    if (t == 0u) {
        series[2u * p.slot] = se[0] * p.scale;
        series[2u * p.slot + 1u] = sz[0] * p.scale;
    }
}
