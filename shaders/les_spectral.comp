#version 450
// LES spectral stage: from w^ (one R2C plane, N rows of N/2+1) to the planes the
// inverse FFT turns into physical fields:
//   0 u^ = i ky psi^   1 v^ = -i kx psi^   2 (dw/dx)^   3 (dw/dy)^   4 (lap w)^ = -K2 w^
//   5 (du/dx)^ = i kx u^   6 S_xy^ = (i ky u^ + i kx v^)/2        (5 and 6 only when nout = 7)
// psi^ = w^/K2 with K2[0][0] = 1 and psi^[0][0] = 0. Every first derivative drops its
// Nyquist column (d/dx) or row (d/dy): the reference keeps Re of a complex inverse FFT,
// which discards exactly those entries (docs/numerics.md "LES").
#include "les_common.glsl"
layout(local_size_x = 256) in;
layout(std430, binding = 0) readonly buffer In { cplx what[]; };
layout(std430, binding = 1) writeonly buffer Out { cplx outp[]; };
layout(std430, binding = 2) readonly buffer K { real kv[]; }; // kx[0..N/2], then ky[0..N-1]
layout(push_constant) uniform P {
    uint n;       // grid size
    uint plane;   // complex values per plane: n*(n/2+1)
    uint nout;    // 5 or 7
    uint dealias; // 1: 2/3 rule (zero modes with 3|m| > n)
    uint gx;      // workgroups along x of the dispatch
} p;

cplx times_i(real k, cplx a) { return cplx(-k * a.y, k * a.x); }

void main()
{
    uint idx = (gl_WorkGroupID.y * p.gx + gl_WorkGroupID.x) * LES_WG + gl_LocalInvocationID.x;
    if (idx >= p.plane)
        return;
    uint h = p.n / 2u + 1u;
    uint i = idx / h, j = idx % h;
    real kx = kv[j], ky = kv[h + i];
    cplx w = what[idx];
    if (p.dealias != 0u) {
        int my = (i < p.n / 2u) ? int(i) : int(i) - int(p.n);
        if (3u * j > p.n || 3 * abs(my) > int(p.n))
            w = cplx(0);
    }
    bool origin = (i == 0u && j == 0u);
    precise real k2 = origin ? real(1) : kx * kx + ky * ky;
    cplx psi = origin ? cplx(0) : w / k2;
    bool nyq_col = (j == p.n / 2u), nyq_row = (i == p.n / 2u);
    cplx u = nyq_row ? cplx(0) : times_i(ky, psi);
    cplx v = nyq_col ? cplx(0) : -times_i(kx, psi);
    outp[idx] = u;
    outp[p.plane + idx] = v;
    outp[2u * p.plane + idx] = nyq_col ? cplx(0) : times_i(kx, w);
    outp[3u * p.plane + idx] = nyq_row ? cplx(0) : times_i(ky, w);
    outp[4u * p.plane + idx] = -k2 * w;
    if (p.nout == 7u) {
        outp[5u * p.plane + idx] = nyq_col ? cplx(0) : times_i(kx, u);
        cplx uy = nyq_row ? cplx(0) : times_i(ky, u);
        cplx vx = nyq_col ? cplx(0) : times_i(kx, v);
        outp[6u * p.plane + idx] = (uy + vx) * real(0.5);
    }
}
