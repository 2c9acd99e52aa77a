#version 450
// The reference's smooth2d (docs/numerics.md "LES"): a separable box filter of width k, zero
// padded, not periodic; one pass per dispatch for nb frames:
//   PASS_X: tmp = box_x(frames)           (along axis 1)
//   else:   real plane 2b = omega, plane 2b+1 = R = omega - box_y(tmp)  (along axis 0)
// out[i] = (1/k) sum_{m = i - k/2}^{i + k - 1 - k/2}, 0 <= m < N.
#extension GL_EXT_shader_explicit_arithmetic_types_float64 : enable
layout(local_size_x = 256) in;
layout(std430, binding = 0) readonly buffer Frames { double frames[]; };
layout(std430, binding = 1) buffer Tmp { double tmp[]; };
layout(std430, binding = 2) writeonly buffer Real { double real_planes[]; };
layout(push_constant) uniform P {
    uint n;     // grid size
    uint nb;    // frames in this chunk
    uint f0;    // first frame of the chunk in the frame buffer
    uint gx;    // workgroups along x
    uint k;     // filter width
} p;

void main()
{
    uint idx = (gl_WorkGroupID.y * p.gx + gl_WorkGroupID.x) * 256u + gl_LocalInvocationID.x;
    uint nn = p.n * p.n;
    if (idx >= p.nb * nn)
        return;
    uint b = idx / nn, e = idx % nn, i = e / p.n, j = e % p.n;
    int lo = -int(p.k / 2u), hi = int(p.k) - 1 - int(p.k / 2u);
    double sum = 0.0;
#ifdef PASS_X
    uint row = (p.f0 + b) * nn + i * p.n;
    for (int m = int(j) + lo; m <= int(j) + hi; m++)
        if (m >= 0 && m < int(p.n))
            sum += frames[row + uint(m)];
    tmp[idx] = sum / double(p.k);
#else
    uint plane = b * nn;
    for (int m = int(i) + lo; m <= int(i) + hi; m++)
        if (m >= 0 && m < int(p.n))
            sum += tmp[plane + uint(m) * p.n + j];
    double w = frames[(p.f0 + b) * nn + e];
    real_planes[2u * b * nn + e] = w;
    real_planes[(2u * b + 1u) * nn + e] = w - sum / double(p.k);
#endif
}
