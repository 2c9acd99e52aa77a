/* SPDX-License-Identifier: MIT */
/* The decode engine of decode.h. Frames are decoded in groups: every pass below is one
 * dispatch (and every FFT one batched transform) over all frames of a group, whose
 * scratch planes lie side by side, so a run costs ~60 dispatches per group rather
 * than per frame. Per group, recorded into one command buffer:
 *
 *   SCATTER z -> spec (low band; dashi: + anchors)      inverse C2C (plan1)
 *   REAL -> ω_lp   SMOOTH_X, SMOOTH_Y -> R, max|R|      reduce(max)
 *   THRESH -> carrier   saturate(8) | closure(L) with per-level statistics
 *   FILL -> spec2 (mid, high planes)                    inverse C2C (plan2, 2 planes per frame)
 *   GATE -> r_mid, r_high, Σr²                          reduce(sum)
 *     dashi: GATE -> spec2   forward C2C   BAND   inverse C2C   PROJECTED -> r_mid, r_high, Σr²
 *     Gating by the carrier is a product in space, so it spreads each residual over every
 *     band, the low band (known exactly from z) included; projecting the gated residual
 *     back onto the band it was synthesised for keeps it where the encoder measured its
 *     energy (the rescaling to n_band·E follows). On the refdata case this is what makes
 *     dashi's error below the reference's at every step (docs/numerics.md "Decode").
 *   COMBINE -> ω̂ (and the snapshot)
 *   METRIC -> sums vs truth, spec2 = (ω̂, ω)             forward C2C (plan2)
 *   ENERGY -> spectral energy sums                      reduce(sum)
 *
 * Energy uses Parseval on the full spectrum: E = 1/(2N⁴) Σ (ky²[i≠N/2] + kx²[j≠N/2])
 * |ω̂_k|²/K2², i.e. u, v from ω with the Nyquist row/column dropped as the LES does. */
#include "decode.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "closure_gpu.h"
#include "pcg64.h"

#define WG 256u
#define NPLANES 6u
/* Frames per group: as many as max_batch allows within this much scratch (field
 * planes, carrier planes, both FFT plans' spectra). */
#define GROUP_SCRATCH_BYTES (256ull << 20)
#define PLANE_RLP 2u /* field plane of R = ω_lp − smooth(ω_lp), the detail the threshold reads */
/* Result slots per frame (shaders/decode.comp). */
#define R_MAX 0u
#define R_MSQ 1u
#define R_SUMS 3u   /* Σh Σw Σh² Σw² Σhw Σ(w−h)² E_h E_w */
#define R_ABS 11u   /* closure |ω_lp| sums per level */
#define NQUANT 8u   /* partial quantities of the metric pass */
#define C_LOW 1u
#define C_MID 2u
#define C_HIGH 3u
#define C_ANCHOR 4u

enum { OP_SCATTER, OP_REAL, OP_SMOOTH_X, OP_SMOOTH_Y, OP_THRESH, OP_FILL, OP_GATE, OP_COMBINE, OP_METRIC, OP_ENERGY,
       OP_BAND, OP_PROJECTED };

struct decode_push {
    uint32_t n, op, slot, gx;
    uint32_t M, topk, D, box;
    uint32_t seed_lo, seed_hi, pad2, pad3;
    uint32_t res_stride, groups, carrier_off, flags;
    uint32_t n_mid, n_high, part_frame, pad1;
    double tau;
};
struct reduce_push {
    uint32_t count, stride, base, dst, op, fpart, fres;
};

struct decode_gpu {
    struct vk_runtime *vk;
    struct fft_cache *fft;
    struct decode_config cfg;
    uint32_t D, levels, res_stride, groups, gx, gy, n_mid, n_high, last_plane;
    uint32_t group;    /* frames per group (dispatch) */
    uint32_t part_frame; /* partials per frame: NQUANT*groups, then the closure's */
    uint32_t last_fz;  /* group position of the last frame decoded */
    uint32_t last_slot; /* its result slot in the run */
    struct fft_plan *plan1, *plan2;
    struct vk_buffer fields, truth, snap, z, meta, kv, phasor, carrier, part, res, counters, steps;
    /* The truth's frames on the device (decode_gpu_bind_truth; not owned), or NULL. */
    const struct vk_buffer *truth_frames;
    uint64_t truth_count;
    const struct vk_kernel *k_decode, *k_reduce;
    VkDescriptorSet ds_decode, ds_reduce;
    bool have_decode_set, have_reduce_set, have_cmd;
    struct closure_gpu *closure;
    struct vk_cmd cmd;
    double *phases;    /* reference: host phasors of one batch */
    uint32_t *steps_host; /* t of each slot as (lo, hi), mapped */
    double *res_host;
    uint32_t *cnt_host;
};

void decode_wavenumbers(uint32_t n, double *k)
{
    double dx = (2.0 * M_PI) / (double)n;
    double val = 1.0 / ((double)n * dx);
    for (uint32_t m = 0; m < n; m++) {
        double mm = m < (n + 1) / 2 ? (double)m : (double)m - (double)n;
        k[m] = mm * val * 2.0 * M_PI;
    }
}

static uint32_t levels_of(const struct decode_config *cfg)
{
    return cfg->dashi ? cfg->max_levels : SATURATE_PASSES;
}

int decode_config_validate(const struct decode_config *cfg, struct dashi_error *err)
{
    if (cfg->n < 8 || cfg->n % 2 || cfg->n > 16384)
        return dashi_fail(err, DASHI_E_BAD_VALUE, "N", "N must be even and in [8, 16384], got %u", cfg->n);
    size_t nn = (size_t)cfg->n * cfg->n;
    uint32_t m = 0;
    for (size_t i = 0; i < nn; i++)
        m += cfg->mask_low[i] != 0;
    if (m != cfg->M || m == 0)
        return dashi_fail(err, DASHI_E_BAD_VALUE, "mask_low", "mask_low has %u set cells, the proxy expects M = %u",
                          m, cfg->M);
    if (!(cfg->tau > 0 && cfg->tau <= 1))
        return dashi_fail(err, DASHI_E_BAD_VALUE, "tau", "tau must be in (0, 1]");
    if (cfg->box < 1 || cfg->box % 2 == 0 || cfg->box > cfg->n)
        return dashi_fail(err, DASHI_E_BAD_VALUE, "smooth", "smooth must be odd and in [1, N]");
    if (cfg->dashi && (cfg->max_levels < 1 || cfg->max_levels > DECODE_MAX_LEVELS))
        return dashi_fail(err, DASHI_E_BAD_VALUE, "max_levels", "max_levels must be in [1, %d]", DECODE_MAX_LEVELS);
    if (cfg->max_batch < 1 || cfg->max_batch > DECODE_MAX_BATCH)
        return dashi_fail(err, DASHI_E_BAD_VALUE, "batch", "batch must be in [1, %d]", DECODE_MAX_BATCH);
    if (!(cfg->k_cut >= 0 && cfg->mid_cut >= cfg->k_cut))
        return dashi_fail(err, DASHI_E_BAD_VALUE, "mid_cut", "need 0 <= k_cut <= mid_cut");
    double *k = malloc(cfg->n * sizeof *k);
    if (!k)
        return dashi_fail(err, DASHI_E_INTERNAL, "", "out of host memory");
    decode_wavenumbers(cfg->n, k);
    for (uint32_t a = 0; a < cfg->topk; a++) {
        int64_t idx = cfg->anchors[a];
        if (idx < 0 || (uint64_t)idx >= nn || cfg->mask_low[idx]) {
            free(k);
            return dashi_fail(err, DASHI_E_BAD_VALUE, "anchors", "anchor %u (%lld) is not a cell outside the low band",
                              a, (long long)idx);
        }
        double kx = k[idx % cfg->n], ky = k[idx / cfg->n], kmag = sqrt(kx * kx + ky * ky);
        if (!(kmag > cfg->k_cut && kmag <= cfg->mid_cut)) {
            free(k);
            return dashi_fail(err, DASHI_E_BAD_VALUE, "anchors", "anchor %u (%lld) is not in the mid band", a,
                              (long long)idx);
        }
        for (uint32_t b = 0; b < a; b++)
            if (cfg->anchors[b] == idx) {
                free(k);
                return dashi_fail(err, DASHI_E_BAD_VALUE, "anchors", "anchor %lld appears twice", (long long)idx);
            }
    }
    free(k);
    return 0;
}

/* Frames per group (see GROUP_SCRATCH_BYTES): field planes, 2 carrier planes, the
 * spectra of plan1 (1 plane) and plan2 (2 planes) per frame. */
static uint32_t group_of(const struct decode_config *cfg)
{
    uint64_t nn = (uint64_t)cfg->n * cfg->n, per_frame = nn * (NPLANES * 8 + 2 * 4 + 3 * 16);
    uint64_t g = GROUP_SCRATCH_BYTES / per_frame;
    return g < 1 ? 1 : g > cfg->max_batch ? cfg->max_batch : (uint32_t)g;
}

/* Buffer sizes, shared by the estimate and the allocation. */
struct sizes {
    uint64_t fields, truth, snap, z, meta, kv, phasor, carrier, part, res, counters, steps;
};

static struct sizes sizes_of(const struct decode_config *cfg, uint32_t groups)
{
    uint64_t nn = (uint64_t)cfg->n * cfg->n, B = cfg->max_batch, L = levels_of(cfg), G = group_of(cfg);
    struct sizes s;
    s.fields = G * NPLANES * nn * 8;
    s.truth = (cfg->truth ? B : 1) * nn * 8;
    s.snap = (cfg->snapshots ? B : 1) * nn * 8;
    s.z = B * (2ull * cfg->M + 4 + 2ull * cfg->topk) * 8;
    s.meta = 2 * nn * 4;
    s.kv = (uint64_t)cfg->n * 8;
    s.phasor = cfg->dashi ? 16 : B * 2 * nn * 16;
    s.carrier = G * 2 * nn * 4;
    s.part = G * ((uint64_t)NQUANT * groups + (L + 1) * closure_gpu_groups(cfg->n)) * 8;
    s.res = B * (R_ABS + L + 1) * 8;
    s.counters = B * (L + 1) * 4 * 4;
    s.steps = B * 2 * 4;
    return s;
}

uint64_t decode_gpu_memory_estimate(const struct decode_config *cfg)
{
    uint64_t nn = (uint64_t)cfg->n * cfg->n;
    struct sizes s = sizes_of(cfg, (uint32_t)((nn + WG - 1) / WG));
    uint32_t G = group_of(cfg);
    return fft_plan_bytes(cfg->n, G, FFT_F64, FFT_C2C) + fft_plan_bytes(cfg->n, 2 * G, FFT_F64, FFT_C2C) + s.fields +
           s.truth + s.snap + s.z + s.meta + s.kv + s.phasor + s.carrier + s.part + s.res + s.counters + s.steps;
}

/* Band codes and positions: low (position in z's low block), anchor (position in the
 * anchor block), mid, high; cells of none are 0. */
static int upload_meta(struct decode_gpu *d, const struct decode_config *cfg, struct dashi_error *err)
{
    uint32_t n = cfg->n;
    size_t nn = (size_t)n * n;
    uint32_t *meta = calloc(2 * nn, sizeof *meta);
    double *k = malloc(n * sizeof *k);
    if (!meta || !k) {
        free(meta);
        free(k);
        return dashi_fail(err, DASHI_E_INTERNAL, "", "out of host memory");
    }
    decode_wavenumbers(n, k);
    uint32_t low = 0;
    for (size_t i = 0; i < nn; i++)
        if (cfg->mask_low[i]) {
            meta[i] = C_LOW;
            meta[nn + i] = low++;
        }
    for (uint32_t a = 0; a < cfg->topk; a++) {
        meta[cfg->anchors[a]] = C_ANCHOR;
        meta[nn + cfg->anchors[a]] = a;
    }
    d->n_mid = d->n_high = 0;
    for (size_t i = 0; i < nn; i++) {
        if (meta[i])
            continue;
        double kx = k[i % n], ky = k[i / n];
        double kmag = sqrt(kx * kx + ky * ky);
        if (kmag > cfg->k_cut && kmag <= cfg->mid_cut) {
            meta[i] = C_MID;
            d->n_mid++;
        } else if (kmag > cfg->mid_cut) {
            meta[i] = C_HIGH;
            d->n_high++;
        }
    }
    int rc = vk_upload(d->vk, &d->meta, 0, meta, 2 * nn * sizeof *meta, err);
    if (rc == 0)
        rc = vk_upload(d->vk, &d->kv, 0, k, n * sizeof *k, err);
    free(meta);
    free(k);
    return rc;
}

static int make_sets(struct decode_gpu *d, struct dashi_error *err)
{
    const struct vk_buffer *dec[] = {fft_plan_spectrum(d->plan1), fft_plan_spectrum(d->plan2), &d->fields,
                                     &d->truth, &d->snap, &d->z, &d->meta, &d->kv, &d->phasor, &d->carrier,
                                     &d->part, &d->res, &d->steps};
    const struct vk_buffer *red[] = {&d->part, &d->res};
    if (vk_kernel_get(d->vk, "decode", 13, sizeof(struct decode_push), NULL, 0, &d->k_decode, err) != 0 ||
        vk_kernel_get(d->vk, "dashi_reduce", 2, sizeof(struct reduce_push), NULL, 0, &d->k_reduce, err) != 0 ||
        vk_descriptor_set(d->vk, d->k_decode, dec, &d->ds_decode, err) != 0)
        return -1;
    d->have_decode_set = true;
    if (vk_descriptor_set(d->vk, d->k_reduce, red, &d->ds_reduce, err) != 0)
        return -1;
    d->have_reduce_set = true;
    return closure_gpu_create(d->vk, d->cfg.n, &d->carrier, &d->fields, &d->counters, &d->part, &d->res,
                              &d->closure, err);
}

int decode_gpu_create(struct vk_runtime *vk, struct fft_cache *fft, const struct decode_config *cfg,
                      struct decode_gpu **out, struct dashi_error *err)
{
    if (decode_config_validate(cfg, err) != 0)
        return -1;
    struct decode_gpu *d = calloc(1, sizeof *d);
    if (!d)
        return dashi_fail(err, DASHI_E_INTERNAL, "", "out of host memory");
    d->vk = vk;
    d->fft = fft;
    d->cfg = *cfg;
    d->cfg.mask_low = NULL; /* not kept: uploaded as band codes */
    d->cfg.anchors = NULL;
    d->D = decode_dim(cfg);
    d->levels = levels_of(cfg);
    d->res_stride = R_ABS + d->levels + 1;
    uint64_t nn = (uint64_t)cfg->n * cfg->n;
    struct vk_grid g = vk_grid_for(nn, WG);
    d->gx = g.gx;
    d->gy = g.gy;
    d->groups = g.gx * g.gy;
    d->group = group_of(cfg);
    d->part_frame = NQUANT * d->groups + (d->levels + 1) * closure_gpu_groups(cfg->n);
    struct vk_buffer *bufs[] = {&d->fields, &d->truth, &d->snap, &d->z, &d->meta, &d->kv,
                                &d->phasor, &d->carrier, &d->part, &d->res, &d->counters, &d->steps};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        bufs[i]->block = -1;
    struct sizes s = sizes_of(cfg, d->groups);
    uint64_t want[] = {s.fields, s.truth, s.snap, s.z, s.meta, s.kv, s.phasor, s.carrier, s.part, s.res, s.counters,
                       s.steps};
    d->res_host = malloc(s.res);
    d->cnt_host = malloc(s.counters);
    if (!cfg->dashi)
        d->phases = malloc(s.phasor);
    if (!d->res_host || !d->cnt_host || (!cfg->dashi && !d->phases)) {
        decode_gpu_destroy(d);
        return dashi_fail(err, DASHI_E_TOO_LARGE, "N", "out of host memory");
    }
    if (fft_plan_get(fft, cfg->n, d->group, FFT_F64, FFT_C2C, &d->plan1, err) != 0 ||
        fft_plan_get(fft, cfg->n, 2 * d->group, FFT_F64, FFT_C2C, &d->plan2, err) != 0)
        goto fail;
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) /* steps: written by the host per run */
        if (vk_buffer_alloc(vk, want[i], bufs[i] == &d->steps ? VK_MEM_HOST : VK_MEM_DEVICE, bufs[i], err) != 0)
            goto fail;
    d->steps_host = d->steps.mapped;
    if (upload_meta(d, cfg, err) != 0 || make_sets(d, err) != 0 || vk_cmd_create(vk, &d->cmd, err) != 0)
        goto fail;
    d->have_cmd = true;
    *out = d;
    return 0;
fail:
    decode_gpu_destroy(d);
    return -1;
}

void decode_gpu_destroy(struct decode_gpu *d)
{
    if (!d)
        return;
    if (d->have_cmd)
        vk_cmd_destroy(d->vk, &d->cmd);
    closure_gpu_destroy(d->closure);
    if (d->have_decode_set)
        vk_descriptor_set_free(d->vk, d->ds_decode);
    if (d->have_reduce_set)
        vk_descriptor_set_free(d->vk, d->ds_reduce);
    struct vk_buffer *bufs[] = {&d->fields, &d->truth, &d->snap, &d->z, &d->meta, &d->kv,
                                &d->phasor, &d->carrier, &d->part, &d->res, &d->counters, &d->steps};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        vk_buffer_free(d->vk, bufs[i]);
    if (d->plan1)
        fft_plan_put(d->fft, d->plan1);
    if (d->plan2)
        fft_plan_put(d->fft, d->plan2);
    free(d->phases);
    free(d->res_host);
    free(d->cnt_host);
    free(d);
}

/* The reference's phases: one default_rng per frame, N² draws for the mid band, then N²
 * for the high band, each only when that band is synthesised (n_band > 0, E > 0). */
static void reference_phasors(struct decode_gpu *d, uint32_t slot, uint64_t t, const double *z)
{
    size_t nn = (size_t)d->cfg.n * d->cfg.n;
    struct pcg64 g;
    pcg64_seed(&g, d->cfg.residual_seed + 1000003ull * t);
    for (uint32_t b = 0; b < 2; b++) {
        double e = z[2 * d->cfg.M + 1 + b];
        uint32_t nb = b == 0 ? d->n_mid : d->n_high;
        if (nb == 0 || !(e > 0))
            continue;
        double *out = d->phases + ((size_t)slot * 2 + b) * nn * 2;
        for (size_t i = 0; i < nn; i++) {
            double phi = pcg64_uniform(&g, 0.0, 2.0 * M_PI);
            out[2 * i] = cos(phi);
            out[2 * i + 1] = sin(phi);
        }
    }
}

/* One pass over the `frames` frames of a group. */
static void dispatch(struct decode_gpu *d, struct decode_push *p, uint32_t op, uint32_t frames)
{
    p->op = op;
    vk_cmd_dispatch(&d->cmd, d->k_decode, d->ds_decode, p, d->gx, d->gy, frames);
    vk_cmd_barrier(&d->cmd);
}

/* Quantities q < nq of each frame's partials -> res[dst + frame's row + q]. */
static void reduce(struct decode_gpu *d, uint32_t nq, uint32_t dst, uint32_t op, uint32_t frames)
{
    struct reduce_push rp = {d->groups, d->groups, 0, dst, op, d->part_frame, d->res_stride};
    vk_cmd_dispatch(&d->cmd, d->k_reduce, d->ds_reduce, &rp, nq, frames, 1);
    vk_cmd_barrier(&d->cmd);
}

/* Frames slot .. slot+frames-1 of the run, in group positions 0 .. frames-1. */
static int record_group(struct decode_gpu *d, uint32_t slot, uint32_t frames, bool metrics, bool snapshots,
                        struct dashi_error *err)
{
    const struct decode_config *cfg = &d->cfg;
    uint32_t nn = cfg->n * cfg->n, rb = slot * d->res_stride;
    uint64_t seed = cfg->residual_seed;
    struct decode_push p = {cfg->n, 0, slot, d->gx, cfg->M, cfg->topk, d->D, cfg->box,
                            (uint32_t)seed, (uint32_t)(seed >> 32), 0, 0,
                            d->res_stride, d->groups, 0,
                            (cfg->dashi ? 1u : 0u) | (cfg->truth ? 2u : 0u) | (snapshots ? 4u : 0u),
                            d->n_mid, d->n_high, d->part_frame, 0, cfg->tau};
    dispatch(d, &p, OP_SCATTER, frames);
    if (fft_record_inverse(d->plan1, &d->cmd, err) != 0)
        return -1;
    vk_cmd_barrier(&d->cmd);
    dispatch(d, &p, OP_REAL, frames);
    dispatch(d, &p, OP_SMOOTH_X, frames);
    dispatch(d, &p, OP_SMOOTH_Y, frames);
    reduce(d, 1, rb + R_MAX, 1, frames);
    dispatch(d, &p, OP_THRESH, frames);
    struct closure_record cr = {cfg->dashi ? CLOSURE_OP_CLOSURE : CLOSURE_OP_SATURATE, d->levels, cfg->eta,
                                0 /* ω_lp plane */, slot * (d->levels + 1) * 4, NQUANT * d->groups, rb + R_ABS,
                                frames, 2 * nn, (d->levels + 1) * 4, d->part_frame, NPLANES * nn, d->res_stride};
    closure_gpu_record(d->closure, &d->cmd, &cr);
    d->last_plane = d->levels % 2;
    p.carrier_off = d->last_plane * nn;
    dispatch(d, &p, OP_FILL, frames);
    if (fft_record_inverse(d->plan2, &d->cmd, err) != 0)
        return -1;
    vk_cmd_barrier(&d->cmd);
    dispatch(d, &p, OP_GATE, frames);
    if (cfg->dashi) { /* the gated residual back onto its own band (see the file comment) */
        if (fft_record_forward(d->plan2, &d->cmd, err) != 0)
            return -1;
        vk_cmd_barrier(&d->cmd);
        dispatch(d, &p, OP_BAND, frames);
        if (fft_record_inverse(d->plan2, &d->cmd, err) != 0)
            return -1;
        vk_cmd_barrier(&d->cmd);
        dispatch(d, &p, OP_PROJECTED, frames);
    }
    reduce(d, 2, rb + R_MSQ, 0, frames);
    dispatch(d, &p, OP_COMBINE, frames);
    if (!metrics)
        return 0;
    dispatch(d, &p, OP_METRIC, frames);
    if (fft_record_forward(d->plan2, &d->cmd, err) != 0)
        return -1;
    vk_cmd_barrier(&d->cmd);
    dispatch(d, &p, OP_ENERGY, frames);
    reduce(d, NQUANT, rb + R_SUMS, 0, frames);
    return 0;
}

static void fill_result(const struct decode_gpu *d, uint32_t slot, struct decode_result *r)
{
    const double *res = d->res_host + (size_t)slot * d->res_stride;
    const uint32_t *cnt = d->cnt_host + (size_t)slot * (d->levels + 1) * 4;
    double nn = (double)d->cfg.n * d->cfg.n;
    const double *s = res + R_SUMS;
    double sh = s[0], sw = s[1], shh = s[2], sww = s[3], shw = s[4], sdd = s[5];
    r->energy = s[6] / (2.0 * nn * nn);
    r->enstrophy = shh / (2.0 * nn);
    if (d->cfg.truth) {
        r->energy_truth = s[7] / (2.0 * nn * nn);
        r->enstrophy_truth = sww / (2.0 * nn);
        r->rel_l2 = sqrt(sdd) / (sqrt(sww) + 1e-12);
        double cov = shw - sh * sw / nn, vh = shh - sh * sh / nn, vw = sww - sw * sw / nn;
        r->corr = cov / sqrt(vh * vw);
    } else {
        r->energy_truth = r->enstrophy_truth = r->rel_l2 = r->corr = NAN;
    }
    /* Depth: passes before the first that killed nothing. */
    int depth = (int)d->levels + 1;
    for (uint32_t k = 1; k <= d->levels; k++)
        if (cnt[4 * k + 1] == 0) {
            depth = (int)k - 1;
            break;
        }
    r->closure_depth = depth;
    r->nlevels = (uint32_t)(depth > (int)d->levels ? (int)d->levels : depth) + 1;
    for (uint32_t k = 0; k < r->nlevels; k++) {
        r->level[k].active = cnt[4 * k];
        r->level[k].killed = cnt[4 * k + 1];
        r->level[k].balance = (int64_t)cnt[4 * k + 2] - (int64_t)cnt[4 * k + 3];
        r->level[k].abs_sum = res[R_ABS + k];
    }
}

void decode_gpu_bind_truth(struct decode_gpu *d, const struct vk_buffer *frames, uint64_t count)
{
    d->truth_frames = frames;
    d->truth_count = count;
}

/* The truth of a run: nframes fields from the host (truth), or the frames truth_index of
 * the bound device trajectory, copied on the device in the run's command buffer. */
static int run(struct decode_gpu *d, uint32_t nframes, const uint64_t *steps, const double *z, const double *truth,
               const uint64_t *truth_index, enum decode_observer obs, struct decode_result *res, double *fields,
               double *gpu_ms, struct dashi_error *err)
{
    const struct decode_config *cfg = &d->cfg;
    size_t nn = (size_t)cfg->n * cfg->n;
    if (gpu_ms)
        *gpu_ms = -1;
    if (nframes < 1 || nframes > cfg->max_batch)
        return dashi_fail(err, DASHI_E_BAD_VALUE, "batch", "a run decodes 1..%u frames, asked %u", cfg->max_batch,
                          nframes);
    if ((cfg->truth != (truth != NULL || truth_index != NULL)) ||
        (obs == DECODE_OBSERVE_SNAPSHOTS && (!cfg->snapshots || !fields)) || (obs != DECODE_OBSERVE_NONE && !res))
        return dashi_fail(err, DASHI_E_INTERNAL, "observer", "decode_gpu_run called against its configuration");
    for (uint32_t f = 0; truth_index && f < nframes; f++)
        if (!d->truth_frames || truth_index[f] >= d->truth_count)
            return dashi_fail(err, DASHI_E_INTERNAL, "truth", "truth frame %llu of %llu bound",
                              (unsigned long long)truth_index[f], (unsigned long long)d->truth_count);
    if (vk_upload(d->vk, &d->z, 0, z, (size_t)nframes * d->D * sizeof(double), err) != 0)
        return -1;
    if (truth && vk_upload(d->vk, &d->truth, 0, truth, (size_t)nframes * nn * sizeof(double), err) != 0)
        return -1;
    if (!cfg->dashi) {
        for (uint32_t f = 0; f < nframes; f++)
            reference_phasors(d, f, steps[f], z + (size_t)f * d->D);
        if (vk_upload(d->vk, &d->phasor, 0, d->phases, (size_t)nframes * 2 * nn * 16, err) != 0)
            return -1;
    }
    bool metrics = obs != DECODE_OBSERVE_NONE;
    struct vk_cmd *c = &d->cmd;
    if (vk_cmd_begin(d->vk, c, err) != 0)
        return -1;
    int t0 = vk_cmd_timestamp(c);
    vk_cmd_fill_zero(c, &d->counters, 0, (VkDeviceSize)nframes * (d->levels + 1) * 16);
    for (uint32_t f = 0; truth_index && f < nframes; f++)
        vk_cmd_copy(c, d->truth_frames, (VkDeviceSize)truth_index[f] * nn * sizeof(double), &d->truth,
                    (VkDeviceSize)f * nn * sizeof(double), nn * sizeof(double));
    vk_cmd_barrier(c);
    for (uint32_t f = 0; f < nframes; f++) {
        d->steps_host[2 * f] = (uint32_t)steps[f];
        d->steps_host[2 * f + 1] = (uint32_t)(steps[f] >> 32);
    }
    for (uint32_t f = 0; f < nframes; f += d->group) {
        uint32_t frames = nframes - f < d->group ? nframes - f : d->group;
        if (record_group(d, f, frames, metrics, obs == DECODE_OBSERVE_SNAPSHOTS, err) != 0) {
            c->recording = false;
            return -1;
        }
        d->last_fz = frames - 1;
    }
    int t1 = vk_cmd_timestamp(c);
    if (vk_cmd_submit_wait(d->vk, c, err) != 0)
        return -1;
    if (gpu_ms && t0 >= 0 && t1 >= 0)
        *gpu_ms = vk_cmd_elapsed_ms(d->vk, c, t0, t1);
    if (!metrics)
        return 0;
    if (vk_download(d->vk, &d->res, 0, d->res_host, (size_t)nframes * d->res_stride * sizeof(double), err) != 0 ||
        vk_download(d->vk, &d->counters, 0, d->cnt_host, (size_t)nframes * (d->levels + 1) * 16, err) != 0)
        return -1;
    d->last_slot = nframes - 1;
    for (uint32_t f = 0; f < nframes; f++)
        fill_result(d, f, &res[f]);
    if (obs == DECODE_OBSERVE_SNAPSHOTS &&
        vk_download(d->vk, &d->snap, 0, fields, (size_t)nframes * nn * sizeof(double), err) != 0)
        return -1;
    return 0;
}

int decode_gpu_run(struct decode_gpu *d, uint32_t nframes, const uint64_t *steps, const double *z,
                   const double *truth, enum decode_observer obs, struct decode_result *res, double *fields,
                   double *gpu_ms, struct dashi_error *err)
{
    return run(d, nframes, steps, z, truth, NULL, obs, res, fields, gpu_ms, err);
}

int decode_gpu_run_bound(struct decode_gpu *d, uint32_t nframes, const uint64_t *steps, const double *z,
                         const uint64_t *truth_index, enum decode_observer obs, struct decode_result *res,
                         double *fields, double *gpu_ms, struct dashi_error *err)
{
    return run(d, nframes, steps, z, NULL, truth_index, obs, res, fields, gpu_ms, err);
}

int decode_gpu_read_lowpass(struct decode_gpu *d, double *omega_lp, struct dashi_error *err)
{
    size_t nn = (size_t)d->cfg.n * d->cfg.n;
    return vk_download(d->vk, &d->fields, (VkDeviceSize)d->last_fz * NPLANES * nn * sizeof(double), omega_lp,
                       nn * sizeof(double), err);
}

/* The threshold of OP_THRESH (shaders/decode.comp) on the host: the same double operations on
 * the same R and max |R|, so the same carrier. */
int decode_gpu_read_initial_carrier(struct decode_gpu *d, int8_t *carrier, struct dashi_error *err)
{
    size_t nn = (size_t)d->cfg.n * d->cfg.n;
    double *r = malloc(nn * sizeof *r);
    if (!r)
        return dashi_fail(err, DASHI_E_INTERNAL, "", "out of host memory");
    int rc = vk_download(d->vk, &d->fields, ((VkDeviceSize)d->last_fz * NPLANES + PLANE_RLP) * nn * sizeof(double), r,
                         nn * sizeof(double), err);
    double den = d->res_host[(size_t)d->last_slot * d->res_stride + R_MAX] + 1e-12;
    for (size_t i = 0; rc == 0 && i < nn; i++) {
        double x = r[i] / den;
        x = x < -1.0 ? -1.0 : x > 1.0 ? 1.0 : x;
        carrier[i] = (int8_t)(x >= d->cfg.tau ? 1 : x <= -d->cfg.tau ? -1 : 0);
    }
    free(r);
    return rc;
}

int decode_gpu_read_carrier(struct decode_gpu *d, int8_t *carrier, struct dashi_error *err)
{
    size_t nn = (size_t)d->cfg.n * d->cfg.n;
    int32_t *tmp = malloc(nn * sizeof *tmp);
    if (!tmp)
        return dashi_fail(err, DASHI_E_INTERNAL, "", "out of host memory");
    int rc = vk_download(d->vk, &d->carrier, ((VkDeviceSize)d->last_fz * 2 + d->last_plane) * nn * 4, tmp, nn * 4,
                         err);
    for (size_t i = 0; rc == 0 && i < nn; i++)
        carrier[i] = (int8_t)tmp[i];
    free(tmp);
    return rc;
}
