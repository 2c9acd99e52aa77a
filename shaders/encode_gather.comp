#version 450
// The spectral entries of the proxy, one thread per (frame, entry): q < M the low band of
// omega^ (plane 2b) at gidx[q]; q >= M the anchor a = q - M at gidx[q], from R^ (plane
// 2b+1, reference mode) or omega^ (dashi mode). Values are divided by N^2; the full
// spectrum's entry (i, j) with j > N/2 is the conjugate of its mirror in the half spectrum.
#extension GL_EXT_shader_explicit_arithmetic_types_float64 : enable
layout(local_size_x = 256) in;
layout(std430, binding = 0) readonly buffer Spec { dvec2 spec[]; };
layout(std430, binding = 1) readonly buffer GIdx { uint gidx[]; };
layout(std430, binding = 2) buffer Z { double z[]; };
layout(push_constant) uniform P {
    uint n;
    uint plane;
    uint f0;
    uint m;
    uint d;
    uint topk;
    uint nb;
    uint anchor_plane; // 1: R^ (reference), 0: omega^ (dashi)
    uint gx;
} p;

void main()
{
    uint idx = (gl_WorkGroupID.y * p.gx + gl_WorkGroupID.x) * 256u + gl_LocalInvocationID.x;
    uint per = p.m + p.topk;
    if (idx >= p.nb * per)
        return;
    uint b = idx / per, q = idx % per;
    uint e = gidx[q], i = e / p.n, j = e % p.n, h = p.n / 2u + 1u;
    uint base = (2u * b + (q < p.m ? 0u : p.anchor_plane)) * p.plane;
    dvec2 c;
    if (j <= p.n / 2u) {
        c = spec[base + i * h + j];
    } else {
        c = spec[base + ((p.n - i) % p.n) * h + (p.n - j)];
        c.y = -c.y;
    }
    double n2 = double(p.n * p.n);
    uint row = (p.f0 + b) * p.d;
    if (q < p.m) {
        z[row + q] = c.x / n2;
        z[row + p.m + q] = c.y / n2;
    } else {
        uint a = q - p.m, off = 2u * p.m + 4u;
        z[row + off + a] = c.x / n2;
        z[row + off + p.topk + a] = c.y / n2;
    }
}
