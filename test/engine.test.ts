// The engine this build runs on: `versions`, the device option (and the errors of a CUDA device asked of a build or a
// machine without one), and fp16 mixed precision with dynamic loss scaling, which runs on the CPU as well.
import * as fs from 'fs';
import * as path from 'path';

import { BertClassifier, DeviceError, Trainer, versions } from '../src';
import { resolveDevice } from '../src/engine/device';
import { native } from '../src/engine/native';
import { fixture, fixturePath, maxAbsDiff } from './helpers/fixtures';
import { tokenizedExamples } from './helpers/training-data';
import type { StepEvent } from '../src/train/events';

const cuda = native().cudaInfo();

describe('versions', () => {
  it('names the package, the LibTorch and (for a CUDA build) CUDA, cuDNN and NCCL', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'package.json'), 'utf8')) as { version: string };
    expect(versions.bertTrainer).toBe(pkg.version);
    expect(versions.libtorch).toMatch(/^2\.\d+\.\d+/);
    expect(Object.keys(versions).sort()).toEqual(['bertTrainer', 'cuda', 'cudnn', 'libtorch', 'nccl']);
    if (cuda.built) {
      expect(versions.cuda).toMatch(/^\d+\.\d+$/);
      expect(versions.cudnn).toMatch(/^\d+\.\d+\.\d+$/);
      expect(versions.nccl).toMatch(/^2\.\d+\.\d+$/);
    } else {
      expect([versions.cuda, versions.cudnn, versions.nccl]).toEqual([null, null, null]);
    }
  });
});

describe('loading the addon', () => {
  it("names a missing build and npm's install-script approval, with code ADDON_NOT_BUILT", () => {
    const saved = process.env.BERT_TRAINER_ADDON;
    process.env.BERT_TRAINER_ADDON = path.join(__dirname, 'no-such-addon.node');
    try {
      // A module registry of its own: this one's native.ts has loaded the addon already.
      jest.isolateModules(() => {
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const { native: load } = require('../src/engine/native') as typeof import('../src/engine/native');
        let caught: unknown;
        try {
          load();
        } catch (err) {
          caught = err;
        }
        expect(caught).toBeInstanceOf(Error);
        expect((caught as { code?: string }).code).toBe('ADDON_NOT_BUILT');
        expect((caught as Error).message).toMatch(/native addon is not built .*no-such-addon\.node/);
        expect((caught as Error).message).toMatch(/npm approve-scripts bert-trainer/);
      });
    } finally {
      if (saved === undefined) delete process.env.BERT_TRAINER_ADDON;
      else process.env.BERT_TRAINER_ADDON = saved;
    }
  });
});

describe('device', () => {
  it('rejects what is not a device, naming the option', () => {
    expect(() => resolveDevice(0)).toThrow(TypeError);
    expect(() => resolveDevice('gpu')).toThrow(/device must be 'cpu', 'cuda', 'cuda:N' or 'auto', got 'gpu'/);
    expect(() => resolveDevice('cpu:1')).toThrow(RangeError);
    expect(() => resolveDevice('cuda:-1')).toThrow(RangeError);
    expect(resolveDevice(undefined)).toBe('cpu');
    expect(resolveDevice('cpu')).toBe('cpu');
  });

  it("'auto' is the first GPU when there is one, else the CPU", () => {
    expect(resolveDevice('auto')).toBe(cuda.built && cuda.deviceCount > 0 ? 'cuda:0' : 'cpu');
  });

  const noGpu = !cuda.built || cuda.deviceCount === 0;
  (noGpu ? it : it.skip)("'cuda' without CUDA or without a GPU is an Error whose code says which", async () => {
    const expected = cuda.built ? 'NO_CUDA_DEVICE' : 'CUDA_NOT_BUILT';
    for (const device of ['cuda', 'cuda:0', 'cuda:3'] as const) {
      let caught: unknown;
      try {
        await BertClassifier.fromPretrained(fixturePath('tiny-safetensors-f32'), { device });
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(DeviceError);
      expect((caught as DeviceError).code).toBe(expected);
      expect((caught as Error).message).toContain(`device '${device}'`);
      expect((caught as Error).message).toMatch(cuda.built ? /no GPU is visible/ : /has no CUDA/);
    }
  });

  it('a model on the CPU says so', async () => {
    const model = await BertClassifier.fromPretrained(fixturePath('tiny-safetensors-f32'), { device: 'auto' });
    expect(model.device).toBe(resolveDevice('auto'));
    model.dispose();
  });
});

describe("the GPU's attention path, run on the CPU", () => {
  // scaled_dot_product_attention with the boolean padding mask, and the last layer for the first position only:
  // what a model on a GPU runs (native/model/bert_attention.cpp forward_fused), checked here against the CPU path.
  afterEach(() => native().setFusedAttentionOnCpu(false));

  it('gives the same logits on a padded batch', async () => {
    const name = 'tiny-safetensors-f32';
    const { inputs } = fixture(name);
    expect(inputs.attentionMask.some((row) => row.includes(0))).toBe(true);
    const model = await BertClassifier.fromPretrained(fixturePath(name));
    const plain = await model.forward(inputs);
    native().setFusedAttentionOnCpu(true);
    const fused = await model.forward(inputs);
    model.dispose();
    expect(maxAbsDiff(fused.logits, Array.from(plain.logits))).toBeLessThan(1e-5);
    expect(Array.from(fused.logits)).not.toEqual(Array.from(plain.logits)); // another kernel really ran
  });

  it('trains to the same losses, dropout off', async () => {
    const run = async (fusedOnCpu: boolean): Promise<number[]> => {
      native().setFusedAttentionOnCpu(fusedOnCpu);
      const model = await BertClassifier.fromConfig(FP16_CONFIG, { seed: 4 });
      const trainer = new Trainer(model, { epochs: 1, batchSize: 8, learningRate: 1e-3, logEvery: 1, shuffle: false, evalStrategy: 'no' });
      const result = await trainer.fit(tokenizedExamples(80, { vocabSize: 99, numLabels: 2, seed: 6 }));
      model.dispose();
      return result.history.filter((e): e is StepEvent => e.type === 'step').map((e) => e.loss);
    };
    const [plain, fused] = [await run(false), await run(true)];
    expect(fused).toHaveLength(10);
    for (let i = 0; i < fused.length; i += 1) expect(Math.abs(fused[i] - plain[i])).toBeLessThan(1e-5 * Math.max(1, plain[i]));
  });
});

const FP16_CONFIG = {
  vocab_size: 99,
  hidden_size: 32,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  intermediate_size: 37,
  max_position_embeddings: 64,
  hidden_dropout_prob: 0,
  attention_probs_dropout_prob: 0,
  num_labels: 2,
};

describe('fp16 mixed precision with loss scaling', () => {
  async function losses(mixedPrecision: 'no' | 'fp16'): Promise<StepEvent[]> {
    const model = await BertClassifier.fromConfig(FP16_CONFIG, { seed: 3 });
    const trainer = new Trainer(model, {
      mixedPrecision,
      epochs: 1,
      batchSize: 8,
      learningRate: 1e-3,
      logEvery: 1,
      shuffle: false,
      evalStrategy: 'no',
    });
    const result = await trainer.fit(tokenizedExamples(80, { vocabSize: 99, numLabels: 2, seed: 5 }));
    model.dispose();
    return result.history.filter((e): e is StepEvent => e.type === 'step');
  }

  it('trains with finite losses that follow the fp32 run within 2%', async () => {
    const [fp32, fp16] = [await losses('no'), await losses('fp16')];
    expect(fp16).toHaveLength(10);
    for (let i = 0; i < fp16.length; i += 1) {
      expect(Number.isFinite(fp16[i].loss)).toBe(true);
      expect(Number.isFinite(fp16[i].gradNorm)).toBe(true);
      expect(fp16[i].skipped).toBe(false);
      expect(Math.abs(fp16[i].loss - fp32[i].loss) / fp32[i].loss).toBeLessThan(0.02);
    }
    expect(fp16[0].loss).not.toBe(fp32[0].loss); // fp16 really ran
  });
});

describe('cudaGraphs', () => {
  it('is checked by name, and on the CPU every step stays eager (metrics.cudaGraphs null, the same run either way)', async () => {
    const model = await BertClassifier.fromConfig(FP16_CONFIG, { seed: 3 });
    expect(() => new Trainer(model, { cudaGraphs: 'yes' as unknown as boolean })).toThrow(/cudaGraphs must be a boolean, got "yes"/);
    const run = async (cudaGraphs: boolean) => {
      const m = await BertClassifier.fromConfig(FP16_CONFIG, { seed: 3 });
      const trainer = new Trainer(m, { cudaGraphs, epochs: 1, batchSize: 8, learningRate: 1e-3, logEvery: 1, shuffle: false, evalStrategy: 'no' });
      const result = await trainer.fit(tokenizedExamples(32, { vocabSize: 99, numLabels: 2, seed: 5 }));
      m.dispose();
      return result;
    };
    const [on, off] = [await run(true), await run(false)];
    expect(on.metrics.cudaGraphs).toBeNull();
    expect(off.metrics.cudaGraphs).toBeNull();
    const losses = (r: typeof on) => r.history.filter((e): e is StepEvent => e.type === 'step').map((e) => e.loss);
    expect(losses(on)).toHaveLength(4);
    expect(losses(on)).toEqual(losses(off));
    model.dispose();
  });
});
