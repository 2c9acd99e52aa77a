#version 450
// Carrier passes on a periodic n×n int field (daemon/num/closure_gpu.c; the host reference
// is daemon/num/closure.c). One 16×16 tile per workgroup with a halo of 2 in shared memory.
//   op 0 STATS     level-0 statistics of the input plane (nothing written)
//   op 1 CLOSURE   out = M_eta(K_ann(in)) (docs/numerics.md "Closure")
//   op 2 SATURATE  out = sign(3×3 sum of in) (the reference's dilation)
// Statistics of the output plane per level: counters (active, killed, #+1, #-1) by one
// atomicAdd per workgroup (integer: order-independent), and per-workgroup partial sums
// of |field| over the support (reduced later in a fixed order).
// Once a level killed nothing (a fixed point), later levels only copy: recording more
// levels than needed costs a dispatch each, never changes the result.
// A dispatch covers a batch of frames: gl_WorkGroupID.z is the frame, whose carrier
// planes, counters, partials and field start at the f_* strides from frame 0's.
#extension GL_EXT_shader_explicit_arithmetic_types_float64 : enable
layout(local_size_x = 16, local_size_y = 16) in;
layout(std430, binding = 0) buffer Carrier { int s[]; };
layout(std430, binding = 1) readonly buffer Field { double w[]; };
layout(std430, binding = 2) buffer Counters { uint cnt[]; };
layout(std430, binding = 3) writeonly buffer Part { double part[]; };
layout(push_constant) uniform P {
    uint n, op, level, eta;
    uint in_off, out_off;   // element offsets of the input and output planes
    uint cnt_base;          // counters of level L at cnt_base + 4L
    uint part_off;          // this level's partials (one per workgroup)
    uint field_off;         // element offset of the field
    uint f_carrier, f_cnt, f_part, f_field; // per-frame strides
} p;

const uint T = 16u;
shared int tile[(T + 4u) * (T + 4u)];
shared int ann[(T + 2u) * (T + 2u)];
shared double red[256];
shared uint sc[4];

uint wrap(int i) { int n = int(p.n); return uint(((i % n) + n) % n); }

void main()
{
    uint lid = gl_LocalInvocationIndex;
    uint wg = gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x;
    uint ti = gl_LocalInvocationID.y, tj = gl_LocalInvocationID.x;
    uint gi = gl_WorkGroupID.y * T + ti, gj = gl_WorkGroupID.x * T + tj;
    bool inside = gi < p.n && gj < p.n;
    uint idx = gi * p.n + gj;
    uint fz = gl_WorkGroupID.z;
    uint in_off = p.in_off + fz * p.f_carrier, out_off = p.out_off + fz * p.f_carrier;
    uint cnt_base = p.cnt_base + fz * p.f_cnt, part_off = p.part_off + fz * p.f_part;
    uint field_off = p.field_off + fz * p.f_field;
    // Past the fixed point (the previous level killed nothing): copy and stop.
    if (p.op != 0u && p.level >= 2u && cnt[cnt_base + 4u * (p.level - 1u) + 1u] == 0u) {
        if (inside)
            s[out_off + idx] = s[in_off + idx];
        return;
    }
    if (lid < 4u)
        sc[lid] = 0u;
    const uint W = T + 4u;
    for (uint k = lid; k < W * W; k += 256u) {
        int i = int(gl_WorkGroupID.y * T + k / W) - 2, j = int(gl_WorkGroupID.x * T + k % W) - 2;
        tile[k] = s[in_off + wrap(i) * p.n + wrap(j)];
    }
    barrier();
    if (p.op == 1u) {
        const uint A = T + 2u;
        for (uint k = lid; k < A * A; k += 256u) {
            uint r = k / A + 1u, c = k % A + 1u;
            int v = tile[r * W + c];
            bool pos = false, neg = false;
            for (uint di = 0u; di < 3u; di++)
                for (uint dj = 0u; dj < 3u; dj++) {
                    int x = tile[(r + di - 1u) * W + c + dj - 1u];
                    pos = pos || x > 0;
                    neg = neg || x < 0;
                }
            ann[k] = (pos && neg) ? 0 : v;
        }
        barrier();
    }
    int in_v = tile[(ti + 2u) * W + tj + 2u];
    int out_v = in_v;
    if (p.op == 1u) {
        const uint A = T + 2u;
        int sum = 0;
        for (uint di = 0u; di < 3u; di++)
            for (uint dj = 0u; dj < 3u; dj++)
                sum += ann[(ti + di) * A + tj + dj];
        int a = ann[(ti + 1u) * A + tj + 1u];
        out_v = (a != 0 && abs(sum) >= int(p.eta)) ? sign(sum) : 0;
    } else if (p.op == 2u) {
        int sum = 0;
        for (uint di = 0u; di < 3u; di++)
            for (uint dj = 0u; dj < 3u; dj++)
                sum += tile[(ti + 1u + di) * W + tj + 1u + dj];
        out_v = sign(sum);
    }
    double a = 0.0;
    if (inside) {
        if (p.op != 0u)
            s[out_off + idx] = out_v;
        if (out_v != 0) {
            atomicAdd(sc[0], 1u);
            atomicAdd(sc[out_v > 0 ? 2 : 3], 1u);
            a = abs(w[field_off + idx]);
        }
        if (out_v != in_v)
            atomicAdd(sc[1], 1u);
    }
    red[lid] = a;
    barrier();
    for (uint h = 128u; h > 0u; h >>= 1u) {
        if (lid < h)
            red[lid] += red[lid + h];
        barrier();
    }
    if (lid == 0u) {
        part[part_off + wg] = red[0];
        for (uint q = 0u; q < 4u; q++)
            if (sc[q] != 0u)
                atomicAdd(cnt[cnt_base + 4u * p.level + q], sc[q]);
    }
}
