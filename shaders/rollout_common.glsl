// Shared by the rollout kernels: element type, buffers and the non-finite flag.
// Bindings: 0 = A (D×D row-major), 1 = states (two B×D slots, ping-pong), 2 = flags.
#ifdef F64
#define REAL double
#else
#define REAL float
#endif

#ifndef SPLIT // the split product reads A's digits at binding 0 instead (rollout_split.comp)
layout(std430, binding = 0) readonly buffer Operator { REAL a[]; };
#endif
layout(std430, binding = 1) buffer States { REAL z[]; };
// flags[0]: smallest step index (within the run, 1-based) whose state holds a NaN/Inf;
// the host resets it to 0xFFFFFFFF before each run.
layout(std430, binding = 2) buffer Flags { uint first_bad_step; };

// src/dst: element offsets of the input and output slots in `z`.
layout(push_constant) uniform Push {
    uint step;
    uint src;
    uint dst;
} pc;

void store_output(uint index, REAL v)
{
    z[pc.dst + index] = v;
    if (isnan(v) || isinf(v))
        atomicMin(first_bad_step, pc.step);
}
