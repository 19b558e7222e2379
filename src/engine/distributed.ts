// Data-parallel training across processes (and machines), the way torchrun + DistributedDataParallel do it, on
// PyTorch's own distributed engine (c10d) in the native addon: a TCPStore rendezvous on the master, Gloo (CPU) or
// NCCL (CUDA) collectives. This module holds the JS side: the options (a Trainer option or torchrun's environment
// variables), DistributedSampler's sharding, and the process group's lifetime.
import { native, NativeProcessGroup } from './native';
import { integerIn, plainObject, rejectUnknownKeys, show } from '../util/is';

/** Trainer option `distributed`: one process of a data-parallel job. */
export interface DistributedOptions {
  /** This process's rank in [0, worldSize). Rank 0 hosts the rendezvous store and alone writes checkpoints and logs. */
  rank: number;
  /** Number of processes of the job (all machines together). */
  worldSize: number;
  /** Host name or address of rank 0's machine (default '127.0.0.1'). */
  masterAddr?: string;
  /** TCP port of the rendezvous store on the master (default 29500, torchrun's). */
  masterPort?: number;
  /**
   * Milliseconds the rendezvous and each collective may take before failing with an Error (default 30 minutes,
   * torch's). A rank that died makes the others fail sooner: Gloo notices the closed connection.
   */
  timeoutMs?: number;
  /**
   * 'gloo' (CPU tensors; the default). 'nccl' needs CUDA tensors: the native side can create an NCCL group when the
   * LibTorch has it, but models train on the CPU so far, so it is rejected with an Error until they can train on CUDA.
   */
  backend?: 'gloo' | 'nccl';
  /** DDP's bucket_cap_mb: gradients are all-reduced in buckets of about this many MiB (default 25). */
  bucketCapMb?: number;
}

export interface ResolvedDistributedOptions {
  rank: number;
  worldSize: number;
  masterAddr: string;
  masterPort: number;
  timeoutMs: number;
  backend: 'gloo' | 'nccl' | undefined;
  bucketCapMb: number;
  /** Where the settings came from, for error messages: 'distributed' (the option) or 'environment'. */
  source: 'distributed' | 'environment';
}

export const DEFAULT_MASTER_PORT = 29500;
export const DEFAULT_TIMEOUT_MS = 30 * 60 * 1000;
export const DEFAULT_BUCKET_CAP_MB = 25;
const KEYS = ['rank', 'worldSize', 'masterAddr', 'masterPort', 'timeoutMs', 'backend', 'bucketCapMb'];

/** Checks the Trainer option `distributed` (TypeError/RangeError naming the field). */
export function resolveDistributedOption(value: unknown): ResolvedDistributedOptions {
  const o = plainObject(value, 'distributed');
  rejectUnknownKeys(o, KEYS, 'distributed');
  if (o.worldSize === undefined) throw new TypeError('distributed.worldSize is required (the number of processes)');
  if (o.rank === undefined) throw new TypeError('distributed.rank is required (this process, in [0, worldSize))');
  const worldSize = integerIn(o.worldSize, 'distributed.worldSize', 1, 1 << 20);
  const rank = integerIn(o.rank, 'distributed.rank', 0, worldSize - 1);
  let masterAddr = '127.0.0.1';
  if (o.masterAddr !== undefined) {
    if (typeof o.masterAddr !== 'string') throw new TypeError(`distributed.masterAddr must be a host name or address, got ${show(o.masterAddr)}`);
    if (o.masterAddr === '') throw new RangeError('distributed.masterAddr must be a non-empty host name or address');
    masterAddr = o.masterAddr;
  }
  const masterPort = o.masterPort === undefined ? DEFAULT_MASTER_PORT : integerIn(o.masterPort, 'distributed.masterPort', 1, 65535);
  const timeoutMs = o.timeoutMs === undefined ? DEFAULT_TIMEOUT_MS : integerIn(o.timeoutMs, 'distributed.timeoutMs', 1, 7 * 24 * 3600 * 1000);
  let backend: 'gloo' | 'nccl' | undefined;
  if (o.backend !== undefined) {
    if (o.backend !== 'gloo' && o.backend !== 'nccl') throw new RangeError(`distributed.backend must be 'gloo' or 'nccl', got ${show(o.backend)}`);
    backend = o.backend;
  }
  let bucketCapMb = DEFAULT_BUCKET_CAP_MB;
  if (o.bucketCapMb !== undefined) {
    if (typeof o.bucketCapMb !== 'number') throw new TypeError(`distributed.bucketCapMb must be a positive number (MiB), got ${show(o.bucketCapMb)}`);
    if (!Number.isFinite(o.bucketCapMb) || o.bucketCapMb <= 0 || o.bucketCapMb > 1 << 20) {
      throw new RangeError(`distributed.bucketCapMb must be a positive number of MiB (at most ${1 << 20}), got ${show(o.bucketCapMb)}`);
    }
    bucketCapMb = o.bucketCapMb;
  }
  return { rank, worldSize, masterAddr, masterPort, timeoutMs, backend, bucketCapMb, source: 'distributed' };
}

/**
 * torchrun's environment (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT; BERT_TRAINER_DIST_TIMEOUT_MS for the
 * timeout), or undefined when WORLD_SIZE is not set. A variable that is set must be valid; the error names it.
 */
export function distributedFromEnv(env: NodeJS.ProcessEnv = process.env): ResolvedDistributedOptions | undefined {
  if (env.WORLD_SIZE === undefined || env.WORLD_SIZE === '') return undefined;
  const integer = (name: string, min: number, max: number, fallback?: number): number => {
    const raw = env[name];
    if (raw === undefined || raw === '') {
      if (fallback !== undefined) return fallback;
      throw new Error(`the environment sets WORLD_SIZE but not ${name}; set ${name} (as torchrun and \`bert-trainer launch\` do)`);
    }
    const value = Number(raw);
    if (!/^\d+$/.test(raw.trim()) || !Number.isSafeInteger(value) || value < min || value > max) {
      throw new RangeError(`environment variable ${name} must be an integer in [${min}, ${max}], got ${JSON.stringify(raw)}`);
    }
    return value;
  };
  const worldSize = integer('WORLD_SIZE', 1, 1 << 20);
  const rank = integer('RANK', 0, worldSize - 1);
  const masterAddr = env.MASTER_ADDR === undefined || env.MASTER_ADDR === '' ? '127.0.0.1' : env.MASTER_ADDR;
  const masterPort = integer('MASTER_PORT', 1, 65535, DEFAULT_MASTER_PORT);
  const timeoutMs = integer('BERT_TRAINER_DIST_TIMEOUT_MS', 1, 7 * 24 * 3600 * 1000, DEFAULT_TIMEOUT_MS);
  const backendRaw = env.BERT_TRAINER_DIST_BACKEND;
  let backend: 'gloo' | 'nccl' | undefined;
  if (backendRaw !== undefined && backendRaw !== '') {
    if (backendRaw !== 'gloo' && backendRaw !== 'nccl')
      throw new RangeError(`environment variable BERT_TRAINER_DIST_BACKEND must be 'gloo' or 'nccl', got ${JSON.stringify(backendRaw)}`);
    backend = backendRaw;
  }
  return { rank, worldSize, masterAddr, masterPort, timeoutMs, backend, bucketCapMb: DEFAULT_BUCKET_CAP_MB, source: 'environment' };
}

/**
 * torch's DistributedSampler over an epoch's order: padded (by repeating its start) to a multiple of worldSize so
 * every rank gets the same number of examples, then rank r takes positions r, r + worldSize, ... Every rank computes
 * the same order from the same seed, so the shards are disjoint apart from the padding.
 */
export function shardOrder(order: readonly number[], rank: number, worldSize: number): number[] {
  if (worldSize === 1) return order.slice();
  const perRank = Math.ceil(order.length / worldSize);
  const out: number[] = [];
  for (let i = 0; i < perRank; i++) {
    const position = i * worldSize + rank;
    out.push(order[position % order.length]);
  }
  return out;
}

/** Examples per rank and epoch: DistributedSampler's num_samples (ceil(n / worldSize)). */
export function shardSize(numExamples: number, worldSize: number): number {
  return Math.ceil(numExamples / worldSize);
}

/** A joined process group: rank, world size and the collectives the Trainer needs. */
export class DistributedContext {
  private destroyed = false;

  private constructor(
    readonly group: NativeProcessGroup,
    readonly options: ResolvedDistributedOptions,
  ) {}

  get rank(): number {
    return this.options.rank;
  }

  get worldSize(): number {
    return this.options.worldSize;
  }

  /** Rank 0 writes checkpoints, reports and logs. */
  get isMain(): boolean {
    return this.options.rank === 0;
  }

  /** Joins the job: blocks (off the JS thread) until all worldSize ranks have connected, or rejects after timeoutMs. */
  static async join(options: ResolvedDistributedOptions, device: 'cpu' | `cuda:${number}` = 'cpu'): Promise<DistributedContext> {
    const addon = native();
    const where = options.source === 'distributed' ? 'distributed' : 'the environment (RANK/WORLD_SIZE)';
    if (!addon.distributed.available) {
      throw new Error(
        `${where} asks for data-parallel training, but this build of bert-trainer has no distributed support: the LibTorch ` +
          `it was built against (${addon.torchVersion}) lacks PyTorch's c10d with Gloo (Debian: apt-get install libgloo-dev, then \`npm rebuild bert-trainer\`)`,
      );
    }
    // As torchrun scripts choose: NCCL for a model on a GPU when the build has it, else Gloo.
    const onGpu = device !== 'cpu';
    const backend = options.backend ?? (onGpu && addon.distributed.backends.includes('nccl') ? 'nccl' : 'gloo');
    if (backend === 'nccl' && !onGpu) {
      throw new Error(`${where}: backend 'nccl' reduces CUDA tensors, but the model is on the CPU; load it with device 'cuda' or use 'gloo'`);
    }
    if (!addon.distributed.backends.includes(backend)) {
      throw new Error(`${where}: backend '${backend}' is not available in this build (available: ${addon.distributed.backends.join(', ')})`);
    }
    const group = new addon.ProcessGroup();
    await group.init({
      rank: options.rank,
      worldSize: options.worldSize,
      masterAddr: options.masterAddr,
      masterPort: options.masterPort,
      timeoutMs: options.timeoutMs,
      backend,
      device,
    });
    return new DistributedContext(group, { ...options, backend });
  }

  /** Element-wise sum over the ranks. */
  allReduceSum(values: Float64Array): Promise<Float64Array> {
    return this.group.allReduce(values);
  }

  barrier(): Promise<void> {
    return this.group.barrier();
  }

  /** Leaves the job; the native backend is released off the JS thread. Idempotent. */
  async destroy(): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    await this.group.destroy();
  }
}
