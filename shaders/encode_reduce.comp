#version 450
// Per frame (one workgroup each): support fraction of the saturated carrier and the
// residual band energies of R^ (plane 2b+1 of the spectrum), written into the frame's
// proxy row: z[2M] = support_frac, z[2M+1] = resid_mid_E, z[2M+2] = resid_high_E,
// z[2M+3] = topk. band[e] for the full-spectrum index e: 0 low, 1 mid, 2 high,
// 3 mid and an anchor (its energy is kept by the anchor, not the residual).
#extension GL_EXT_shader_explicit_arithmetic_types_float64 : enable
layout(local_size_x = 256) in;
layout(std430, binding = 0) readonly buffer Spec { dvec2 spec[]; };
layout(std430, binding = 1) readonly buffer S { int s[]; };
layout(std430, binding = 2) readonly buffer Band { uint band[]; };
layout(std430, binding = 3) buffer Z { double z[]; };
layout(push_constant) uniform P {
    uint n;
    uint plane;  // complex values per spectrum plane: n*(n/2+1)
    uint f0;     // first row of the chunk in z
    uint m;      // M, low-band size
    uint d;      // proxy dimension
    uint topk;
    uint n_mid;
    uint n_high;
} p;

shared double s_mid[256];
shared double s_high[256];
shared uint s_cnt[256];

void main()
{
    uint t = gl_LocalInvocationID.x, b = gl_WorkGroupID.x, nn = p.n * p.n, h = p.n / 2u + 1u;
    uint base = (2u * b + 1u) * p.plane;
    double mid = 0.0, high = 0.0;
    uint cnt = 0u;
    for (uint e = t; e < nn; e += 256u) {
        if (s[b * nn + e] != 0)
            cnt++;
        uint bd = band[e];
        if (bd != 1u && bd != 2u)
            continue;
        uint i = e / p.n, j = e % p.n;
        // |X(i,j)| = |X(-i,-j)|: columns past N/2 read their mirror in the half spectrum.
        dvec2 c = j <= p.n / 2u ? spec[base + i * h + j] : spec[base + ((p.n - i) % p.n) * h + (p.n - j)];
        double e2 = c.x * c.x + c.y * c.y;
        if (bd == 1u)
            mid += e2;
        else
            high += e2;
    }
    s_mid[t] = mid;
    s_high[t] = high;
    s_cnt[t] = cnt;
    barrier();
    for (uint st = 128u; st > 0u; st >>= 1u) {
        if (t < st) {
            s_mid[t] += s_mid[t + st];
            s_high[t] += s_high[t + st];
            s_cnt[t] += s_cnt[t + st];
        }
        barrier();
    }
    if (t == 0u) {
        double n4 = double(nn) * double(nn);
        uint row = (p.f0 + b) * p.d, m2 = 2u * p.m;
        z[row + m2] = double(s_cnt[0]) / double(nn);
        z[row + m2 + 1u] = p.n_mid > p.topk ? s_mid[0] / n4 / double(p.n_mid - p.topk) : 0.0;
        z[row + m2 + 2u] = p.n_high > 0u ? s_high[0] / double(p.n_high) / n4 : 0.0;
        z[row + m2 + 3u] = double(p.topk);
    }
}
