// The inference path's two matrix kernels (native/model/packed_gemm.cpp): AVX-512 where the CPU has it, AVX2 otherwise
// or when BERT_TRAINER_CPU_CAPABILITY=avx2 asks for it. Each output is the same sum in the same order in both, so
// a forward gives the same bits with either: an even and an odd number of 16-column panels (AVX-512 takes two at a
// time), few rows and many, AVX-512 tiles of every height BERT_TRAINER_GEMM_TILE_ROWS can ask for (the default: 12 on
// Intel, 6 elsewhere), and k split into blocks (BERT_TRAINER_GEMM_K_BLOCK; the default blocks, 256 or 768, are longer
// than these models' k, so only a smaller one exercises c's reload between blocks). On a CPU without AVX-512 every
// process runs the AVX2 kernel and the test still holds.
import { execFileSync } from 'child_process';
import * as path from 'path';

const CHILD = path.join(__dirname, 'helpers', 'kernel-child.js');

interface Rows {
  rows: { shape: number[]; logits: number[]; lastHiddenState: number[] }[];
}

interface Blocking {
  tileRows?: number;
  kBlock?: number;
}

function forwardWith(capability: string | undefined, hidden: number, intermediate: number, blocking: Blocking = {}): Rows {
  const env = { ...process.env };
  delete env.BERT_TRAINER_CPU_CAPABILITY;
  delete env.BERT_TRAINER_GEMM_TILE_ROWS;
  delete env.BERT_TRAINER_GEMM_K_BLOCK;
  if (capability) env.BERT_TRAINER_CPU_CAPABILITY = capability;
  if (blocking.tileRows !== undefined) env.BERT_TRAINER_GEMM_TILE_ROWS = String(blocking.tileRows);
  if (blocking.kBlock !== undefined) env.BERT_TRAINER_GEMM_K_BLOCK = String(blocking.kBlock);
  return JSON.parse(execFileSync(process.execPath, [CHILD, String(hidden), String(intermediate)], { env, encoding: 'utf8' })) as Rows;
}

describe.each([
  ['4 and 8 panels', 64, 128],
  ['5 and 11 panels', 80, 176],
])('the AVX2 kernel and the default one give the same bits (%s)', (_name, hidden, intermediate) => {
  test('logits and last hidden states, few rows and many', () => {
    const chosen = forwardWith(undefined, hidden, intermediate);
    const avx2 = forwardWith('avx2', hidden, intermediate);
    expect(chosen.rows.map((r) => r.shape)).toEqual([
      [1, 7],
      [3, 11],
      [7, 50],
    ]);
    for (const [i, row] of chosen.rows.entries()) {
      expect(row.logits.every(Number.isFinite)).toBe(true);
      expect(row.lastHiddenState.length).toBe(row.shape[0] * row.shape[1] * hidden);
      expect(row.logits).toEqual(avx2.rows[i].logits);
      expect(row.lastHiddenState).toEqual(avx2.rows[i].lastHiddenState);
    }
  }, 60_000);

  test.each([1, 6, 7, 12])(
    'AVX-512 tiles %i rows tall',
    (tileRows) => {
      const avx2 = forwardWith('avx2', hidden, intermediate);
      const tiled = forwardWith(undefined, hidden, intermediate, { tileRows });
      for (const [i, row] of tiled.rows.entries()) {
        expect(row.logits).toEqual(avx2.rows[i].logits);
        expect(row.lastHiddenState).toEqual(avx2.rows[i].lastHiddenState);
      }
    },
    60_000,
  );

  // 48 leaves a shorter last block at every k here (64, 80, 128, 176); 1 stores and reloads c after every product.
  test.each([1, 48])(
    'k in blocks of %i, on both kernels',
    (kBlock) => {
      const avx2 = forwardWith('avx2', hidden, intermediate);
      for (const blocked of [forwardWith(undefined, hidden, intermediate, { kBlock }), forwardWith('avx2', hidden, intermediate, { kBlock })]) {
        for (const [i, row] of blocked.rows.entries()) {
          expect(row.logits).toEqual(avx2.rows[i].logits);
          expect(row.lastHiddenState).toEqual(avx2.rows[i].lastHiddenState);
        }
      }
    },
    60_000,
  );
});
