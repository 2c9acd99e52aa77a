#version 450
// LES first RK stage, pointwise. From the physical planes u, v, wx, wy, lap, ux, sxy of
// omega: nu = nu0 + max(0, (Cs dx)^2 |S|) (frozen for the step), k1 = RHS(omega),
// w2 = omega + dt k1 (the next forward FFT's input), and this workgroup's partial sums
// of u^2+v^2 and omega^2 (fixed tree: deterministic on every device).
#include "les_common.glsl"
layout(local_size_x = 256) in;
layout(std430, binding = 0) readonly buffer Phys { real f[]; };
layout(std430, binding = 1) readonly buffer Omega { real omega[]; };
layout(std430, binding = 2) writeonly buffer K1 { real k1[]; };
layout(std430, binding = 3) writeonly buffer Nu { real nu[]; };
layout(std430, binding = 4) writeonly buffer W2 { real w2[]; };
layout(std430, binding = 5) writeonly buffer Part { double part[]; }; // 2 per workgroup
layout(push_constant) uniform P {
    uint nn;  // n*n: elements and the plane stride
    uint gx;
    uint pad0, pad1;
    double dt, nu0, c2; // c2 = (Cs dx)^2
} p;

shared double se[LES_WG];
shared double sz[LES_WG];

void main()
{
    uint wg = gl_WorkGroupID.y * p.gx + gl_WorkGroupID.x;
    uint idx = wg * LES_WG + gl_LocalInvocationID.x;
    double e = 0.0, z = 0.0;
    if (idx < p.nn) {
        real u = f[idx], v = f[p.nn + idx], wx = f[2u * p.nn + idx], wy = f[3u * p.nn + idx];
        real lap = f[4u * p.nn + idx], ux = f[5u * p.nn + idx], sxy = f[6u * p.nn + idx];
        real w = omega[idx];
        real vy = -ux;
        precise real s2 = real(2) * (ux * ux + vy * vy + real(2) * (sxy * sxy)) + real(1e-30);
        real s = sqrt(s2);
        precise real nuv = real(p.nu0) + max(real(0), real(p.c2) * s);
        precise real r = -(u * wx + v * wy) + nuv * lap;
        nu[idx] = nuv;
        k1[idx] = r;
        precise real nw = w + real(p.dt) * r;
        w2[idx] = nw;
        e = double(u) * double(u) + double(v) * double(v);
        z = double(w) * double(w);
    }
    uint t = gl_LocalInvocationID.x;
    se[t] = e;
    sz[t] = z;
    barrier();
    for (uint s = LES_WG / 2u; s > 0u; s >>= 1u) {
        if (t < s) {
            se[t] += se[t + s];
            sz[t] += sz[t + s];
        }
        barrier();
    }
    if (t == 0u) {
        part[2u * wg] = se[0];
        part[2u * wg + 1u] = sz[0];
    }
}
