// What the atoms kernels share (daemon/num/atoms_gpu.c; atoms_label.comp, atoms_scan.comp,
// atoms_reduce.comp): one binding layout, one push-constant block, the per-atom record
// and the fixed-point accumulation. A batch of nb frames of n×n cells; frame b's cells
// are b*nn + c (nn = n*n, c = i*n + j the flat index, i the row = y, j the column = x).
#extension GL_EXT_shader_explicit_arithmetic_types_float64 : enable
#extension GL_EXT_shader_explicit_arithmetic_types_int64 : enable
#extension GL_EXT_shader_atomic_int64 : enable

// The per-atom record (daemon/num/atoms_records.h mirrors it as struct atoms_gpu_rec). acc holds
// seven fixed-point sums as (hi, lo) pairs, sum = (hi * 2^k + lo) * 2^-q[class]:
//   0 Σω, 1 Σw (class 0); 2 Σw·u, 3 Σw·v (class 1); 4 Σw·du², 5 Σw·dv², 6 Σw·du·dv (class 2)
// with w = |ω| (1 for every cell when the atom's max |ω| is 0), (u, v) the cell's offset
// from the seed along the labelling's unwrapping and (du, dv) = (u, v) − (mu_u, mu_v).
struct AtomRec {
    uint seed;      // lowest flat index of the component (its root)
    int sigma;      // carrier sign
    uint cells;
    uint umax;      // max(|u|, |v|) over the cells
    uint flags;     // bit 0: the component winds around the torus (unwrapping inconsistent)
    int k;          // limb split: hi counts units of 2^k
    int q[3];       // scale exponents of the three classes
    uint pad;
    uint64_t maxw;  // bits of max |ω| (non-negative doubles order like their bits)
    int64_t acc[14];
    double mu_u, mu_v;
};

layout(std430, binding = 0) buffer Carrier { int carrier[]; };        // plane 0 of frame b at b*2nn
layout(std430, binding = 1) readonly buffer Real { double real_planes[]; }; // ω at 2b*nn, R at (2b+1)*nn
layout(std430, binding = 2) buffer Lab { uint lab[]; };                // two label states of nb*nn
layout(std430, binding = 3) buffer Off { ivec2 off[]; };               // their offsets (u, v)
layout(std430, binding = 4) buffer Scratch { uint scratch[]; };        // root ids, block sums
layout(std430, binding = 5) buffer Meta { uint meta[]; };              // per frame: count, flags, changes
layout(std430, binding = 6) buffer Recs { AtomRec rec[]; };            // cap per frame
layout(std430, binding = 7) writeonly buffer LabelsOut { int labels_out[]; };  // host-visible
layout(std430, binding = 8) writeonly buffer RecsOut { AtomRec rec_out[]; };   // host-visible
layout(std430, binding = 9) readonly buffer MaxR { double maxr[]; };   // max |R| per frame

layout(push_constant) uniform P {
    uint n, nb;
    uint cap;        // record slots per frame
    uint src, dst;   // element offsets of the label state read / written (0 or nb*nn)
    uint iter;       // propagation iteration (index of its change counter)
    uint meta_stride;
    uint gx;         // workgroups along x of the 1-D per-cell grids
    double tau;
} p;

const uint NONE = 0xffffffffu;
const uint META_COUNT = 0u;     // atoms of the frame
const uint META_OVERFLOW = 1u;  // more atoms than cap
const uint META_CHANGED = 4u;   // labels changed by iteration t at META_CHANGED + t

// The eight neighbours in the host walk's order (daemon/num/atoms.c).
const int STEP_DI[8] = int[8](-1, -1, -1, 0, 0, 1, 1, 1);
const int STEP_DJ[8] = int[8](-1, 0, 1, -1, 1, -1, 0, 1);

uint wrapi(int i) { int n = int(p.n); return uint(((i % n) + n) % n); }

// Index of this invocation in a 1-D grid of 256-wide workgroups laid out gx × gy.
uint cell_index() { return (gl_WorkGroupID.y * p.gx + gl_WorkGroupID.x) * 256u + gl_LocalInvocationID.x; }

// Number of bits of x (0 for 0): x < 2^bitlen(x).
int bitlen(uint x) { return x == 0u ? 0 : findMSB(x) + 1; }

// ---- fixed-point accumulation ----
// A term t of class c is scaled to X = roundEven(t * 2^q), |X| < 2^(122 - 2L), where the
// atom has at most 2^L cells; |X| is split into hi = floor(|X| / 2^k), lo = |X| − hi*2^k
// (both exact: Sterbenz), k = 62 − L, and both added with the sign of X by int64
// atomics. Over at most 2^L cells, Σlo < 2^62 and |Σhi| < 2^60: no overflow. Integer
// sums do not depend on the order of the atomics, so the result is the same on every
// run and every device; the scaling drops only what lies below 2^-q, i.e. below
// 2^(2L − 122) of the class bound per term.

// Scale exponents of the record's atom (every invocation of the atom computes the same).
int fixed_k(uint cells) { return 62 - bitlen(cells - 1u); }
// Classes: |ω|, w ≤ wmax < 2^ew; |w·u| < 2^(ew + bu); |w·du·dv| < 2^(ew + 2(bu + 1)),
// bu = bitlen(umax); one more bit of margin for rounding in the products.
int fixed_q(uint cls, uint cells, uint64_t maxw, uint umax)
{
    int L = bitlen(cells - 1u);
    int eb = int((maxw >> 52) & 0x7fful);
    int ew = maxw == 0ul ? 1 : (eb == 0 ? -1022 : eb - 1022);
    int bu = bitlen(umax);
    int e = cls == 0u ? ew : (cls == 1u ? ew + bu : ew + 2 * (bu + 1));
    return 122 - 2 * L - (e + 1);
}

void fixed_add(uint r, uint slot, double t, int q, int k)
{
    precise double x = roundEven(ldexp(t, q));
    precise double a = abs(x);
    precise double hi = floor(ldexp(a, -k));
    precise double lo = a - ldexp(hi, k);
    int64_t h = int64_t(hi), l = int64_t(lo);
    if (x < 0.0) {
        h = -h;
        l = -l;
    }
    if (h != 0l)
        atomicAdd(rec[r].acc[2u * slot], h);
    if (l != 0l)
        atomicAdd(rec[r].acc[2u * slot + 1u], l);
}

// The sum in a slot as a double (normalised so that 0 <= lo < 2^k, then two roundings:
// good to a few ulps, which is all the centre of the second moments needs; the host
// converts the same limbs exactly).
double fixed_value(uint r, uint slot, int q)
{
    int k = rec[r].k;
    int64_t hi = rec[r].acc[2u * slot], lo = rec[r].acc[2u * slot + 1u];
    int64_t carry = lo >> k;
    hi += carry;
    lo -= carry << k;
    return ldexp(double(hi), k - q) + ldexp(double(lo), -q);
}
