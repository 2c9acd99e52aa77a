#version 450
// Induced velocity of Gaussian vortex atoms and their midpoint transport
// (daemon/num/atom_velocity_gpu.c; the host reference and the formulas are in
// daemon/num/atom_velocity.c). Four kernels from this source, one per define:
//   ATOM_TABLES  per atom: 1-D tables TX[m] = exp(−c m²)·e^{−i k1 m xe}, TY likewise, m = 0..K
//   ATOM_MODES   per tile of 8 m_y × 16 m_x modes and chunk of atoms: Σ_a q_a TY_a TX_a,
//                atoms in index order (shared-memory staging), one partial per chunk
//   ATOM_REDUCE  per mode: chunks summed in order, then D_y = k_y C/(L²|k|²), D_x likewise
//   ATOM_MOVE    per atom: u = −2 Im Σ D_y conj(T), v = 2 Im Σ D_x conj(T), then
//                stage 0 stores (u, v), 1 moves the evaluation point to the midpoint,
//                2 completes the midpoint step
// Modes are stored as rows m_y = 0..K of width 2K+1 (column m_x + K); the row m_y = 0,
// m_x ≤ 0 lies outside the half plane and its D is zero.
// GLSL has no double sin/cos/exp, so the tables use the polynomials below (error ~1 ulp
// on the reduced ranges, which are exact: see cis_neg_turn).
#extension GL_EXT_shader_explicit_arithmetic_types_float64 : enable

#if defined(ATOM_MODES)
layout(local_size_x = 16, local_size_y = 8) in;
#else
layout(local_size_x = 64) in;
#endif

// atom a: at[6a..6a+5] = x, y (start of the substep), xe, ye (where the velocity is
// evaluated), q, c = (k1 ε)²/2
layout(std430, binding = 0) buffer Atoms { double at[]; };
layout(std430, binding = 1) buffer TX { dvec2 tx[]; };  // [m * cap + a]
layout(std430, binding = 2) buffer TY { dvec2 ty[]; };
layout(std430, binding = 3) buffer Part { dvec2 part[]; }; // [chunk * modes + mode]
layout(std430, binding = 4) buffer Modes { dvec4 dm[]; };  // (D_y, D_x) per mode
layout(std430, binding = 5) buffer Vel { dvec2 vel[]; };
layout(push_constant) uniform P {
    double box, h;
    uint count, kmax, cap, chunks, chunk_len, stage;
} p;

const double TWO_PI = 6.283185307179586LF;

dvec2 cmul(dvec2 a, dvec2 b) { return dvec2(a.x * b.x - a.y * b.y, a.x * b.y + a.y * b.x); }
// a · conj(b)
dvec2 cmulc(dvec2 a, dvec2 b) { return dvec2(a.x * b.x + a.y * b.y, a.y * b.x - a.x * b.y); }

// e^{−i 2π t}. The nearest quarter turn n/4 is split off exactly (Sterbenz), leaving
// |r| ≤ π/4 for the Taylor polynomials (next terms below 2e-18).
dvec2 cis_neg_turn(double t)
{
    t = t - floor(t);
    double n = floor(4.0LF * t + 0.5LF);
    double r = TWO_PI * (t - 0.25LF * n);
    double r2 = r * r;
    double s = 2.8114572543455206e-15LF;
    s = s * r2 - 7.647163731819816e-13LF;
    s = s * r2 + 1.6059043836821613e-10LF;
    s = s * r2 - 2.505210838544172e-08LF;
    s = s * r2 + 2.7557319223985893e-06LF;
    s = s * r2 - 0.0001984126984126984LF;
    s = s * r2 + 0.008333333333333333LF;
    s = s * r2 - 0.16666666666666666LF;
    s = r + r * r2 * s;
    double c = 4.779477332387385e-14LF;
    c = c * r2 - 1.1470745597729725e-11LF;
    c = c * r2 + 2.08767569878681e-09LF;
    c = c * r2 - 2.755731922398589e-07LF;
    c = c * r2 + 2.48015873015873e-05LF;
    c = c * r2 - 0.001388888888888889LF;
    c = c * r2 + 0.041666666666666664LF;
    c = c * r2 - 0.5LF;
    c = 1.0LF + r2 * c;
    int q = int(n) & 3;
    double cs = q == 0 ? c : q == 1 ? -s : q == 2 ? -c : s;
    double sn = q == 0 ? s : q == 1 ? c : q == 2 ? -s : -c;
    return dvec2(cs, -sn);
}

// e^x for x ≤ 0: x = n ln2 + r with ln2 split in two (n ln2_hi exact), |r| ≤ ln2/2,
// Taylor to r¹³ (next term 4e-18). Below −700 (e^x < 1e-304) it returns 0.
double exp_nonpositive(double x)
{
    if (x < -700.0LF)
        return 0.0LF;
    double n = floor(x * 1.4426950408889634LF + 0.5LF);
    double r = (x - n * 6.93147180369123816490e-01LF) - n * 1.90821492927058770002e-10LF;
    double e = 1.6059043836821613e-10LF;
    e = e * r + 2.08767569878681e-09LF;
    e = e * r + 2.505210838544172e-08LF;
    e = e * r + 2.755731922398589e-07LF;
    e = e * r + 2.7557319223985893e-06LF;
    e = e * r + 2.48015873015873e-05LF;
    e = e * r + 0.0001984126984126984LF;
    e = e * r + 0.001388888888888889LF;
    e = e * r + 0.008333333333333333LF;
    e = e * r + 0.041666666666666664LF;
    e = e * r + 0.16666666666666666LF;
    e = e * r + 0.5LF;
    e = e * r + 1.0LF;
    e = e * r + 1.0LF;
    return ldexp(e, int(n));
}

double wrap(double x)
{
    double r = x - p.box * floor(x / p.box);
    if (r >= p.box)
        r -= p.box;
    if (r < 0.0LF)
        r = 0.0LF;
    return r;
}

#if defined(ATOM_TABLES)
void main()
{
    uint a = gl_GlobalInvocationID.x;
    if (a >= p.count)
        return;
    double c = at[6u * a + 5u];
    dvec2 ex = cis_neg_turn(at[6u * a + 2u] / p.box), ey = cis_neg_turn(at[6u * a + 3u] / p.box);
    dvec2 px = dvec2(1.0LF, 0.0LF), py = px;
    for (uint m = 0u; m <= p.kmax; m++) {
        double dm2 = double(m) * double(m);
        double g = exp_nonpositive(-c * dm2);
        tx[m * p.cap + a] = g * px;
        ty[m * p.cap + a] = g * py;
        px = cmul(px, ex);
        py = cmul(py, ey);
    }
}

#elif defined(ATOM_MODES)
const uint TC = 16u, TR = 8u, TA = 16u; // tile columns (m_x), rows (m_y), atoms per stage
shared dvec2 sy[TR][TA];
shared dvec2 sx[TA][TC];

void main()
{
    uint width = 2u * p.kmax + 1u, modes = (p.kmax + 1u) * width;
    uint lx = gl_LocalInvocationID.x, ly = gl_LocalInvocationID.y, lid = gl_LocalInvocationIndex;
    uint col0 = gl_WorkGroupID.x * TC, row0 = gl_WorkGroupID.y * TR, chunk = gl_WorkGroupID.z;
    uint begin = chunk * p.chunk_len, end = min(p.count, begin + p.chunk_len);
    dvec2 acc = dvec2(0.0LF);
    for (uint a0 = begin; a0 < end; a0 += TA) {
        { // q_a TY_a[m_y]: a thread per (row ly, atom lx), atoms contiguous in memory
            uint my = row0 + ly, a = a0 + lx;
            sy[ly][lx] = (my <= p.kmax && a < end) ? at[6u * a + 4u] * ty[my * p.cap + a] : dvec2(0.0LF);
        }
        for (uint k = lid; k < TA * TC; k += TR * TC) { // TX_a(m_x), conj for m_x < 0
            uint j = k % TA, cc = k / TA, a = a0 + j;
            int mx = int(col0 + cc) - int(p.kmax);
            dvec2 t = dvec2(0.0LF);
            if (col0 + cc < width && a < end) {
                t = tx[uint(abs(mx)) * p.cap + a];
                if (mx < 0)
                    t.y = -t.y;
            }
            sx[j][cc] = t;
        }
        barrier();
        for (uint j = 0u; j < TA; j++)
            acc += cmul(sy[ly][j], sx[j][lx]);
        barrier();
    }
    uint my = row0 + ly, col = col0 + lx;
    if (my <= p.kmax && col < width)
        part[chunk * modes + my * width + col] = acc;
}

#elif defined(ATOM_REDUCE)
void main()
{
    uint width = 2u * p.kmax + 1u, modes = (p.kmax + 1u) * width;
    uint idx = gl_GlobalInvocationID.x;
    if (idx >= modes)
        return;
    dvec2 c = dvec2(0.0LF);
    for (uint z = 0u; z < p.chunks; z++)
        c += part[z * modes + idx];
    int my = int(idx / width), mx = int(idx % width) - int(p.kmax);
    if (my == 0 && mx <= 0) {
        dm[idx] = dvec4(0.0LF);
        return;
    }
    double k1 = TWO_PI / p.box;
    double kx = k1 * double(mx), ky = k1 * double(my);
    double s = 1.0LF / (p.box * p.box * (kx * kx + ky * ky));
    dvec2 d = c * s;
    dm[idx] = dvec4(ky * d, kx * d);
}

#elif defined(ATOM_MOVE)
const uint TB = 16u; // columns of TX held in registers per pass over the rows

void main()
{
    uint b = gl_GlobalInvocationID.x;
    if (b >= p.count)
        return;
    uint width = 2u * p.kmax + 1u;
    double su = 0.0LF, sv = 0.0LF; // imaginary parts of Σ D conj(T)
    for (uint c0 = 0u; c0 < width; c0 += TB) {
        dvec2 t[TB];
        for (uint c = 0u; c < TB; c++) {
            int mx = int(c0 + c) - int(p.kmax);
            t[c] = dvec2(0.0LF);
            if (c0 + c < width) {
                t[c] = tx[uint(abs(mx)) * p.cap + b];
                if (mx < 0)
                    t[c].y = -t[c].y;
            }
        }
        for (uint my = 0u; my <= p.kmax; my++) {
            dvec2 ru = dvec2(0.0LF), rv = dvec2(0.0LF);
            for (uint c = 0u; c < TB; c++) {
                dvec4 d = dm[my * width + min(c0 + c, width - 1u)]; // t[c] = 0 past the row
                ru += cmulc(d.xy, t[c]);
                rv += cmulc(d.zw, t[c]);
            }
            dvec2 yv = ty[my * p.cap + b];
            su += ru.y * yv.x - ru.x * yv.y;
            sv += rv.y * yv.x - rv.x * yv.y;
        }
    }
    double u = -2.0LF * su, v = 2.0LF * sv;
    if (p.stage == 0u) {
        vel[b] = dvec2(u, v);
    } else if (p.stage == 1u) {
        at[6u * b + 2u] = wrap(at[6u * b] + 0.5LF * p.h * u);
        at[6u * b + 3u] = wrap(at[6u * b + 1u] + 0.5LF * p.h * v);
    } else {
        double x = wrap(at[6u * b] + p.h * u), y = wrap(at[6u * b + 1u] + p.h * v);
        at[6u * b] = x;
        at[6u * b + 1u] = y;
        at[6u * b + 2u] = x;
        at[6u * b + 3u] = y;
    }
}
#endif
