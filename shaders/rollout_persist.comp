#version 450
// Many steps of z_{t+1} = z_t · A in ONE dispatch (small B), for devices where every
// workgroup of the dispatch is known to be resident at once (daemon/rollout_gpu.c gates
// it: never on CPU devices such as lavapipe, and never with more workgroups than the
// device has multiprocessors). Workgroup w owns the NC output columns j0 = w*NC .. and
// keeps A[.][j0..j0+NC) in shared memory for the whole dispatch; z crosses workgroups
// through global memory.
//
// Per step s: wait until every workgroup has published step s-1 (done[q] >= s-1; the
// dispatch's first step needs no wait: the previous dispatch or upload is behind a
// pipeline barrier), gather z_{s-1} into shared memory, compute the NC·B outputs with
// EXACTLY the summation order of rollout_gemv.comp / docs/numerics.md (16 partials,
// i = p, p+16, ... increasing from +0, then the fixed pairwise tree), store them, make
// the stores visible device-wide, then publish done[w] = s.
//
// Two state slots suffice: a workgroup writes slot(s) only after every workgroup has
// published s-1, i.e. finished reading slot(s-2) = slot(s) in step s-1.
// A waiter that spins for too long sets `timed_out` and goes on, and every waiter that
// sees the flag stops waiting (the results are then garbage; the host discards them,
// restores the run's input state and falls back to the portable kernel), so a device
// that does not keep the workgroups resident cannot hang.
#extension GL_KHR_memory_scope_semantics : require

#ifdef F64
#define REAL double
#else
#define REAL float
#endif
#ifdef EXACT
#define PRECISE precise
#else
#define PRECISE
#endif

#define P 16u
#define SPIN_LIMIT (1u << 22)

layout(constant_id = 0) const uint D = 1;
layout(constant_id = 1) const uint B = 1;
layout(constant_id = 2) const uint NC = 5;    // output columns per workgroup
layout(constant_id = 3) const uint NWG = 131; // workgroups: ceil(D / NC)
layout(constant_id = 4) const uint WGS = 160; // invocations: >= NWG and >= B*NC*16, multiple of 32
// How the `done` words are read and written (both bit-identical on the H100; 1 is the
// default, 1.3x faster there, bench/README.md):
// 0: acquire loads / release stores (GL_KHR_memory_scope_semantics);
// 1: volatile loads and stores, ordered by memoryBarrierBuffer() after the wait and
//    between the state stores and the publication (the classic fence + flag pattern).
layout(constant_id = 5) const uint SYNC = 1;
#define U 8u
layout(local_size_x_id = 4, local_size_y = 1, local_size_z = 1) in;

layout(std430, binding = 0) readonly buffer Operator { REAL a[]; };
layout(std430, binding = 1) coherent buffer States { REAL z[]; };
// first_bad_step as in rollout_common.glsl; done[w]: last step (within the run) that
// workgroup w has published; the host zeroes the whole block before each run.
layout(std430, binding = 2) coherent volatile buffer Flags {
    uint first_bad_step;
    uint timed_out;
    uint pad_[62];
    uint done[];
};

// step: run-relative number of the dispatch's first step; src/dst: element offsets of
// its input and output slots (they alternate from there); nsteps: steps in this dispatch.
layout(push_constant) uniform Push {
    uint step;
    uint src;
    uint dst;
    uint nsteps;
} pc;

shared REAL as_[D * NC]; // A[i][j0 + c] at i*NC + c
shared REAL zs[B * D];
shared REAL part[B * NC * P];

void main()
{
    uint tid = gl_LocalInvocationID.x;
    uint w = gl_WorkGroupID.x;
    uint j0 = w * NC;
    for (uint e = tid; e < D * NC; e += WGS) {
        uint i = e / NC, c = e % NC;
        as_[e] = (j0 + c < D) ? a[i * D + j0 + c] : REAL(0);
    }
    // Roles: invocation (b, c, p) sums partial p of output (b, j0 + c).
    uint p = tid % P, c = (tid / P) % NC, b = tid / (P * NC);
    bool summer = tid < B * NC * P;

    for (uint k = 0; k < pc.nsteps; k++) {
        uint s = pc.step + k;
        uint src = (k & 1u) == 0u ? pc.src : pc.dst;
        uint dst = (k & 1u) == 0u ? pc.dst : pc.src;
        // Invocation q < NWG waits for producer q, then gathers producer q's columns.
        if (tid < NWG) {
            if (k > 0u) {
                uint spins = 0u;
                if (SYNC == 0u) {
                    while (timed_out == 0u &&
                           atomicLoad(done[tid], gl_ScopeDevice, gl_StorageSemanticsBuffer, gl_SemanticsAcquire) <
                               s - 1u) {
                        if (++spins > SPIN_LIMIT)
                            timed_out = 1u;
                    }
                } else {
                    while (timed_out == 0u && done[tid] < s - 1u) {
                        if (++spins > SPIN_LIMIT)
                            timed_out = 1u;
                    }
                }
            }
            memoryBarrierBuffer();
            for (uint r = 0u; r < B; r++)
                for (uint cc = 0u; cc < NC; cc++) {
                    uint j = tid * NC + cc;
                    if (j < D)
                        zs[r * D + j] = z[src + r * D + j];
                }
        }
        barrier();
        if (summer) {
            PRECISE REAL acc = REAL(0);
            uint i = p;
            // U terms per pass, loaded before their (ordered) additions.
            for (; i + (U - 1u) * P < D; i += U * P) {
                REAL zv[U], av[U];
                for (uint u = 0u; u < U; u++) {
                    zv[u] = zs[b * D + i + u * P];
                    av[u] = as_[(i + u * P) * NC + c];
                }
                for (uint u = 0u; u < U; u++) {
                    PRECISE REAL prod = zv[u] * av[u];
                    acc = acc + prod;
                }
            }
            for (; i < D; i += P) {
                PRECISE REAL prod = zs[b * D + i] * as_[i * NC + c];
                acc = acc + prod;
            }
            part[(b * NC + c) * P + p] = acc;
        }
        barrier();
        if (tid < B * NC) {
            uint rb = tid / NC, rc = tid % NC;
            uint j = j0 + rc;
            if (j < D) {
                uint base = (rb * NC + rc) * P;
                REAL v[16];
                for (uint q = 0u; q < 16u; q++)
                    v[q] = part[base + q];
                PRECISE REAL t0 = v[0] + v[1], t1 = v[2] + v[3], t2 = v[4] + v[5], t3 = v[6] + v[7];
                PRECISE REAL t4 = v[8] + v[9], t5 = v[10] + v[11], t6 = v[12] + v[13], t7 = v[14] + v[15];
                PRECISE REAL u0 = t0 + t1, u1 = t2 + t3, u2 = t4 + t5, u3 = t6 + t7;
                PRECISE REAL w0 = u0 + u1, w1 = u2 + u3;
                PRECISE REAL outv = w0 + w1;
                z[dst + rb * D + j] = outv;
                if (isnan(outv) || isinf(outv))
                    atomicMin(first_bad_step, s);
            }
            memoryBarrierBuffer();
        }
        barrier();
        if (tid == 0u) {
            if (SYNC == 0u)
                atomicStore(done[w], s, gl_ScopeDevice, gl_StorageSemanticsBuffer, gl_SemanticsRelease);
            else
                done[w] = s;
        }
    }
}
