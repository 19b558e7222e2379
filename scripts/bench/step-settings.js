// What the training-step benchmark measures, shared by the run (step.js) and its report (step-report.js): the model
// sizes, the anchors ours is timed against, the targets, the correctness gate's tolerances, and the FLOP counts
// its fractions of the sgemm rate use.
'use strict';

const { firstPositionsToCompute } = require('./common');

const CONFIGS = {
  tiny: { layers: 2, hidden: 128, heads: 2, intermediate: 512, batches: [8, 32] },
  mini: { layers: 4, hidden: 256, heads: 4, intermediate: 1024, batches: [8, 32] },
  small: { layers: 4, hidden: 512, heads: 8, intermediate: 2048, batches: [8, 32] },
  base: { layers: 12, hidden: 768, heads: 12, intermediate: 3072, batches: [8] },
  'roberta-base': { layers: 12, hidden: 768, heads: 12, intermediate: 3072, batches: [8], modelType: 'roberta' },
};
/** The PyTorch steps ours is timed against (bench/step_reference.py's impl), in the order they run. */
const ANCHORS = {
  sdpa: 'transformers SDPA',
  compile: 'torch.compile (SDPA)',
  eager: 'transformers eager',
};
/** The exactness reference of the correctness gate (ours is built to give its numbers), and the anchor recorded beside it. */
const CHECK_IMPL = 'eager';
/** The issue's targets: ours' step at most this share of each anchor's, per config and batch (sequence 128). */
const TARGETS = { 'mini:32': 0.6, 'base:8': 0.6, 'roberta-base:8': 0.6 };
const NUM_LABELS = 2;
const LOSS_TOLERANCE = 1e-4;
const GRAD_NORM_TOLERANCE = 1e-3;
const MEMORY_STEPS = 5; // > libuv's 4 pool threads: each step may run on another thread (and malloc arena)

/**
 * Training FLOPs of one step (multiply-add = 2 FLOPs), the formula the fraction of sgemm uses:
 *   6 * tokens * layers * (4 H^2 + 2 H I)        encoder weight GEMMs: forward 2, backward 4 (input and weight grads)
 * + 12 * layers * batch * seq^2 * H             attention QK^T and PV: 4 * S^2 * H per sequence and layer forward, x3
 * + 6 * batch * (H^2 + H * labels)              pooler and classifier, on the [CLS] rows only
 * Embeddings (gathers and a scatter-add), biases, LayerNorm, softmax, GELU and AdamW are not counted.
 */
function trainingFlops(name, batch, seq) {
  const { layers: L, hidden: H, intermediate: I } = CONFIGS[name];
  const tokens = batch * seq;
  return 6 * tokens * L * (4 * H * H + 2 * H * I) + 12 * L * batch * seq * seq * H + 6 * batch * (H * H + H * NUM_LABELS);
}

/**
 * What ours performs of that: its last layer runs the output projection and the feed-forward block, forward and input
 * gradient, for the first P positions only (native/model/first_positions.h), 4·B·(S − P)·(H² + 2HI) fewer FLOPs.
 */
function oursTrainingFlops(name, batch, seq) {
  const { hidden: H, intermediate: I } = CONFIGS[name];
  const positions = firstPositionsToCompute(batch, seq, H, I);
  return trainingFlops(name, batch, seq) - 4 * batch * (seq - positions) * (H * H + 2 * H * I);
}

module.exports = {
  CONFIGS,
  ANCHORS,
  CHECK_IMPL,
  TARGETS,
  NUM_LABELS,
  LOSS_TOLERANCE,
  GRAD_NORM_TOLERANCE,
  MEMORY_STEPS,
  trainingFlops,
  oursTrainingFlops,
};
