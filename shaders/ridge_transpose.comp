#version 450
// out = inᵀ for the ridge fit (daemon/num/ridge_gpu.c): in is R×C at in_off (row stride C),
// out is C×R at out_off (row stride R); both in one buffer. 32×32 tiles through shared
// memory, so reads and writes both go along rows. Dispatch: (ceil(C/32), ceil(R/32), 1).
#extension GL_EXT_shader_explicit_arithmetic_types_float64 : enable
layout(local_size_x = 32, local_size_y = 8) in;
layout(std430, binding = 0) buffer Mat { double m[]; };
layout(push_constant) uniform P {
    uint R, C, in_off, out_off;
} p;

shared double tile[32][33];

void main()
{
    uint tx = gl_LocalInvocationID.x, ty = gl_LocalInvocationID.y;
    uint r0 = gl_WorkGroupID.y * 32u, c0 = gl_WorkGroupID.x * 32u;
    for (uint y = ty; y < 32u; y += 8u)
        if (r0 + y < p.R && c0 + tx < p.C)
            tile[y][tx] = m[p.in_off + (r0 + y) * p.C + c0 + tx];
    barrier();
    for (uint y = ty; y < 32u; y += 8u)
        if (c0 + y < p.C && r0 + tx < p.R)
            m[p.out_off + (c0 + y) * p.R + r0 + tx] = tile[tx][y];
}
