/* SPDX-License-Identifier: MIT */
/* The plan cache of fft_vkfft.h: the one file that includes (the patched) vkFFT.h. */
#include "fft_vkfft.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <vkFFT.h>

struct fft_plan {
    uint32_t n, batch;
    enum fft_precision prec;
    enum fft_kind kind;
    int refs;
    /* One allocation holds the spectrum, then the real planes: VkFFT binds every buffer
     * from offset 0 of its VkBuffer and sizes some arrays by the spectrum buffer's size
     * even where it addresses the real one, so both must lie in one VkBuffer and every
     * size VkFFT is told must cover both. real and spectrum are views into `whole`. */
    struct vk_buffer whole, real, spectrum;
    /* VkFFT keeps pointers to these: they live as long as the plan. */
    VkBuffer handle;
    uint64_t bytes_total; /* whole.offset + whole.size: what VkFFT's descriptors span */
    VkFFTApplication app;
    bool app_ready;
    struct fft_plan *next;
};

struct fft_cache {
    struct vk_runtime *vk;
    VkFence fence; /* VkFFT's own uploads of its twiddle tables at plan creation */
    struct fft_plan *plans;
};

/* glslang's process-wide state: VkFFT compiles its kernels with it. Initialised once and
 * never finalised (finalising while another cache lives would break it). */
static pthread_once_t glslang_once = PTHREAD_ONCE_INIT;
static int glslang_ok;
static void glslang_init_once(void) { glslang_ok = glslang_initialize_process(); }

static uint64_t elem_bytes(enum fft_precision prec) { return prec == FFT_F64 ? 8 : 4; }

static uint64_t spectrum_plane(uint32_t n, enum fft_kind kind)
{
    return kind == FFT_R2C ? (uint64_t)n * (n / 2 + 1) : (uint64_t)n * n;
}

/* Storage-buffer offsets must be aligned to minStorageBufferOffsetAlignment (<= 256). */
static uint64_t align256(uint64_t x) { return (x + 255) & ~(uint64_t)255; }

uint64_t fft_plan_bytes(uint32_t n, uint32_t batch, enum fft_precision prec, enum fft_kind kind)
{
    uint64_t spec = align256((uint64_t)batch * spectrum_plane(n, kind) * 2 * elem_bytes(prec));
    /* The real planes get as much room as the spectrum (docs/numerics.md "LES", VkFFT notes). */
    return kind == FFT_R2C ? 2 * spec : spec;
}

int fft_cache_create(struct vk_runtime *vk, struct fft_cache **out, struct dashi_error *err)
{
    pthread_once(&glslang_once, glslang_init_once);
    if (!glslang_ok)
        return dashi_fail(err, DASHI_E_INTERNAL, "", "glslang_initialize_process failed");
    struct fft_cache *c = calloc(1, sizeof *c);
    if (!c)
        return dashi_fail(err, DASHI_E_INTERNAL, "", "out of host memory");
    c->vk = vk;
    VkFenceCreateInfo fi = {.sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
    VkResult r = vkCreateFence(vk->device, &fi, NULL, &c->fence);
    if (r != VK_SUCCESS) {
        free(c);
        return vk_fail(err, r, "vkCreateFence");
    }
    *out = c;
    return 0;
}

static void plan_free(struct fft_cache *c, struct fft_plan *p)
{
    if (p->app_ready)
        deleteVkFFT(&p->app);
    vk_buffer_free(c->vk, &p->whole);
    free(p);
}

void fft_cache_destroy(struct fft_cache *c)
{
    if (!c)
        return;
    vkDeviceWaitIdle(c->vk->device);
    while (c->plans) {
        struct fft_plan *p = c->plans;
        c->plans = p->next;
        plan_free(c, p);
    }
    vkDestroyFence(c->vk->device, c->fence, NULL);
    free(c);
}

void fft_cache_trim(struct fft_cache *c)
{
    struct fft_plan **pp = &c->plans;
    while (*pp) {
        struct fft_plan *p = *pp;
        if (p->refs == 0) {
            *pp = p->next;
            plan_free(c, p);
        } else {
            pp = &p->next;
        }
    }
}

static int plan_build(struct fft_cache *c, struct fft_plan *p, struct dashi_error *err)
{
    struct vk_runtime *vk = c->vk;
    uint64_t total = fft_plan_bytes(p->n, p->batch, p->prec, p->kind);
    if (vk_buffer_alloc(vk, total, VK_MEM_DEVICE, &p->whole, err) != 0)
        return -1;
    uint64_t spec_room = p->kind == FFT_R2C ? total / 2 : total;
    p->spectrum = p->whole;
    p->spectrum.size = spec_room;
    p->spectrum.block = -1; /* a view: freed through `whole` */
    if (p->kind == FFT_R2C) {
        p->real = p->whole;
        p->real.offset += spec_room;
        p->real.size = spec_room;
        p->real.block = -1;
    }
    p->handle = p->whole.buffer;
    p->bytes_total = p->whole.offset + p->whole.size;

    VkFFTConfiguration cfg = {0};
    cfg.FFTdim = 2;
    cfg.size[0] = p->n; /* x: the contiguous axis */
    cfg.size[1] = p->n;
    cfg.numberBatches = p->batch;
    cfg.physicalDevice = &vk->phys;
    cfg.device = &vk->device;
    cfg.queue = &vk->queue;
    cfg.commandPool = &vk->cmd_pool;
    cfg.fence = &c->fence;
    cfg.isCompilerInitialized = 1;
    cfg.doublePrecision = p->prec == FFT_F64;
    cfg.normalize = 1;
    cfg.specifyOffsetsAtLaunch = 1; /* offsets become push constants: sub-allocated ranges */
    cfg.bufferNum = 1;
    cfg.buffer = &p->handle;
    cfg.bufferSize = &p->bytes_total;
    if (p->kind == FFT_R2C) {
        cfg.performR2C = 1;
        cfg.isInputFormatted = 1;
        cfg.inverseReturnToInputBuffer = 1;
        cfg.inputBufferNum = 1;
        cfg.inputBuffer = &p->handle;
        cfg.inputBufferSize = &p->bytes_total;
        cfg.inputBufferStride[0] = p->n;
        cfg.inputBufferStride[1] = (uint64_t)p->n * p->n;
        cfg.inputBufferStride[2] = (uint64_t)p->n * p->n;
    }
    VkFFTResult r = initializeVkFFT(&p->app, cfg);
    if (r == VKFFT_ERROR_FAILED_TO_ALLOCATE_MEMORY || r == VKFFT_ERROR_FAILED_TO_CREATE_BUFFER ||
        r == VKFFT_ERROR_FAILED_TO_BIND_BUFFER_MEMORY)
        return dashi_fail(err, DASHI_E_DEVICE_MEMORY, "fft",
                          "out of device memory building the VkFFT plan %ux%u batch %u (VkFFT error %d)", p->n,
                          p->n, p->batch, (int)r);
    if (r != VKFFT_SUCCESS)
        return dashi_fail(err, DASHI_E_VULKAN, "fft", "VkFFT plan %ux%u batch %u (%s, %s) failed: VkFFT error %d",
                          p->n, p->n, p->batch, p->prec == FFT_F64 ? "f64" : "f32",
                          p->kind == FFT_R2C ? "r2c" : "c2c", (int)r);
    p->app_ready = true;
    return 0;
}

int fft_plan_get(struct fft_cache *c, uint32_t n, uint32_t batch, enum fft_precision prec, enum fft_kind kind,
                 struct fft_plan **out, struct dashi_error *err)
{
    if (n < 2 || batch < 1)
        return dashi_fail(err, DASHI_E_BAD_VALUE, "N", "FFT of size %u, batch %u", n, batch);
    for (struct fft_plan *p = c->plans; p; p = p->next) {
        if (p->n == n && p->batch == batch && p->prec == prec && p->kind == kind) {
            p->refs++;
            *out = p;
            return 0;
        }
    }
    struct fft_plan *p = calloc(1, sizeof *p);
    if (!p)
        return dashi_fail(err, DASHI_E_INTERNAL, "", "out of host memory");
    p->n = n;
    p->batch = batch;
    p->prec = prec;
    p->kind = kind;
    p->whole.block = -1;
    p->real.block = -1;
    p->spectrum.block = -1;
    if (plan_build(c, p, err) != 0) {
        plan_free(c, p);
        return -1;
    }
    p->refs = 1;
    p->next = c->plans;
    c->plans = p;
    *out = p;
    return 0;
}

void fft_plan_put(struct fft_cache *c, struct fft_plan *p)
{
    (void)c;
    if (p && p->refs > 0)
        p->refs--;
}

const struct vk_buffer *fft_plan_real(const struct fft_plan *p) { return &p->real; }
const struct vk_buffer *fft_plan_spectrum(const struct fft_plan *p) { return &p->spectrum; }
uint64_t fft_plan_spectrum_plane(const struct fft_plan *p) { return spectrum_plane(p->n, p->kind); }

static int record(struct fft_plan *p, struct vk_cmd *c, int inverse, struct dashi_error *err)
{
    if (!c->recording)
        return dashi_fail(err, DASHI_E_INTERNAL, "fft", "command buffer is not recording");
    VkFFTLaunchParams lp = {0};
    lp.commandBuffer = &c->cb;
    lp.buffer = &p->handle;
    lp.bufferOffset = p->spectrum.offset;
    if (p->kind == FFT_R2C) {
        lp.inputBuffer = &p->handle;
        lp.inputBufferOffset = p->real.offset;
    }
    VkFFTResult r = VkFFTAppend(&p->app, inverse ? 1 : -1, &lp);
    if (r != VKFFT_SUCCESS)
        return dashi_fail(err, DASHI_E_VULKAN, "fft", "VkFFTAppend (%s) failed: VkFFT error %d",
                          inverse ? "inverse" : "forward", (int)r);
    return 0;
}

int fft_record_forward(struct fft_plan *p, struct vk_cmd *c, struct dashi_error *err)
{
    return record(p, c, 0, err);
}

int fft_record_inverse(struct fft_plan *p, struct vk_cmd *c, struct dashi_error *err)
{
    return record(p, c, 1, err);
}
