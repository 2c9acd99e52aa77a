// Shared by the LES kernels: the storage type follows the job's precision (-DFP64 or
// not); reductions always accumulate in double so the series do not depend on it.
#extension GL_EXT_shader_explicit_arithmetic_types_float64 : enable
#ifdef FP64
#define real double
#define cplx dvec2
#else
#define real float
#define cplx vec2
#endif
#define LES_WG 256u
