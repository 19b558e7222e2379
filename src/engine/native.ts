// The one module that loads the native addon (through node-gyp-build: a prebuilt binary when present,
// else build/Release from `npm install` or `npm run build`). Everything else uses the typed surface below.
import type { ProblemType } from '../model/config';
import * as path from 'path';

export interface NativeLoadReport {
  missing: string[];
  unexpected: string[];
  renamed: { from: string; to: string }[];
  initialized: string[];
  mismatched: string[];
}

export interface NativeForwardOutput {
  logits: Float32Array;
  shape: number[];
  pooledOutput?: Float32Array;
  lastHiddenState?: Float32Array;
  hiddenShape?: number[];
}

export interface NativeSaveResult {
  files: string[];
  indexes: { file: string; totalSize: number; totalParameters: number; weightMap: Record<string, string> }[];
}

export interface NativeModelHandle {
  /** `device`: 'cpu' (the default) or 'cuda:N', resolved and checked by src/engine/device.ts. */
  load(files: string[], ignoreMismatchedSizes: boolean, seed: number, device?: string): Promise<NativeLoadReport>;
  forward(
    inputIds: Int32Array,
    attentionMask: Int32Array | null,
    tokenTypeIds: Int32Array | null,
    batchSize: number,
    sequenceLength: number,
    withHidden: boolean,
  ): Promise<NativeForwardOutput>;
  /** The weight files written, and an index for each format written as shards (src/checkpoint/weight-shards.ts). */
  saveWeights(dir: string, format: 'safetensors' | 'pytorch' | 'both', maxShardBytes: number): Promise<NativeSaveResult>;
  parameters(): { name: string; shape: number[] }[];
  dispose(): void;
  /**
   * Frees forward()'s reordered copies of the Linear weights (native/model/packed_linear.h; the next forward()
   * rebuilds them): called before anything changes the weights, so that no forward() reads stale copies.
   */
  dropInferenceWeights(): void;

  // Training. AdamW with transformers' parameter groups (no decay on biases and LayerNorm weights).
  configureOptimizer(options: { beta1: number; beta2: number; eps: number; weightDecay: number }): void;
  /** One optimizer step over the micro-batches (gradient accumulation), in train mode. */
  trainStep(batches: NativeBatch[], options: NativeTrainStepOptions): Promise<NativeTrainStepResult>;
  /** Eval-mode logits and, when the batch has labels, the loss. */
  evalBatch(
    batch: NativeBatch,
    problemType: NativeProblemType,
    classWeights?: Float32Array | null,
    mixedPrecision?: 'no' | 'bf16' | 'fp16',
  ): Promise<{ logits: Float32Array; shape: number[]; loss: number | null }>;
  /** Replaces the weights in place from checkpoint files (every model key must be present). */
  loadWeights(files: string[]): Promise<void>;
  saveOptimizerState(path: string): Promise<void>;
  loadOptimizerState(path: string): Promise<void>;
  /**
   * rng_state.bin's bytes: the model's dropout stream, and on a GPU that device's generator
   * (native/model/rng_state.h). setRngState: a RangeError for bytes that are no such state, an Error with code
   * CHECKPOINT_MISMATCH for a state of the other kind of device (a GPU model's on the CPU, or the reverse).
   */
  getRngState(): Uint8Array;
  setRngState(state: Uint8Array): void;
  /** fp16: the loss scaler's state (null before the first fp16 step of a fit); read between steps. */
  getGradScalerState(): GradScalerState | null;
  /** fp16: the scaler the next step scales with (null: a new GradScaler's, as a fresh fit); set between steps. */
  setGradScalerState(state: GradScalerState | null): void;
  /** fp16: whether the GradScaler skipped the last step, when that step left its verdict pending (else null). */
  settleOverflow(): boolean | null;
  /** A GPU model's CUDA-graph counts since its optimizer was configured; null before its first GPU step, or on the CPU. */
  cudaGraphStats(): CudaGraphStats | null;
  manualSeed(seed: number): void;
  /**
   * Data-parallel training: trainStep averages gradients (all-reduce in buckets of about `bucketBytes`, default
   * 25 MiB, launched during backward) and the loss over this group (null: single process).
   */
  setProcessGroup(group: NativeProcessGroup | null, bucketBytes?: number): void;
  /** Every rank's parameters and buffers become rank `root`'s (DDP's initial broadcast). */
  broadcastParameters(root: number): Promise<void>;
  readonly disposed: boolean;
}

export interface NativeProcessGroupOptions {
  rank: number;
  worldSize: number;
  masterAddr: string;
  masterPort: number;
  /** Bounds the rendezvous and every collective. */
  timeoutMs: number;
  backend: 'gloo' | 'nccl';
  /** The model's device: where an NCCL group's collectives (and the values allReduce is given) run. */
  device: 'cpu' | `cuda:${number}`;
}

/** A c10d process group (TCPStore rendezvous, Gloo or NCCL collectives); every method runs off the JS thread. */
export interface NativeProcessGroup {
  init(options: NativeProcessGroupOptions): Promise<void>;
  /** The element-wise sum over all ranks. */
  allReduce(values: Float64Array): Promise<Float64Array>;
  barrier(): Promise<void>;
  destroy(): Promise<void>;
  readonly rank: number;
  readonly worldSize: number;
  readonly backend: string;
}

export type NativeProblemType = ProblemType;

export interface NativeBatch {
  inputIds: Int32Array;
  attentionMask: Int32Array | null;
  tokenTypeIds: Int32Array | null;
  /** Class ids [batch] (Int32Array) for single-label; floats [batch * numLabels] (Float32Array) otherwise. */
  labels: Int32Array | Float32Array | null;
  batchSize: number;
  sequenceLength: number;
}

export interface NativeTrainStepOptions {
  problemType: NativeProblemType;
  learningRate: number;
  /**
   * fp16, when the previous step's `overflow` was null (pending): the learning rate to use instead of `learningRate`
   * if that step turns out skipped. The schedule does not advance after a skipped update, so `learningRate` is then
   * the schedule's one step on and this one the schedule where it was (native/training/pending_overflow.h).
   */
  learningRateAfterSkip?: number;
  maxGradNorm: number;
  accumulationSteps: number;
  classWeights: Float32Array | null;
  skipNonFinite: boolean;
  /**
   * Default true. false: this step's loss and gradient norm stay on the device and are read (in one transfer)
   * by the next step that reads, so a CUDA step need not wait for the GPU; loss/gradNorm are then null and the
   * values arrive later in `logged`. skipNonFinite needs the values at once and always reads.
   */
  readLoss?: boolean;
  /**
   * 'bf16' / 'fp16': forward under autocast on the model's device (fp32 weights, gradients and loss); 'fp16' adds
   * dynamic loss scaling (torch.amp.GradScaler's). Default 'no'.
   */
  mixedPrecision?: 'no' | 'bf16' | 'fp16';
  /**
   * Default true. On a GPU, a step of one micro-batch without fp16 loss scaling or data parallelism runs as a CUDA
   * graph: a shape's first step eagerly, its second captured, then replayed (native/training/cuda_graph_step.h).
   */
  cudaGraphs?: boolean;
}

/** How the training steps used CUDA graphs (NativeModelHandle.cudaGraphStats). */
export interface CudaGraphStats {
  captures: number;
  replays: number;
  /**
   * Steps run eagerly: a shape's first (the capture's warm-up), and those of a shape without a graph while the 8
   * graphs kept belong to shapes stepped at least half as often.
   */
  eagerSteps: number;
  /** Graphs dropped: for a shape stepped twice as often, or made stale by new weights or optimizer state. */
  dropped: number;
  /** Why graphs stopped being used (a failed capture), or null. */
  disabledReason: string | null;
}

export interface NativeTrainStepResult {
  /** Mean of the unscaled micro-batch losses: the loss transformers' Trainer logs for the step (null when not read). */
  loss: number | null;
  /** The unscaled micro-batch losses (empty when not read). */
  microLosses: number[];
  /** Total gradient norm before clipping (null when not read). */
  gradNorm: number | null;
  /** Every step read by this call, oldest first: earlier deferred steps, then this one when it read. */
  logged: { step: number; loss: number; gradNorm: number }[];
  /** True when a non-finite loss or gradient made the step skip the update (skipNonFinite, or fp16's overflow), when read. */
  skipped: boolean;
  /** The learning rate the update used: learningRate, or learningRateAfterSkip after a skipped previous step. */
  learningRate: number;
  /**
   * fp16: whether the GradScaler skipped this step's update for an overflow; null while pending (the step did not
   * read: the next step settles it, or settleOverflow()). false without loss scaling.
   */
  overflow: boolean | null;
  /** fp16: the previous step's verdict when it was pending and this step settled it, else null. */
  previousOverflow: boolean | null;
  optimizerStep: number;
  /** The step was a CUDA graph's replay. */
  graphed: boolean;
  /** Data-parallel steps: gradient buckets, and how many of them started their all-reduce while backward still ran. */
  /** Data-parallel: the step's buckets, those launched while backward ran, and gradients that had to be copied into their bucket (0: backward accumulated into the buckets). */
  reduction?: { buckets: number; launchedDuringBackward: number; gradientsCopied: number };
}

/**
 * torch.amp.GradScaler.state_dict(), under torch's keys: the dynamic loss scale of an fp16 run and how it moves
 * (scaler.json in a checkpoint).
 */
export interface GradScalerState {
  scale: number;
  growth_factor: number;
  backoff_factor: number;
  growth_interval: number;
  /** Clean steps in a row since the scale last changed. */
  _growth_tracker: number;
}

export interface NativeTensorInfo {
  name: string;
  dtype: string;
  shape: number[];
  checksum: number;
}

/**
 * The codes of the errors the addon throws that a caller may branch on (native/common/error_code.h is their one
 * definition; the addon exports them as `errorCodes`). Arguments the JS side should have checked have none.
 */
export type NativeErrorKey =
  | 'MODEL_BUSY'
  | 'MODEL_DISPOSED'
  | 'MODEL_NOT_LOADED'
  | 'OPTIMIZER_NOT_CONFIGURED'
  | 'NON_FINITE_LOSS'
  | 'OUT_OF_MEMORY'
  | 'BAD_CHECKPOINT'
  | 'CHECKPOINT_MISMATCH'
  | 'CHECKPOINT_WRITE_FAILED'
  | 'NO_DISTRIBUTED'
  | 'DISTRIBUTED_RENDEZVOUS'
  | 'DISTRIBUTED_COLLECTIVE'
  | 'PROCESS_GROUP_NOT_INITIALIZED'
  | 'PROCESS_GROUP_DESTROYED';

export interface NativeAddon {
  /** key -> code ('ERR_MODEL_BUSY', ...): the `code` of the addon's errors. */
  errorCodes: Readonly<Record<NativeErrorKey, string>>;
  NativeModel: new (config: object) => NativeModelHandle;
  readCheckpoint(path: string): Promise<NativeTensorInfo[]>;
  ProcessGroup: new () => NativeProcessGroup;
  /** Whether this build has PyTorch's distributed engine (c10d), and its backends ('gloo', 'nccl'). */
  distributed: { available: boolean; backends: string[] };
  torchVersion: string;
  cudaAvailable: boolean;
  /** LibTorch, and for a CUDA build the CUDA runtime, cuDNN and NCCL it loads (null where absent). */
  versions: { libtorch: string; cuda: string | null; cudnn: string | null; nccl: string | null };
  /** Whether this build has CUDA, and the GPUs it sees now. */
  cudaInfo(): { built: boolean; deviceCount: number };
  /** LibTorch intra-op threads used by native work (default: the machine's hardware threads). */
  numThreads(): number;
  setNumThreads(threads: number): void;
  /**
   * Whether a sequence classifier's last layer computes, after attention, only the positions the classifier reads
   * (native/model/first_positions.h; default true). Off, it computes every position: the same numbers, bit for bit;
   * for the tests and benchmarks that check that. Process-wide.
   */
  setLastLayerFirstPositions(enabled: boolean): void;
  /**
   * Runs the GPU attention path (scaled_dot_product_attention, the fused first-position last layer) on the CPU too
   * (default false), so that tests check it on machines without a GPU. Process-wide.
   */
  setFusedAttentionOnCpu(enabled: boolean): void;
  /**
   * Whether eval-mode work on the CPU in fp32 (forward, predict, evaluation: never a training step) takes the
   * inference path (default true): LibTorch's fused CPU attention (scaled_dot_product_attention with the additive
   * padding mask) and a last layer computed for the first position only. Off, it runs the training path's exact
   * kernels (the same numbers within 1e-5); for the tests and benchmarks that compare them. Process-wide.
   */
  setInferencePath(enabled: boolean): void;
}

let addon: NativeAddon | undefined;

/**
 * How long idle pool threads wait actively before they sleep, set before the addon (and with it libgomp and
 * OpenBLAS) loads, unless the user set it:
 * - libgomp (LibTorch's OpenMP) keeps an idle worker spinning for up to 300,000 iterations. Our tensor work runs on
 *   one native thread with one OpenMP team, so on a machine with as many cores as intra-op threads those spinning
 *   workers would take the core from Node's event loop (and from anything else) between operations:
 *   GOMP_SPINCOUNT=100 (GOMP_SPINCOUNT or OMP_WAIT_POLICY set by the user win).
 * - OpenBLAS's own pool threads call sched_yield in a loop for 2^28 cycles (about 0.1 s) after each GEMM; between
 *   GEMMs they compete with the OpenMP team for the same cores (a quarter of a mini-model step's CPU time went to
 *   sched_yield). OPENBLAS_THREAD_TIMEOUT=22 (2^22 cycles, about 2 ms) keeps them warm across a run of GEMMs and
 *   lets them sleep across the element-wise work; measured in BENCHMARKS.md, where both sides of every benchmark run
 *   with the same two settings.
 */
export const THREAD_WAIT_DEFAULTS: Readonly<Record<string, string>> = Object.freeze({ GOMP_SPINCOUNT: '100', OPENBLAS_THREAD_TIMEOUT: '22' });

/** Sets THREAD_WAIT_DEFAULTS in `env` where the user has not chosen (OMP_WAIT_POLICY also counts as a choice for libgomp). */
export function applyThreadWaitDefaults(env: NodeJS.ProcessEnv = process.env): void {
  if (env.GOMP_SPINCOUNT === undefined && env.OMP_WAIT_POLICY === undefined) env.GOMP_SPINCOUNT = THREAD_WAIT_DEFAULTS.GOMP_SPINCOUNT;
  if (env.OPENBLAS_THREAD_TIMEOUT === undefined) env.OPENBLAS_THREAD_TIMEOUT = THREAD_WAIT_DEFAULTS.OPENBLAS_THREAD_TIMEOUT;
}

/** An Error with the code of `key`, for what the JS side finds before it calls the addon (a disposed model, a claimed one). */
export function nativeError(key: NativeErrorKey, message: string): Error & { code: string } {
  return Object.assign(new Error(message), { code: native().errorCodes[key] });
}

/** Whether `err` is an error of the addon with the code of `key`. */
export function isNativeError(err: unknown, key: NativeErrorKey): err is Error & { code: string } {
  return err instanceof Error && (err as { code?: unknown }).code === native().errorCodes[key];
}

export function native(): NativeAddon {
  if (!addon) {
    applyThreadWaitDefaults();
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const load = require('node-gyp-build') as (dir: string) => NativeAddon;
    // BERT_TRAINER_ADDON: a .node file to load instead, e.g. a second build against another LibTorch (CI's CUDA build).
    const explicit = process.env.BERT_TRAINER_ADDON;
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      addon = explicit ? (require(path.resolve(explicit)) as NativeAddon) : load(path.resolve(__dirname, '..', '..'));
    } catch (err) {
      // npm 12 skips a dependency's install script (our node-gyp build) until the project approves it.
      throw Object.assign(
        new Error(
          `bert-trainer: the native addon is not built (${(err as Error).message}). ` +
            'Run `npm install` (or `npm run build`) with LibTorch available; see README "Where LibTorch comes from". ' +
            'Where npm blocked its install script (npm 12 does for dependencies not approved), run ' +
            '`npm approve-scripts bert-trainer` and `npm rebuild bert-trainer`.',
        ),
        { code: 'ADDON_NOT_BUILT' },
      );
    }
  }
  return addon;
}
