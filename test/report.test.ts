// The training report: a self-contained page (no external assets, no scripts) with the curves, the evaluation
// metrics, the confusion matrix and the run information; every name from the data is escaped; degenerate runs
// (no evaluation, one step, NaN losses, interrupted) still render.
import { promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';

import { ReportData, renderCurvesSvg, renderReport, smoothLosses, writeReport } from '../src/report/report';

function run(overrides: Partial<ReportData> = {}): ReportData {
  const steps = Array.from({ length: 40 }, (_, i) => ({
    step: i + 1,
    epoch: (i + 1) / 20,
    loss: 1.2 * Math.exp(-i / 15) + 0.05 * Math.sin(i),
    learningRate: 1e-3 * (1 - i / 40),
  }));
  const metrics = (accuracy: number) => ({ loss: 1 - accuracy, accuracy, f1: accuracy - 0.02 });
  return {
    model: 'tiny, trained from scratch (2 layers, hidden 128)',
    data: { train: 'data/train.csv', trainExamples: 160, eval: 'data/dev.csv', evalExamples: 40 },
    labels: ['ham', 'spam'],
    options: { epochs: 2, 'batch size': 8, 'learning rate': 0.001 },
    command: 'bert-trainer train --model tiny --train data/train.csv',
    output: 'runs/tiny',
    startedAt: new Date('2025-01-02T03:04:05Z'),
    finishedAt: new Date('2025-01-02T03:05:05Z'),
    steps,
    evaluations: [
      { step: 20, epoch: 1, metrics: metrics(0.8) },
      { step: 40, epoch: 2, metrics: metrics(0.9) },
    ],
    summary: { steps: 40, epochs: 2, trainLoss: 0.4, runtimeSeconds: 61, samplesPerSecond: 123.4 },
    final: {
      loss: 0.1,
      accuracy: 0.9,
      f1: 0.88,
      numExamples: 40,
      perClass: { ham: { precision: 0.9, recall: 0.95, f1: 0.92, support: 20 }, spam: { precision: 0.94, recall: 0.85, f1: 0.89, support: 20 } },
      confusionMatrix: [
        [19, 1],
        [3, 17],
      ],
    },
    ...overrides,
  };
}

/** Every src= or href= and url(...) of the page: none may point outside it. */
function externalReferences(html: string): string[] {
  const refs = [...html.matchAll(/\b(?:src|href)\s*=\s*["']?([^"'\s>]+)/gi)].map((m) => m[1]);
  const urls = [...html.matchAll(/url\(([^)]*)\)/gi)].map((m) => m[1]);
  return [...refs, ...urls].filter((r) => !r.startsWith('#') && !r.startsWith('data:'));
}

describe('renderReport', () => {
  test('is one self-contained page with the four charts, the tables and the run information', () => {
    const html = renderReport(run());
    expect(html.startsWith('<!DOCTYPE html>')).toBe(true);
    expect(externalReferences(html)).toEqual([]);
    expect(html).not.toMatch(/<script|<link|<img|@import/i);
    expect((html.match(/<svg /g) ?? []).length).toBe(4);
    for (const text of [
      'Training loss',
      'Learning rate',
      'Evaluation loss',
      'Evaluation accuracy and F1',
      'Confusion matrix',
      'Per label',
      'data/dev.csv',
      'runs/tiny',
      'bert-trainer train --model tiny',
    ]) {
      expect(html).toContain(text);
    }
    // The headline tiles: accuracy as a percentage, macro F1, eval loss.
    expect(html).toContain('90.0%');
    expect(html).toContain('0.8800');
    expect(html).toContain('2025-01-02 03:05:05 UTC');
  });

  test('the confusion matrix is a grid of counts with the label names, colored by the share of the row', () => {
    const html = renderReport(run());
    const table = html.slice(html.indexOf('<table class="cm'), html.indexOf('</table>', html.indexOf('<table class="cm')));
    expect((table.match(/<td style="background:rgba/g) ?? []).length).toBe(4);
    expect(table).toContain('<b>19</b>');
    expect(table).toContain('<b>3</b>');
    expect(table).toContain('>ham<');
    expect(table).toContain('>spam<');
    expect(table).toContain('95%'); // 19 of 20
    // Right answers are green, mistakes red.
    expect(table).toMatch(/rgba\(22,163,74,[0-9.]+\)[^>]*title="true ham, predicted ham: 19 of 20"/);
    expect(table).toMatch(/rgba\(220,38,38,[0-9.]+\)[^>]*title="true spam, predicted ham: 3 of 20"/);
  });

  test('escapes everything that comes from the data or the command line', () => {
    const evil = '<script>alert("x")</script>';
    const html = renderReport(
      run({
        model: evil,
        labels: [evil, 'b&b'],
        command: `bert-trainer train --text-column '${evil}'`,
        data: { train: evil },
        final: {
          accuracy: 1,
          perClass: { [evil]: { precision: 1, recall: 1, f1: 1, support: 1 }, 'b&b': { precision: 1, recall: 1, f1: 1, support: 1 } },
          confusionMatrix: [
            [1, 0],
            [0, 1],
          ],
        },
      }),
    );
    expect(html).not.toContain('<script>');
    expect(html).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;');
    expect(html).toContain('b&amp;b');
  });

  test('renders a run without evaluations, with one step, or with non-finite losses', () => {
    const none = renderReport(run({ evaluations: [], final: undefined, data: { train: 't.csv' } }));
    expect(none).toContain('No evaluations: pass --eval FILE or --validation-split');
    expect(none).not.toContain('Confusion matrix');
    const one = renderReport(run({ steps: [{ step: 1, epoch: 1, loss: 0.7, learningRate: 5e-5 }], evaluations: [], final: undefined }));
    expect(one).toContain('<circle'); // a single point is drawn as a dot
    const nan = renderReport(run({ steps: run().steps.map((s, i) => (i === 5 ? { ...s, loss: NaN } : s)) }));
    expect(nan).not.toMatch(/NaN/);
    const empty = renderReport(run({ steps: [], evaluations: [], final: undefined, summary: undefined }));
    expect(empty).toContain('No training steps were logged');
  });

  test('an interrupted run says so', () => {
    const html = renderReport(run({ status: 'interrupted', final: undefined, summary: undefined }));
    expect(html).toContain('class="status interrupted"');
    expect(html).toContain('interrupted before its last step');
  });

  test('long runs are drawn with a bounded number of points', () => {
    const steps = Array.from({ length: 20000 }, (_, i) => ({ step: i + 1, epoch: i / 1000, loss: 1 / (1 + i), learningRate: 1e-4 }));
    const html = renderReport(run({ steps }));
    expect(html.length).toBeLessThan(400_000);
  });
});

describe('smoothLosses', () => {
  test('is the debiased moving average: a constant stays constant, NaN stays a gap', () => {
    expect(smoothLosses(Array(30).fill(2)).every((v) => Math.abs(v - 2) < 1e-12)).toBe(true);
    const values = smoothLosses([1, 2, NaN, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    expect(Number.isNaN(values[2])).toBe(true);
    expect(values[0]).toBeCloseTo(1);
    expect(values[11]).toBeLessThan(11);
    expect(smoothLosses([3, 1])).toEqual([3, 1]); // too few points to smooth
  });
});

describe('renderCurvesSvg and writeReport', () => {
  test('report.svg is a standalone SVG; writeReport writes both files', async () => {
    const svg = renderCurvesSvg(run());
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg).toContain('Training loss');
    expect(svg).toContain('Evaluation accuracy and F1');
    expect(renderCurvesSvg(run({ evaluations: [] }))).not.toContain('Evaluation loss');

    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'report-test-'));
    try {
      const files = await writeReport(path.join(dir, 'out'), run());
      expect(files).toEqual({ html: path.join(dir, 'out', 'report.html'), svg: path.join(dir, 'out', 'report.svg') });
      expect(await fs.readFile(files.html, 'utf8')).toContain('<!DOCTYPE html>');
      expect(await fs.readFile(files.svg, 'utf8')).toContain('<svg');
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});
