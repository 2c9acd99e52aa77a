/* SPDX-License-Identifier: MIT */
/* Decoded held-out evaluation of the train job (docs/numerics.md "Encode and train", "Decode"): the
 * operator's rollout over an evaluation span (later frames of the training trajectory, or another
 * trajectory) is decoded with the job's own encode configuration and anchors, through the same GPU
 * decode engine as the decode job, and scored against the span's frames. What it reports under a
 * prefix ("eval", "eval.traj1", ...), with the step t counted from the span's first frame:
 *   per step   PREFIX.rel_l2, PREFIX.corr, PREFIX.dE, PREFIX.dZ
 *   summary    PREFIX.rel_l2_final, PREFIX.rel_l2_mean, PREFIX.corr_final, PREFIX.corr_mean,
 *              PREFIX.dE_final, PREFIX.dZ_final, PREFIX.time_to_corr_below_0.95 (steps; -1:
 *              never below), PREFIX.decoded (frames decoded)
 * Residual phases are keyed by the span step t and residual seed 12345, as a decode job
 * with the defaults would draw them. */
#ifndef DASHI_TRAIN_EVAL_H
#define DASHI_TRAIN_EVAL_H

#include <stdint.h>

#include "encode.h"
#include "errors.h"
#include "job.h"

struct train_decoder;

/* Device bytes train_decoder_create allocates for an encode configuration. */
uint64_t train_decoder_memory_estimate(const struct encode_config *cfg, const struct encode_bands *bands);
/* A decoder for the bands and anchors (topk of them, copied) of an encoder. */
int train_decoder_create(struct job_exec *ex, const struct encode_config *cfg, const struct encode_bands *bands,
                         const int64_t *anchors, struct train_decoder **out, struct dashi_error *err);
void train_decoder_destroy(struct train_decoder *td); /* NULL is fine */

/* The summaries a decoded score reports, for pooling over trajectories. */
struct train_decode_means {
    double rel_l2_mean, corr_mean;
    int64_t time_to_corr; /* the first step with corr < 0.95, -1 when none */
};

/* Decodes zhat (count × D) against truth (count × N × N) and reports under prefix; the
 * summaries also into *means when it is not NULL. */
int train_decode_score(struct job_exec *ex, struct train_decoder *td, const char *prefix, const double *zhat,
                       const double *truth, uint64_t count, struct train_decode_means *means,
                       struct dashi_error *err);

#endif
