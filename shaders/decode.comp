#version 450
// Decode of a proxy z into a field (docs/numerics.md "Decode"), one pass per op (daemon/num/decode_gpu.c
// records them in order with barriers and VkFFT transforms between). Spectra are full C2C
// planes; fields are planes of n*n doubles. One dispatch covers a group of frames:
// gl_WorkGroupID.z is the frame within the group (its scratch planes), slot + z the
// frame within the run (its z row, truth, snapshot, results). Arithmetic that the reference performs in a
// given order is `precise`, so no FMA contraction changes it on any device.
#extension GL_EXT_shader_explicit_arithmetic_types_float64 : enable
#extension GL_EXT_shader_explicit_arithmetic_types_int64 : enable
layout(local_size_x = 256) in;
layout(std430, binding = 0) buffer Spec { dvec2 spec[]; };      // 1 plane per frame (main C2C plan)
layout(std430, binding = 1) buffer Spec2 { dvec2 spec2[]; };    // 2 planes per frame (second plan)
layout(std430, binding = 2) buffer Fields { double f[]; };      // per frame: WLP TMP RLP RMID RHIGH WHAT
layout(std430, binding = 3) readonly buffer Truth { double truth[]; }; // slot planes
layout(std430, binding = 4) writeonly buffer Snap { double snap[]; };  // slot planes
layout(std430, binding = 5) readonly buffer Z { double z[]; };         // slot rows of D
layout(std430, binding = 6) readonly buffer Meta { uint meta[]; };     // code[nn], pos[nn]
layout(std430, binding = 7) readonly buffer Kv { double kv[]; };       // k[n] (numpy fftfreq*2pi)
layout(std430, binding = 8) readonly buffer Phasor { dvec2 ph[]; };    // slot: 2 planes
layout(std430, binding = 9) buffer Carrier { int s[]; };               // 2 planes per frame
layout(std430, binding = 10) writeonly buffer Part { double part[]; }; // per frame, quantity-major
layout(std430, binding = 11) readonly buffer Res { double res[]; };    // slot rows
layout(std430, binding = 12) readonly buffer Steps { uint tstep[]; };  // slot: t (lo, hi)
layout(push_constant) uniform P {
    uint n, op, slot, gx;
    uint M, topk, D, box;
    uint seed_lo, seed_hi, pad2, pad3;
    uint res_stride, groups, carrier_off, flags; // flags: 1 dashi, 2 truth, 4 snapshots
    uint n_mid, n_high, part_frame, pad1; // part_frame: partials per frame
    double tau;
} p;

const uint OP_SCATTER = 0u, OP_REAL = 1u, OP_SMOOTH_X = 2u, OP_SMOOTH_Y = 3u, OP_THRESH = 4u, OP_FILL = 5u,
           OP_GATE = 6u, OP_COMBINE = 7u, OP_METRIC = 8u, OP_ENERGY = 9u, OP_BAND = 10u, OP_PROJECTED = 11u;
const uint C_LOW = 1u, C_MID = 2u, C_HIGH = 3u, C_ANCHOR = 4u;
const uint WLP = 0u, TMP = 1u, RLP = 2u, RMID = 3u, RHIGH = 4u, WHAT = 5u;
// Result slots (decode_gpu.c mirrors them).
const uint R_MAX = 0u, R_MSQ = 1u;

shared double red[8][256];

uint mirror(uint idx)
{
    uint i = idx / p.n, j = idx % p.n;
    return ((p.n - i) % p.n) * p.n + (p.n - j) % p.n;
}

uint64_t mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9UL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebUL;
    x ^= x >> 31;
    return x;
}

// (cos 2 pi u, sin 2 pi u) with a fixed polynomial (GLSL has no double sin/cos): the
// dashi phases are then identical on every device.
dvec2 cis_turns(double u)
{
    precise double q = floor(u * 4.0 + 0.5);
    precise double r = (u - q * 0.25) * 6.283185307179586;
    precise double r2 = r * r;
    precise double sn = r * (1.0 + r2 * (-1.0 / 6.0 + r2 * (1.0 / 120.0 + r2 * (-1.0 / 5040.0 + r2 * (1.0 / 362880.0 +
                        r2 * (-1.0 / 39916800.0 + r2 * (1.0 / 6227020800.0 + r2 * (-1.0 / 1307674368000.0))))))));
    precise double cs = 1.0 + r2 * (-0.5 + r2 * (1.0 / 24.0 + r2 * (-1.0 / 720.0 + r2 * (1.0 / 40320.0 +
                        r2 * (-1.0 / 3628800.0 + r2 * (1.0 / 479001600.0 + r2 * (-1.0 / 87178291200.0)))))));
    int qi = int(q) & 3;
    if (qi == 0) return dvec2(cs, sn);
    if (qi == 1) return dvec2(-sn, cs);
    if (qi == 2) return dvec2(-cs, -sn);
    return dvec2(sn, -cs);
}

// Dashi residual phasor of cell idx in the frame of `slot`: keyed by (seed, t, the pair
// {k, -k}), conjugated on the second member of the pair so the spectrum is Hermitian.
dvec2 dashi_phasor(uint idx, uint slot)
{
    uint m = mirror(idx);
    uint key = min(idx, m);
    uint64_t seed = (uint64_t(p.seed_hi) << 32) | uint64_t(p.seed_lo);
    uint64_t t = (uint64_t(tstep[2u * slot + 1u]) << 32) | uint64_t(tstep[2u * slot]);
    uint64_t h = mix64(mix64(mix64(seed) ^ t) ^ uint64_t(key));
    double u = double(h >> 11) * (1.0 / 9007199254740992.0);
    dvec2 c = cis_turns(u);
    if (m == idx)
        return dvec2(c.x >= 0.0 ? 1.0 : -1.0, 0.0);
    return idx < m ? c : dvec2(c.x, -c.y);
}

// Stores this workgroup's partial of quantity q of frame fz (fixed tree). Every
// invocation calls it.
void partial(uint q, double v, uint wg, bool is_max)
{
    uint t = gl_LocalInvocationID.x;
    red[q][t] = v;
    barrier();
    for (uint h = 128u; h > 0u; h >>= 1u) {
        if (t < h)
            red[q][t] = is_max ? max(red[q][t], red[q][t + h]) : red[q][t] + red[q][t + h];
        barrier();
    }
    if (t == 0u)
        part[gl_WorkGroupID.z * p.part_frame + q * p.groups + wg] = red[q][0];
}

void main()
{
    uint wg = gl_WorkGroupID.y * p.gx + gl_WorkGroupID.x;
    uint idx = wg * 256u + gl_LocalInvocationID.x;
    uint nn = p.n * p.n;
    uint fz = gl_WorkGroupID.z, slot = p.slot + fz;
    uint sb = fz * nn, s2b = 2u * fz * nn, fb = 6u * fz * nn, cb = 2u * fz * nn; // this frame's scratch
    bool inside = idx < nn;
    uint cell = inside ? idx : 0u;
    bool dashi = (p.flags & 1u) != 0u;
    uint zb = slot * p.D;
    double nn_d = double(nn);

    if (p.op == OP_SCATTER) {
        if (!inside) return;
        uint code = meta[cell], pos = meta[nn + cell];
        dvec2 v = dvec2(0.0);
        if (code == C_LOW) {
            precise dvec2 a = dvec2(z[zb + pos] * nn_d, z[zb + p.M + pos] * nn_d);
            v = a;
        } else if (dashi) {
            uint ab = zb + 2u * p.M + 4u;
            uint mc = mirror(cell);
            if (code == C_ANCHOR) {
                v = dvec2(z[ab + pos] * nn_d, z[ab + p.topk + pos] * nn_d);
            } else if (meta[mc] == C_ANCHOR) { // the partner of a lone anchor: its conjugate
                uint mp = meta[nn + mc];
                v = dvec2(z[ab + mp] * nn_d, -z[ab + p.topk + mp] * nn_d);
            }
        }
        spec[sb + cell] = v;
    } else if (p.op == OP_REAL) {
        if (inside) f[fb + WLP * nn + cell] = spec[sb + cell].x;
    } else if (p.op == OP_SMOOTH_X) { // zero-padded box along axis 1
        if (!inside) return;
        uint i = cell / p.n, j = cell % p.n, h = p.box / 2u;
        uint lo = j >= h ? j - h : 0u, hi = min(p.n, j + p.box - h);
        double acc = 0.0;
        for (uint m = lo; m < hi; m++)
            acc += f[fb + WLP * nn + i * p.n + m];
        f[fb + TMP * nn + cell] = acc / double(p.box);
    } else if (p.op == OP_SMOOTH_Y) { // along axis 0; R = w - smooth(w); partial max |R|
        double r = 0.0;
        if (inside) {
            uint i = cell / p.n, j = cell % p.n, h = p.box / 2u;
            uint lo = i >= h ? i - h : 0u, hi = min(p.n, i + p.box - h);
            double acc = 0.0;
            for (uint m = lo; m < hi; m++)
                acc += f[fb + TMP * nn + m * p.n + j];
            precise double sm = acc / double(p.box);
            precise double rr = f[fb + WLP * nn + cell] - sm;
            f[fb + RLP * nn + cell] = rr;
            r = abs(rr);
        }
        partial(0u, r, wg, true);
    } else if (p.op == OP_THRESH) {
        if (!inside) return;
        precise double den = res[slot * p.res_stride + R_MAX] + 1e-12;
        double x = clamp(f[fb + RLP * nn + cell] / den, -1.0, 1.0);
        s[cb + cell] = x >= p.tau ? 1 : (x <= -p.tau ? -1 : 0);
    } else if (p.op == OP_FILL) { // both residual bands, planes 0 (mid) and 1 (high)
        if (!inside) return;
        uint code = meta[cell];
        for (uint b = 0u; b < 2u; b++) {
            double e = z[zb + 2u * p.M + 1u + b];
            uint nb = b == 0u ? p.n_mid : p.n_high;
            dvec2 v = dvec2(0.0);
            if (code == (b == 0u ? C_MID : C_HIGH) && nb > 0u && e > 0.0) {
                precise double amp = sqrt(e) * nn_d;
                dvec2 c = dashi ? dashi_phasor(cell, slot) : ph[(slot * 2u + b) * nn + cell];
                precise dvec2 a = amp * c;
                v = a;
            }
            spec2[s2b + b * nn + cell] = v;
        }
    } else if (p.op == OP_GATE && dashi) { // gated residuals back into spec2, for their band
        if (!inside) return;
        double m = s[cb + p.carrier_off + cell] != 0 ? 1.0 : 0.0;
        for (uint b = 0u; b < 2u; b++)
            spec2[s2b + b * nn + cell] = dvec2(spec2[s2b + b * nn + cell].x * m, 0.0);
    } else if (p.op == OP_BAND) { // dashi: keep each plane's own band (what FILL filled)
        if (!inside) return;
        uint code = meta[cell];
        if (code != C_MID)
            spec2[s2b + cell] = dvec2(0.0);
        if (code != C_HIGH)
            spec2[s2b + nn + cell] = dvec2(0.0);
    } else if (p.op == OP_GATE || p.op == OP_PROJECTED) {
        // reference: r = Re(ifft) * mask; dashi: r = Re(ifft of the band-projected gated
        // residual); partial sums of r^2 for the rescaling
        double r0 = 0.0, r1 = 0.0;
        if (inside) {
            double m = p.op == OP_PROJECTED || s[cb + p.carrier_off + cell] != 0 ? 1.0 : 0.0;
            r0 = spec2[s2b + cell].x * m;
            r1 = spec2[s2b + nn + cell].x * m;
            f[fb + RMID * nn + cell] = r0;
            f[fb + RHIGH * nn + cell] = r1;
        }
        partial(0u, r0 * r0, wg, false);
        partial(1u, r1 * r1, wg, false);
    } else if (p.op == OP_COMBINE) { // w^ = (w_lp + r_mid*c_mid) + r_high*c_high
        if (!inside) return;
        uint rb = slot * p.res_stride;
        precise double w = f[fb + WLP * nn + cell];
        for (uint b = 0u; b < 2u; b++) {
            double e = z[zb + 2u * p.M + 1u + b];
            double nb = double(b == 0u ? p.n_mid : p.n_high);
            precise double ms = res[rb + R_MSQ + b] / nn_d;
            precise double scale = ms > 1e-30 ? sqrt(nb * e / ms) : 1.0;
            precise double r = f[fb + (RMID + b) * nn + cell] * scale;
            w = w + r;
        }
        f[fb + WHAT * nn + cell] = w;
        if ((p.flags & 4u) != 0u)
            snap[slot * nn + cell] = w;
    } else if (p.op == OP_METRIC) { // sums for rel_l2, corr, enstrophy; spectra for energy
        double h = 0.0, w = 0.0;
        if (inside) {
            h = f[fb + WHAT * nn + cell];
            w = (p.flags & 2u) != 0u ? truth[slot * nn + cell] : 0.0;
            spec2[s2b + cell] = dvec2(h, 0.0);
            spec2[s2b + nn + cell] = dvec2(w, 0.0);
        }
        precise double d = w - h;
        partial(0u, h, wg, false);
        partial(1u, w, wg, false);
        partial(2u, h * h, wg, false);
        partial(3u, w * w, wg, false);
        partial(4u, h * w, wg, false);
        partial(5u, d * d, wg, false);
    } else if (p.op == OP_ENERGY) { // sum (ky^2 [i != n/2] + kx^2 [j != n/2]) |W|^2 / K2^2
        double e0 = 0.0, e1 = 0.0;
        if (inside) {
            uint i = cell / p.n, j = cell % p.n;
            double kx = kv[j], ky = kv[i];
            precise double k2 = (i == 0u && j == 0u) ? 1.0 : kx * kx + ky * ky;
            precise double wt = ((i != p.n / 2u) ? ky * ky : 0.0) + ((j != p.n / 2u) ? kx * kx : 0.0);
            precise double g = wt / (k2 * k2);
            dvec2 a = spec2[s2b + cell], b = spec2[s2b + nn + cell];
            precise double ea = g * (a.x * a.x + a.y * a.y);
            precise double eb = g * (b.x * b.x + b.y * b.y);
            e0 = ea;
            e1 = eb;
        }
        partial(6u, e0, wg, false);
        partial(7u, e1, wg, false);
    }
}
