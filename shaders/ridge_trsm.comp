#version 450
// Triangular solves of the ridge fit (daemon/num/ridge_gpu.c) in float64, in place on the
// right-hand sides W (n×nrhs, row-major, m[w_off + i*nrhs + c]) with the Cholesky factor
// of the normal matrix, G = L·Lᵀ, L lower and row-major (m[l_off + i*n + k]; the
// buffer LAPACK's dpotrf("U") leaves, read row-major):
//   BACKWARD 0  L·V = W  (forward):  for k ascending:  w_k /= L(k,k);  w_i -= L(i,k)·w_k, i > k
//   BACKWARD 1  Lᵀ·X = W (backward): for k descending: w_k /= L(k,k);  w_i -= w_k·L(k,i), i < k
// Every w_i receives its subtractions in the order, and with the rounding, of the
// reference BLAS dtrsm that dpotrs calls (`precise`: no FMA), and every division is
// correctly rounded (div_rn: Vulkan does not promise it for float64). lavapipe gives the
// host path's result bit for bit; the H100 differs in the last bits (docs/numerics.md).
// A workgroup solves 32 right-hand sides (x); its 8 row lanes (y) own the rows i ≡ y
// (mod 8), so a row is only ever touched by one invocation and only the pivot w_k
// travels between them, through shared memory, one barrier per step. The direction is
// a specialisation constant (one pipeline each).
// Dispatch: (ceil(nrhs/32), 1, 1).
#extension GL_EXT_shader_explicit_arithmetic_types_float64 : enable
#extension GL_EXT_shader_explicit_arithmetic_types_int64 : enable
layout(local_size_x = 32, local_size_y = 8) in;
layout(std430, binding = 0) buffer Mat { double m[]; };
layout(constant_id = 0) const uint BACKWARD = 0;
layout(push_constant) uniform P {
    uint n, nrhs, l_off, w_off;
} p;

shared double piv[2][32];

// a / b rounded to nearest even, computed with integers: Vulkan does not promise a
// correctly rounded float64 division, and a float correction (Dekker's exact product)
// is at the mercy of the driver's algebra. Normal operands with a normal quotient take
// a long division of the 53-bit significands (54 quotient bits, the last one the round
// bit, the remainder the sticky bit); anything else (zeros, subnormals, infinities,
// NaN, overflow) is left to the device's division.
double div_rn(double a, double b)
{
    uint64_t ua = doubleBitsToUint64(a), ub = doubleBitsToUint64(b);
    int ea = int((ua >> 52) & 0x7fful), eb = int((ub >> 52) & 0x7fful);
    if (ea == 0 || eb == 0 || ea == 0x7ff || eb == 0x7ff)
        return a / b;
    const uint64_t hidden = 1ul << 52;
    uint64_t ma = (ua & (hidden - 1ul)) | hidden, mb = (ub & (hidden - 1ul)) | hidden;
    int e = ea - eb;
    if (ma < mb) { // scale the dividend so the quotient lies in [1, 2)
        ma <<= 1;
        e--;
    }
    uint64_t q = 0ul, r = ma;
    for (int i = 0; i < 54; i++) {
        q <<= 1;
        if (r >= mb) {
            r -= mb;
            q |= 1ul;
        }
        r <<= 1;
    }
    uint64_t mant = q >> 1;
    if ((q & 1ul) != 0ul && (r != 0ul || (mant & 1ul) != 0ul))
        mant++;
    if (mant == (hidden << 1)) {
        mant >>= 1;
        e++;
    }
    int ef = e + 1023;
    if (ef < 1 || ef > 2046)
        return a / b;
    uint64_t sign = (ua ^ ub) & (1ul << 63);
    return uint64BitsToDouble(sign | (uint64_t(ef) << 52) | (mant & (hidden - 1ul)));
}

void main()
{
    uint lx = gl_LocalInvocationID.x, ly = gl_LocalInvocationID.y;
    uint c = gl_WorkGroupID.x * 32u + lx;
    bool live = c < p.nrhs;
    const bool fwd = BACKWARD == 0u;
    for (uint s = 0u; s < p.n; s++) {
        uint k = fwd ? s : p.n - 1u - s;
        if (live && k % 8u == ly) {
            double v = div_rn(m[p.w_off + k * p.nrhs + c], m[p.l_off + k * p.n + k]);
            m[p.w_off + k * p.nrhs + c] = v;
            piv[s & 1u][lx] = v;
        }
        barrier();
        double wk = piv[s & 1u][lx];
        if (!live) {
        } else if (fwd) {
            for (uint i = k + 1u + (ly + 8u - (k + 1u) % 8u) % 8u; i < p.n; i += 8u) {
                precise double prod = m[p.l_off + i * p.n + k] * wk;
                precise double w = m[p.w_off + i * p.nrhs + c] - prod;
                m[p.w_off + i * p.nrhs + c] = w;
            }
        } else {
            for (uint i = ly; i < k; i += 8u) {
                precise double prod = wk * m[p.l_off + k * p.n + i];
                precise double w = m[p.w_off + i * p.nrhs + c] - prod;
                m[p.w_off + i * p.nrhs + c] = w;
            }
        }
    }
}
