/* SPDX-License-Identifier: MIT */
#include "train_eval.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "closure.h"
#include "decode.h"

#define EVAL_RESIDUAL_SEED 12345u
#define EVAL_MAX_LEVELS 32u
#define EVAL_BATCH 16u

struct train_decoder {
    struct decode_gpu *engine;
    uint32_t n, d;
    struct decode_result res[EVAL_BATCH];
    uint64_t steps[EVAL_BATCH];
};

static struct decode_config decode_config_of(const struct encode_config *cfg, const struct encode_bands *bands,
                                             const uint8_t *mask, const int64_t *anchors)
{
    return (struct decode_config){.n = cfg->n, .dashi = cfg->mode == ENCODE_DASHI, .M = bands->m, .topk = cfg->topk,
                                  .mask_low = mask, .anchors = anchors, .k_cut = cfg->k_cut,
                                  .mid_cut = cfg->mid_cut, .tau = cfg->tau, .box = cfg->smooth,
                                  .eta = CLOSURE_ETA, .max_levels = EVAL_MAX_LEVELS,
                                  .residual_seed = EVAL_RESIDUAL_SEED, .max_batch = EVAL_BATCH, .truth = true,
                                  .snapshots = false};
}

uint64_t train_decoder_memory_estimate(const struct encode_config *cfg, const struct encode_bands *bands)
{
    struct decode_config dc = decode_config_of(cfg, bands, NULL, NULL);
    return decode_gpu_memory_estimate(&dc);
}

int train_decoder_create(struct job_exec *ex, const struct encode_config *cfg, const struct encode_bands *bands,
                         const int64_t *anchors, struct train_decoder **out, struct dashi_error *err)
{
    struct train_decoder *td = calloc(1, sizeof *td);
    uint8_t *mask = malloc((size_t)cfg->n * cfg->n);
    if (!td || !mask) {
        free(td);
        free(mask);
        return dashi_fail(err, DASHI_E_INTERNAL, "", "out of host memory");
    }
    encode_mask_low(bands, mask);
    struct decode_config dc = decode_config_of(cfg, bands, mask, anchors);
    int rc = decode_config_validate(&dc, err) || decode_gpu_create(job_vk(ex), job_fft(ex), &dc, &td->engine, err);
    free(mask); /* the engine copies it */
    if (rc) {
        free(td);
        return -1;
    }
    td->n = cfg->n;
    td->d = decode_dim(&dc);
    *out = td;
    return 0;
}

void train_decoder_destroy(struct train_decoder *td)
{
    if (!td)
        return;
    decode_gpu_destroy(td->engine);
    free(td);
}

static void summary(struct job_exec *ex, const char *prefix, const char *name, double v)
{
    char key[96];
    snprintf(key, sizeof key, "%s.%s", prefix, name);
    job_emit_summary(ex, key, v);
}

int train_decode_score(struct job_exec *ex, struct train_decoder *td, const char *prefix, const double *zhat,
                       const double *truth, uint64_t count, struct train_decode_means *means,
                       struct dashi_error *err)
{
    size_t nn = (size_t)td->n * td->n;
    char k_rel[96], k_corr[96], k_de[96], k_dz[96];
    snprintf(k_rel, sizeof k_rel, "%s.rel_l2", prefix);
    snprintf(k_corr, sizeof k_corr, "%s.corr", prefix);
    snprintf(k_de, sizeof k_de, "%s.dE", prefix);
    snprintf(k_dz, sizeof k_dz, "%s.dZ", prefix);
    double rel_sum = 0, corr_sum = 0, last_rel = NAN, last_corr = NAN, last_de = NAN, last_dz = NAN;
    int64_t fell = -1;
    for (uint64_t t0 = 0; t0 < count; t0 += EVAL_BATCH) {
        uint32_t nb = (uint32_t)(count - t0 < EVAL_BATCH ? count - t0 : EVAL_BATCH);
        for (uint32_t f = 0; f < nb; f++)
            td->steps[f] = t0 + f;
        if (decode_gpu_run(td->engine, nb, td->steps, zhat + t0 * td->d, truth + t0 * nn, DECODE_OBSERVE_METRICS,
                           td->res, NULL, NULL, err) != 0)
            return -1;
        for (uint32_t f = 0; f < nb; f++) {
            const struct decode_result *r = &td->res[f];
            int64_t t = (int64_t)(t0 + f);
            last_rel = r->rel_l2, last_corr = r->corr;
            last_de = r->energy - r->energy_truth, last_dz = r->enstrophy - r->enstrophy_truth;
            job_emit_metric(ex, k_rel, t, last_rel);
            job_emit_metric(ex, k_corr, t, last_corr);
            job_emit_metric(ex, k_de, t, last_de);
            job_emit_metric(ex, k_dz, t, last_dz);
            rel_sum += last_rel, corr_sum += last_corr;
            if (fell < 0 && last_corr < 0.95)
                fell = t;
        }
    }
    summary(ex, prefix, "rel_l2_final", last_rel);
    summary(ex, prefix, "rel_l2_mean", count ? rel_sum / (double)count : NAN);
    summary(ex, prefix, "corr_final", last_corr);
    summary(ex, prefix, "corr_mean", count ? corr_sum / (double)count : NAN);
    summary(ex, prefix, "dE_final", last_de);
    summary(ex, prefix, "dZ_final", last_dz);
    summary(ex, prefix, "time_to_corr_below_0.95", (double)fell);
    summary(ex, prefix, "decoded", (double)count);
    if (means)
        *means = (struct train_decode_means){.rel_l2_mean = count ? rel_sum / (double)count : NAN,
                                             .corr_mean = count ? corr_sum / (double)count : NAN,
                                             .time_to_corr = fell};
    return 0;
}
