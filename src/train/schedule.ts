// Learning-rate schedules: transformers' get_*_schedule_with_warmup lambdas, applied the way torch's LambdaLR
// applies them. The lr used BY optimizer step k (0-based) is `baseLr * lambda(k)`, i.e. what LambdaLR hands the
// optimizer after k `scheduler.step()` calls. Everything is float64 arithmetic in the same order as Python's.
import { requiredNonNegativeInteger, show } from '../util/is';

export const LR_SCHEDULER_TYPES = ['linear', 'cosine', 'constant', 'constant_with_warmup'] as const;
export type LrSchedulerType = (typeof LR_SCHEDULER_TYPES)[number];

export interface LearningRateOptions {
  type: LrSchedulerType;
  /** The optimizer's lr (TrainingArguments.learning_rate). */
  baseLr: number;
  /** Warm-up steps (already resolved, e.g. by resolveWarmupSteps). */
  warmupSteps: number;
  /** Total optimizer steps (num_training_steps); unused by 'constant' and 'constant_with_warmup'. */
  totalSteps: number;
}

export interface WarmupOptions {
  /** TrainingArguments.warmup_steps: used when > 0. */
  warmupSteps?: number;
  /** TrainingArguments.warmup_ratio in [0, 1]: used when warmupSteps is 0 or absent. */
  warmupRatio?: number;
  /** Total optimizer steps. */
  totalSteps: number;
}

// ---------------------------------------------------------------------------------------------
// cos for the cosine schedule. V8's Math.cos (fdlibm) is one ulp off the correctly rounded value for a few
// percent of arguments, so cosine learning rates would differ from Python's in the last bit that often. This cos
// reduces the argument and sums the Taylor series in double-double arithmetic (~104 bits) and rounds once: it
// is correctly rounded (barring astronomically rare near-midpoint cases). glibc's cos (Python's math.cos on
// Linux) is itself not always correctly rounded: on ~0.1% of arguments it differs from this by one ulp.

type DD = [number, number];

function twoSum(a: number, b: number): DD {
  const s = a + b;
  const bb = s - a;
  return [s, a - (s - bb) + (b - bb)];
}

function quickTwoSum(a: number, b: number): DD {
  const s = a + b;
  return [s, b - (s - a)];
}

const SPLITTER = 134217729; // 2^27 + 1

function twoProd(a: number, b: number): DD {
  const p = a * b;
  let t = SPLITTER * a;
  const ah = t - (t - a);
  const al = a - ah;
  t = SPLITTER * b;
  const bh = t - (t - b);
  const bl = b - bh;
  return [p, ah * bh - p + ah * bl + al * bh + al * bl];
}

function ddAdd(a: DD, b: DD): DD {
  let [s, e] = twoSum(a[0], b[0]);
  const [t, f] = twoSum(a[1], b[1]);
  e += t;
  [s, e] = quickTwoSum(s, e);
  e += f;
  return quickTwoSum(s, e);
}

function ddMul(a: DD, b: DD): DD {
  const [p, e] = twoProd(a[0], b[0]);
  return quickTwoSum(p, e + (a[0] * b[1] + a[1] * b[0]));
}

function ddDivNumber(a: DD, d: number): DD {
  const q1 = a[0] / d;
  const [p1, p2] = twoProd(q1, d);
  const [s, e] = twoSum(a[0], -p1);
  const q2 = (s + (e - p2 + a[1])) / d;
  return quickTwoSum(q1, q2);
}

// pi/2 as a sum of three doubles (~160 bits).
const PIO2_1 = 1.5707963267948966;
const PIO2_2 = 6.123233995736766e-17;
const PIO2_3 = -1.4973849048591698e-33;

/** Taylor series of cos (start = 1, first power 0) or sin (start = r, first power 1) for |r| <= pi/4. */
function series(r: DD, isSin: boolean): DD {
  const r2 = ddMul(r, r);
  let term: DD = isSin ? r : [1, 0];
  let sum: DD = term;
  for (let n = isSin ? 1 : 0; n < 40; n += 2) {
    term = ddDivNumber(ddMul(term, r2), -((n + 1) * (n + 2)));
    if (term[0] === 0 || Math.abs(term[0]) < Math.abs(sum[0]) * 1e-36) break;
    sum = ddAdd(sum, term);
  }
  return sum;
}

/** cos(x), correctly rounded for |x| < 2^20 (Math.cos beyond, or for non-finite x). */
export function cosCorrectlyRounded(x: number): number {
  if (!Number.isFinite(x) || Math.abs(x) >= 1048576) return Math.cos(x);
  const k = Math.round(x / PIO2_1);
  // r = x - k * pi/2 in double-double; k * PIO2_1 is computed exactly by twoProd.
  let r: DD = ddAdd([x, 0], ((p) => [-p[0], -p[1]] as DD)(twoProd(k, PIO2_1)));
  const p2 = twoProd(k, PIO2_2);
  r = ddAdd(r, [-p2[0], -p2[1]]);
  r = ddAdd(r, [-(k * PIO2_3), 0]);
  const quadrant = ((k % 4) + 4) % 4;
  let v: DD;
  if (quadrant === 0) v = series(r, false);
  else if (quadrant === 1) v = ((s) => [-s[0], -s[1]] as DD)(series(r, true));
  else if (quadrant === 2) v = ((c) => [-c[0], -c[1]] as DD)(series(r, false));
  else v = series(r, true);
  return v[0] + v[1];
}

/** The multiplier lambda(step) of transformers' schedules (the lr is baseLr * this). */
export function lrLambda(type: LrSchedulerType, step: number, warmupSteps: number, totalSteps: number): number {
  switch (type) {
    case 'constant':
      return 1.0;
    case 'constant_with_warmup':
      if (step < warmupSteps) return step / Math.max(1.0, warmupSteps);
      return 1.0;
    case 'linear':
      if (step < warmupSteps) return step / Math.max(1, warmupSteps);
      return Math.max(0.0, (totalSteps - step) / Math.max(1, totalSteps - warmupSteps));
    case 'cosine': {
      if (step < warmupSteps) return step / Math.max(1, warmupSteps);
      const progress = (step - warmupSteps) / Math.max(1, totalSteps - warmupSteps);
      // Python: math.pi * float(num_cycles) * 2.0 * progress, num_cycles = 0.5 (left to right).
      return Math.max(0.0, 0.5 * (1.0 + cosCorrectlyRounded(Math.PI * 0.5 * 2.0 * progress)));
    }
    default:
      throw new RangeError(`type must be one of ${LR_SCHEDULER_TYPES.map((t) => `'${t}'`).join(', ')}, got ${show(type)}`);
  }
}

/**
 * The learning rate optimizer step `step` (0-based) uses: `baseLr * lambda(step)`, exactly as
 * transformers' get_{linear,cosine,constant,constant_with_warmup}_schedule(_with_warmup) with LambdaLR.
 */
export function learningRateAt(step: number, opts: LearningRateOptions): number {
  if (opts === null || typeof opts !== 'object') throw new TypeError('options must be an object { type, baseLr, warmupSteps, totalSteps }');
  requiredNonNegativeInteger(step, 'step');
  if (!LR_SCHEDULER_TYPES.includes(opts.type)) {
    throw new RangeError(`type must be one of ${LR_SCHEDULER_TYPES.map((t) => `'${t}'`).join(', ')}, got ${show(opts.type)}`);
  }
  if (typeof opts.baseLr !== 'number') throw new TypeError(`baseLr must be a finite non-negative number, got ${show(opts.baseLr)}`);
  if (!Number.isFinite(opts.baseLr) || opts.baseLr < 0) throw new RangeError(`baseLr must be a finite non-negative number, got ${show(opts.baseLr)}`);
  const warmup = requiredNonNegativeInteger(opts.warmupSteps, 'warmupSteps');
  const total = requiredNonNegativeInteger(opts.totalSteps, 'totalSteps');
  return opts.baseLr * lrLambda(opts.type, step, warmup, total);
}

/**
 * transformers' TrainingArguments.get_warmup_steps: `warmupSteps` when > 0, else ceil(totalSteps * warmupRatio)
 * (float64 product, so e.g. ratio 0.07 of 100 steps gives 8, as in Python).
 */
export function resolveWarmupSteps(opts: WarmupOptions): number {
  if (opts === null || typeof opts !== 'object') throw new TypeError('options must be an object { warmupSteps?, warmupRatio?, totalSteps }');
  const total = requiredNonNegativeInteger(opts.totalSteps, 'totalSteps');
  const steps = opts.warmupSteps === undefined ? 0 : requiredNonNegativeInteger(opts.warmupSteps, 'warmupSteps');
  let ratio = 0;
  if (opts.warmupRatio !== undefined) {
    if (typeof opts.warmupRatio !== 'number') throw new TypeError(`warmupRatio must be a number in [0, 1], got ${show(opts.warmupRatio)}`);
    if (!(opts.warmupRatio >= 0 && opts.warmupRatio <= 1)) throw new RangeError(`warmupRatio must be a number in [0, 1], got ${show(opts.warmupRatio)}`);
    ratio = opts.warmupRatio;
  }
  return steps > 0 ? steps : Math.ceil(total * ratio);
}
