#version 450
// Many steps of z_{t+1} = z_t · A in ONE dispatch (small B), for devices where every
// workgroup of the dispatch is known to be resident at once (daemon/num/rollout_gpu.c gates
// it: never on CPU devices such as lavapipe, and never with more workgroups than the
// device has multiprocessors). Workgroup w owns the NC output columns j0 = w*NC ..;
// invocation (c, p) keeps A[p + 16u][j0 + c] (u = 0 .. NT-1) in registers for the whole
// dispatch; z crosses workgroups through global memory.
//
// Synchronisation by the data itself: step k of the dispatch writes its state to its own
// slot k of a ring that the host fills, before the dispatch, with a signalling-NaN bit
// pattern (SENTINEL) that no arithmetic produces (IEEE operations return quiet NaNs; an
// output that would equal it anyway is replaced by a quiet NaN). A workgroup starting
// step k polls every element of slot k-1 until none holds the sentinel. Each element is
// written as one relaxed device-scope atomic store of its own width and polled with a
// relaxed atomic load (GPUs) or read-modify-write (atomicOr with 0, CPU devices; 64-bit
// atomics for f64: shaderBufferInt64Atomics), so seeing its new bits means seeing the
// value: no fence, flag or ordering between different addresses is needed, and the
// polling is not a data race under the Vulkan memory model. An RMW reads the latest value
// in the location's modification order, which the memory model guarantees; an atomic
// load may return an older one, and on lavapipe 22.3 it behaved as a plain load hoisted
// out of the spin loop: the poll never saw the other workgroup's store (docs/numerics.md,
// "Persistent kernel"). Step 0 reads the state slot `src`
// (written before the dispatch, behind a pipeline barrier); the last step also writes
// the state slot `dst`.
//
// Each output has EXACTLY the summation order of rollout_gemv.comp / docs/numerics.md
// (16 partials, i = p, p+16, ... increasing from +0, then the fixed pairwise tree).
//
// A poll that spins for too long sets `timed_out`; every poller that sees the flag stops
// waiting for the rest of the dispatch (the results are then garbage; the host discards
// them, restores the run's input state and falls back to the portable kernel), so a
// device that does not keep the workgroups resident cannot hang.
// A workgroup that leaves its step loop before the end, or a poll that ends with an
// element still pending although it did not give up, also sets `timed_out`: lavapipe ends
// every loop of an invocation once the invocation has run 65,535 loop iterations in all
// (llvmpipe's loop limiter), which no program can otherwise tell from a finished loop.
#extension GL_EXT_control_flow_attributes : require
#extension GL_KHR_memory_scope_semantics : require
#ifdef F64
#extension GL_EXT_shader_explicit_arithmetic_types_int64 : require
#extension GL_EXT_shader_atomic_int64 : require
#endif

#ifdef F64
#define REAL double
#define BITS uint64_t
#define TO_BITS(x) doubleBitsToUint64(x)
#define FROM_BITS(x) uint64BitsToDouble(x)
#else
#define REAL float
#define BITS uint
#define TO_BITS(x) floatBitsToUint(x)
#define FROM_BITS(x) uintBitsToFloat(x)
#endif
#ifdef EXACT
#define PRECISE precise
#else
#define PRECISE
#endif

#define P 16u
#define SPIN_LIMIT (1u << 21)
// The ring's fill pattern, as the host writes it (vkCmdFillBuffer repeats one 32-bit
// word): f64 0x7FF4D45C7FF4D45C and f32 0x7FA5D45C are signalling NaNs.
#ifdef F64
#define SENTINEL 0x7FF4D45C7FF4D45Cul
#define QUIET_NAN 0x7FF8000000000000ul
#else
#define SENTINEL 0x7FA5D45Cu
#define QUIET_NAN 0x7FC00000u
#endif
#define LOAD(x) atomicLoad(x, gl_ScopeDevice, gl_StorageSemanticsBuffer, gl_SemanticsRelaxed)
#define POLL(x) (CPU_DEVICE ? atomicOr(x, BITS(0), gl_ScopeDevice, gl_StorageSemanticsBuffer, gl_SemanticsRelaxed) : LOAD(x))
#define STORE(x, v) atomicStore(x, v, gl_ScopeDevice, gl_StorageSemanticsBuffer, gl_SemanticsRelaxed)

layout(constant_id = 0) const uint D = 1;
layout(constant_id = 1) const uint B = 1;
layout(constant_id = 2) const uint NC = 5;    // output columns per workgroup
layout(constant_id = 3) const uint WGS = 192; // invocations: >= NC*16, multiple of 32
// CPU devices (lavapipe) poll with RMWs, 64 per element and spin-loop iteration: every
// loop iteration counts against lavapipe's limit of 65,535, and a burst of unrolled polls
// lets a workgroup wait that much longer for one started late. GPUs poll with one atomic
// load: on the H100 the RMW poll made B=1 runs 1.43x slower (bench/README.md).
layout(constant_id = 4) const bool CPU_DEVICE = false;
const uint POLL_BURST = CPU_DEVICE ? 64u : 1u;
layout(local_size_x_id = 3, local_size_y = 1, local_size_z = 1) in;

const uint NT = (D + P - 1u) / P; // terms of the longest partial
const uint BD = B * D;
const uint EPT = (BD + WGS - 1u) / WGS; // state elements each invocation polls

layout(std430, binding = 0) readonly buffer Operator { REAL a[]; };
layout(std430, binding = 1) buffer States { REAL z[]; };
// first_bad_step as in rollout_common.glsl; the host resets both words before each run.
layout(std430, binding = 2) coherent buffer Flags {
    uint first_bad_step;
    uint timed_out;
};
// Slot k (B*D elements at k*B*D): the state after the dispatch's step k.
layout(std430, binding = 3) coherent buffer Ring { BITS ring[]; };

// step: run-relative number of the dispatch's first step; src: element offset of its
// input state slot; dst: of the slot that receives the state after its last step.
layout(push_constant) uniform Push {
    uint step;
    uint src;
    uint dst;
    uint nsteps;
} pc;

shared REAL zs[BD];
shared REAL part[B * NC * P];


void main()
{
    uint tid = gl_LocalInvocationID.x;
    uint j0 = gl_WorkGroupID.x * NC;
    // Roles: invocation (c, p) sums partial p of column j0 + c for every batch row.
    uint p = tid % P, c = tid / P;
    bool summer = c < NC && j0 + c < D;
    REAL areg[NT];
    [[unroll]] for (uint u = 0u; u < NT; u++) {
        uint i = p + u * P;
        areg[u] = (summer && i < D) ? a[i * D + j0 + c] : REAL(0);
    }
    bool gave_up = LOAD(timed_out) != 0u;

    // The exit test sits at the top so that only a completed step loop sets `finished`.
    bool finished = false;
    for (uint k = 0u;; k++) {
        if (k == pc.nsteps) {
            finished = true;
            break;
        }
        uint s = pc.step + k;
        if (k == 0u) {
            for (uint e = tid; e < BD; e += WGS)
                zs[e] = z[pc.src + e];
        } else {
            uint base = (k - 1u) * BD;
            BITS v[EPT];
            [[unroll]] for (uint m = 0u; m < EPT; m++) {
                uint e = tid + m * WGS;
                v[m] = e < BD ? POLL(ring[base + e]) : BITS(0);
            }
            uint spins = 0u;
            bool pending;
            for (;;) {
                pending = false;
                [[unroll]] for (uint m = 0u; m < EPT; m++)
                    pending = pending || v[m] == SENTINEL;
                if (!pending || gave_up)
                    break;
                [[unroll]] for (uint r = 0u; r < POLL_BURST; r++) {
                    [[unroll]] for (uint m = 0u; m < EPT; m++) {
                        uint e = tid + m * WGS;
                        if (e < BD && v[m] == SENTINEL)
                            v[m] = POLL(ring[base + e]);
                    }
                }
                if ((++spins & 1023u) == 0u) {
                    if (LOAD(timed_out) != 0u) {
                        gave_up = true;
                    } else if (spins >= SPIN_LIMIT) {
                        STORE(timed_out, 1u);
                        gave_up = true;
                    }
                }
            }
            // Still pending without giving up: the loop was ended from outside (lavapipe's
            // limiter; an iteration that polled the last element in vain counts too).
            if (pending && !gave_up) {
                STORE(timed_out, 1u);
                gave_up = true;
            }
            [[unroll]] for (uint m = 0u; m < EPT; m++) {
                uint e = tid + m * WGS;
                if (e < BD)
                    zs[e] = FROM_BITS(v[m]);
            }
        }
        barrier();
        if (summer) {
            PRECISE REAL acc[B];
            [[unroll]] for (uint b = 0u; b < B; b++)
                acc[b] = REAL(0);
            [[unroll]] for (uint u = 0u; u < NT; u++) {
                uint i = p + u * P;
                if (i < D) {
                    [[unroll]] for (uint b = 0u; b < B; b++) {
                        PRECISE REAL prod = zs[b * D + i] * areg[u];
                        acc[b] = acc[b] + prod;
                    }
                }
            }
            [[unroll]] for (uint b = 0u; b < B; b++)
                part[(b * NC + c) * P + p] = acc[b];
        }
        barrier();
        if (tid < B * NC) {
            uint rb = tid / NC, rc = tid % NC;
            uint j = j0 + rc;
            if (j < D) {
                uint pb = (rb * NC + rc) * P;
                REAL v[16];
                [[unroll]] for (uint q = 0u; q < 16u; q++)
                    v[q] = part[pb + q];
                PRECISE REAL t0 = v[0] + v[1], t1 = v[2] + v[3], t2 = v[4] + v[5], t3 = v[6] + v[7];
                PRECISE REAL t4 = v[8] + v[9], t5 = v[10] + v[11], t6 = v[12] + v[13], t7 = v[14] + v[15];
                PRECISE REAL u0 = t0 + t1, u1 = t2 + t3, u2 = t4 + t5, u3 = t6 + t7;
                PRECISE REAL w0 = u0 + u1, w1 = u2 + u3;
                PRECISE REAL outv = w0 + w1;
                BITS bits = TO_BITS(outv);
                STORE(ring[k * BD + rb * D + j], bits == SENTINEL ? BITS(QUIET_NAN) : bits);
                if (k + 1u == pc.nsteps)
                    z[pc.dst + rb * D + j] = outv;
                if (isnan(outv) || isinf(outv))
                    atomicMin(first_bad_step, s);
            }
        }
    }
    if (!finished)
        STORE(timed_out, 1u);
}
