#version 450
// LES second RK stage, pointwise: k2 = RHS(w2) with the frozen nu, then
// omega <- omega + dt (k1 + k2)/2, also written to the next forward FFT's input.
#include "les_common.glsl"
layout(local_size_x = 256) in;
layout(std430, binding = 0) readonly buffer Phys { real f[]; }; // u v wx wy lap of w2
layout(std430, binding = 1) buffer Omega { real omega[]; };
layout(std430, binding = 2) readonly buffer K1 { real k1[]; };
layout(std430, binding = 3) readonly buffer Nu { real nu[]; };
layout(std430, binding = 4) writeonly buffer Next { real next[]; };
layout(push_constant) uniform P {
    uint nn;
    uint gx;
    uint pad0, pad1;
    double dt;
} p;

void main()
{
    uint idx = (gl_WorkGroupID.y * p.gx + gl_WorkGroupID.x) * LES_WG + gl_LocalInvocationID.x;
    if (idx >= p.nn)
        return;
    real u = f[idx], v = f[p.nn + idx], wx = f[2u * p.nn + idx], wy = f[3u * p.nn + idx];
    real lap = f[4u * p.nn + idx];
    precise real k2 = -(u * wx + v * wy) + nu[idx] * lap;
    precise real w = omega[idx] + real(p.dt) * (k1[idx] + k2) / real(2);
    omega[idx] = w;
    next[idx] = w;
}
