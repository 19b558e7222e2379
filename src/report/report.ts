// The training report: one self-contained HTML page (inline CSS and SVG, no scripts, fonts or images from anywhere)
// that shows a run at a glance — headline metrics, the training-loss and learning-rate curves, the evaluation metrics
// over the run, the final metrics with a per-class table and a colored confusion matrix, and what was run on what.
// report.svg holds the same curves as a standalone image (for a README or an issue).
import { promises as fs } from 'fs';
import * as path from 'path';

import { writeFileAtomic } from '../util/atomic-write';
import type { ClassMetrics } from '../train/metrics';
import type { EvaluationResult } from '../train/events';

export interface ReportStep {
  step: number;
  epoch: number;
  /** Mean training loss since the previous logged step. */
  loss: number;
  learningRate: number;
  gradNorm?: number;
  samplesPerSecond?: number;
}

/** One label's precision, recall, F1 and support (src/train/metrics.ts). */
export type ReportClassMetrics = ClassMetrics;

/** Evaluation metrics as Trainer.evaluate() returns them; every field optional, since a report may hold a partial run. */
export type ReportMetrics = Partial<Omit<EvaluationResult, 'problemType'>>;

/** A metric by name (the charts pick theirs from a list). */
function metric(metrics: ReportMetrics, key: string): unknown {
  return (metrics as Record<string, unknown>)[key];
}

export interface ReportEvaluation {
  step: number;
  epoch: number;
  metrics: ReportMetrics;
}

export interface ReportData {
  /** Page heading; default "Training report". */
  title?: string;
  /** 'interrupted' marks a run stopped before its last step (the page says so). Default 'completed'. */
  status?: 'completed' | 'interrupted';
  /** What was trained, e.g. "tiny, trained from scratch (2 layers, hidden 128, ...)". */
  model: string;
  data: { train: string; trainExamples?: number; eval?: string; evalExamples?: number };
  /** Label names in id order (the confusion matrix's axes). */
  labels?: string[];
  /** The run's options by name, shown as a table. */
  options?: Record<string, string | number | boolean | null | undefined>;
  /** The command line that ran. */
  command?: string;
  output?: string;
  startedAt?: Date | string;
  finishedAt?: Date | string;
  /** Logged training steps, in order. */
  steps: ReportStep[];
  /** Evaluations during training, in order. */
  evaluations: ReportEvaluation[];
  summary?: { steps: number; epochs: number; trainLoss: number; runtimeSeconds: number; samplesPerSecond: number };
  /** The final held-out metrics. */
  final?: ReportMetrics;
  /** Extra lines shown under the run information (skipped rows, resumed from, ...). */
  notes?: string[];
  /** Signs the run did not learn (the Trainer's 'warning' events), shown at the top of the page. */
  warnings?: { code: string; message: string }[];
}

// ---------------------------------------------------------------------------------------------------------------
// formatting

const COLORS = { blue: '#2563eb', orange: '#ea580c', green: '#16a34a', purple: '#9333ea', gray: '#64748b', red: '#dc2626' };
const FONT = "-apple-system, BlinkMacSystemFont, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif";
/** Curves are drawn with at most this many points (bucket means beyond it): the page stays small for long runs. */
const MAX_POINTS = 1000;

function escapeHtml(value: unknown): string {
  return String(value).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
}

function isNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

function fixed(value: unknown, digits = 4): string {
  return isNumber(value) ? value.toFixed(digits) : '–';
}

function percent(value: unknown): string {
  return isNumber(value) ? `${(value * 100).toFixed(1)}%` : '–';
}

function duration(seconds: number | undefined): string {
  if (!isNumber(seconds)) return '–';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h > 0 ? `${h}h ${String(m).padStart(2, '0')}m` : `${m}m ${String(s % 60).padStart(2, '0')}s`;
}

function rate(value: number | undefined): string {
  if (!isNumber(value)) return '–';
  return value >= 100 ? Math.round(value).toLocaleString('en-US') : value.toPrecision(3);
}

function timestamp(value: Date | string | undefined): string {
  if (value === undefined) return '–';
  const d = value instanceof Date ? value : new Date(value);
  if (Number.isNaN(d.getTime())) return String(value);
  return d
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d+Z$/, ' UTC');
}

/**
 * Labels for an axis whose ticks are `step` apart: as many decimals as the step needs, so that neighbouring ticks never
 * print the same; in scientific notation (one mantissa precision for the whole axis) for small values such as
 * learning rates.
 */
function axisFormatter(values: number[], step: number, scientific: boolean): (value: number) => string {
  const exponent = (v: number): number => Math.floor(Math.log10(Math.abs(v)) + 1e-9);
  if (scientific) {
    const largest = Math.max(...values.map(Math.abs));
    const digits = largest > 0 ? Math.max(0, Math.min(4, exponent(largest) - exponent(step))) : 0;
    return (v) => {
      if (v === 0) return '0';
      const [m, e] = v.toExponential(digits).split('e');
      return `${m}e${Number(e)}`;
    };
  }
  const decimals = Math.max(0, Math.min(6, -exponent(step)));
  return (v) => (v === 0 ? '0' : v.toLocaleString('en-US', { minimumFractionDigits: decimals, maximumFractionDigits: decimals }));
}

// ---------------------------------------------------------------------------------------------------------------
// charts (inline SVG; presentation attributes rather than CSS classes, so the same markup works in report.svg)

interface Series {
  name: string;
  color: string;
  points: [number, number][];
  width?: number;
  opacity?: number;
  /** Draw a dot at every point (sparse series such as evaluations). */
  dots?: boolean;
  /** Leave out of the legend (e.g. the raw curve under its smoothed one). */
  hideLegend?: boolean;
  /** Dashed line (so that a series lying on another one stays visible). */
  dashed?: boolean;
}

interface ChartSpec {
  width: number;
  height: number;
  series: Series[];
  xLabel: string;
  /** Fixed y range (e.g. [0, 1] for accuracy), else from the data. */
  yDomain?: [number, number];
  /** Extend the data's y range down to 0 (a learning-rate schedule reads as a shape from 0). */
  fromZero?: boolean;
  scientific?: boolean;
  /** Shown instead of the plot when no series has a point. */
  emptyText: string;
}

function niceStep(span: number, count: number): number {
  const raw = span / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const n = raw / magnitude;
  return (n < 1.5 ? 1 : n < 3 ? 2 : n < 7 ? 5 : 10) * magnitude;
}

/** Nice tick values covering [lo, hi] (extended to whole steps). */
function niceTicks(lo: number, hi: number, count: number, integer = false): { lo: number; hi: number; step: number; values: number[] } {
  if (!(hi > lo)) {
    const pad = lo === 0 ? 1 : Math.abs(lo) * 0.1;
    lo -= pad;
    hi += pad;
  }
  let step = niceStep(hi - lo, count);
  if (integer) step = Math.max(1, Math.round(step));
  const start = Math.floor(lo / step + 1e-9) * step;
  const end = Math.ceil(hi / step - 1e-9) * step;
  const values: number[] = [];
  for (let v = start; v <= end + step * 1e-6; v += step) values.push(Number(v.toPrecision(12)));
  return { lo: start, hi: end, step, values };
}

/** At most `max` points: the mean of equal runs of consecutive points. */
function downsample(points: [number, number][], max: number): [number, number][] {
  if (points.length <= max) return points;
  const out: [number, number][] = [];
  const size = points.length / max;
  for (let b = 0; b < max; b++) {
    const from = Math.floor(b * size);
    const to = Math.max(from + 1, Math.floor((b + 1) * size));
    let sx = 0;
    let sy = 0;
    let n = 0;
    for (let i = from; i < to; i++) {
      if (!Number.isFinite(points[i][1])) continue;
      sx += points[i][0];
      sy += points[i][1];
      n += 1;
    }
    if (n > 0) out.push([sx / n, sy / n]);
  }
  return out;
}

/** TensorBoard's debiased exponential moving average; the weight grows with the number of points. */
export function smoothLosses(values: number[]): number[] {
  const weight = values.length < 10 ? 0 : Math.min(0.9, 1 - 8 / values.length);
  let average = 0;
  let norm = 0;
  return values.map((v) => {
    if (!Number.isFinite(v)) return NaN;
    average = average * weight + (1 - weight) * v;
    norm = norm * weight + (1 - weight);
    return average / norm;
  });
}

function lineChart(spec: ChartSpec): string {
  const { width: W, height: H } = spec;
  const margin = { left: 58, right: 18, top: 30, bottom: 40 };
  const plotW = W - margin.left - margin.right;
  const plotH = H - margin.top - margin.bottom;
  const series = spec.series.map((s) => ({
    ...s,
    points: downsample(
      s.points.filter((p) => Number.isFinite(p[0])),
      MAX_POINTS,
    ),
  }));
  const all = series.flatMap((s) => s.points).filter((p) => Number.isFinite(p[1]));
  const open = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" font-family="${escapeHtml(FONT)}" role="img">`;
  if (all.length === 0) {
    return `${open}<rect x="0.5" y="0.5" width="${W - 1}" height="${H - 1}" rx="8" fill="#f8fafc" stroke="#e2e8f0" stroke-dasharray="4 4"/><text x="${W / 2}" y="${H / 2}" text-anchor="middle" dominant-baseline="middle" font-size="13" fill="#94a3b8">${escapeHtml(spec.emptyText)}</text></svg>`;
  }

  const xs = all.map((p) => p[0]);
  const ys = all.map((p) => p[1]);
  const xTicks = niceTicks(Math.min(...xs), Math.max(...xs), 6, true);
  let yLo = spec.yDomain ? spec.yDomain[0] : Math.min(...ys);
  let yHi = spec.yDomain ? spec.yDomain[1] : Math.max(...ys);
  if (!spec.yDomain) {
    const pad = (yHi - yLo) * 0.05;
    yLo -= pad;
    yHi += pad;
    if (Math.min(...ys) >= 0 && (yLo < 0 || spec.fromZero)) yLo = 0;
  }
  const yTicks = niceTicks(yLo, yHi, 5);
  // A fixed domain stays exactly as given (accuracy never shows 1.2).
  const y0 = spec.yDomain ? spec.yDomain[0] : yTicks.lo;
  const y1 = spec.yDomain ? spec.yDomain[1] : yTicks.hi;
  const x0 = Math.min(...xs) === Math.max(...xs) ? xTicks.lo : Math.min(...xs);
  const x1 = Math.min(...xs) === Math.max(...xs) ? xTicks.hi : Math.max(...xs);
  const px = (x: number): number => margin.left + ((x - x0) / (x1 - x0)) * plotW;
  const py = (y: number): number => margin.top + plotH - ((y - y0) / (y1 - y0)) * plotH;
  const r = (v: number): string => v.toFixed(1);

  const yLabel = axisFormatter(yTicks.values, yTicks.step, spec.scientific === true);
  const xLabel = axisFormatter(xTicks.values, xTicks.step, false);
  const parts: string[] = [open];
  // grid and y axis labels
  for (const v of yTicks.values) {
    if (v < y0 - 1e-12 || v > y1 + 1e-12) continue;
    const y = r(py(v));
    parts.push(`<line x1="${margin.left}" x2="${W - margin.right}" y1="${y}" y2="${y}" stroke="#e2e8f0" stroke-width="1"/>`);
    parts.push(`<text x="${margin.left - 8}" y="${y}" text-anchor="end" dominant-baseline="middle" font-size="11" fill="#64748b">${yLabel(v)}</text>`);
  }
  for (const v of xTicks.values) {
    if (v < x0 || v > x1) continue;
    const x = r(px(v));
    parts.push(`<line x1="${x}" x2="${x}" y1="${margin.top + plotH}" y2="${margin.top + plotH + 4}" stroke="#94a3b8" stroke-width="1"/>`);
    parts.push(`<text x="${x}" y="${margin.top + plotH + 17}" text-anchor="middle" font-size="11" fill="#64748b">${xLabel(v)}</text>`);
  }
  parts.push(`<line x1="${margin.left}" x2="${W - margin.right}" y1="${margin.top + plotH}" y2="${margin.top + plotH}" stroke="#94a3b8" stroke-width="1"/>`);
  parts.push(`<text x="${margin.left + plotW / 2}" y="${H - 6}" text-anchor="middle" font-size="11" fill="#64748b">${escapeHtml(spec.xLabel)}</text>`);

  // lines (a non-finite value breaks the line) and dots
  for (const s of series) {
    let d = '';
    let pen = false;
    for (const [x, y] of s.points) {
      if (!Number.isFinite(y)) {
        pen = false;
        continue;
      }
      d += `${pen ? 'L' : 'M'}${r(px(x))} ${r(py(Math.min(Math.max(y, y0), y1)))}`;
      pen = true;
    }
    const opacity = s.opacity !== undefined ? ` stroke-opacity="${s.opacity}"` : '';
    if (s.points.length > 1 && d !== '') {
      const dash = s.dashed ? ' stroke-dasharray="6 4"' : '';
      parts.push(
        `<path d="${d}" fill="none" stroke="${s.color}" stroke-width="${s.width ?? 2}" stroke-linejoin="round" stroke-linecap="round"${opacity}${dash}/>`,
      );
    }
    if (s.dots || s.points.length === 1) {
      for (const [x, y] of s.points) {
        if (!Number.isFinite(y)) continue;
        parts.push(
          `<circle cx="${r(px(x))}" cy="${r(py(y))}" r="3.5" fill="#fff" stroke="${s.color}" stroke-width="2"><title>${escapeHtml(s.name)} at step ${x}: ${escapeHtml(spec.scientific ? y.toExponential(3) : y.toFixed(4))}</title></circle>`,
        );
      }
    }
  }

  // legend, right-aligned above the plot
  const legend = series.filter((s) => !s.hideLegend);
  let lx = W - margin.right;
  for (const s of [...legend].reverse()) {
    const textWidth = s.name.length * 6.4;
    lx -= textWidth;
    parts.push(`<text x="${r(lx)}" y="14" font-size="11.5" fill="#334155" dominant-baseline="middle">${escapeHtml(s.name)}</text>`);
    lx -= 20;
    parts.push(
      `<line x1="${r(lx)}" x2="${r(lx + 14)}" y1="14" y2="14" stroke="${s.color}" stroke-width="3"${s.dashed ? ' stroke-dasharray="5 3"' : ' stroke-linecap="round"'}/>`,
    );
    lx -= 14;
  }
  parts.push('</svg>');
  return parts.join('');
}

// ---------------------------------------------------------------------------------------------------------------
// the charts of a run

interface Charts {
  loss: string;
  learningRate: string;
  evalLoss: string;
  evalScores: string;
}

const EVAL_SCORES: { key: string; name: string; color: string; dashed: boolean }[] = [
  { key: 'accuracy', name: 'accuracy', color: COLORS.green, dashed: false },
  { key: 'f1', name: 'F1 (macro)', color: COLORS.purple, dashed: true },
];

function charts(data: ReportData, width: number, height: number): Charts {
  const steps = data.steps.filter((s) => isNumber(s.step));
  const raw: [number, number][] = steps.map((s) => [s.step, s.loss]);
  const smoothed = smoothLosses(steps.map((s) => s.loss));
  const smooth: [number, number][] = steps.map((s, i) => [s.step, smoothed[i]]);
  const showRaw = steps.length >= 10;
  const trainLoss: Series[] = showRaw
    ? [
        { name: 'loss', color: COLORS.blue, points: raw, width: 1.2, opacity: 0.3, hideLegend: true },
        { name: 'training loss (smoothed)', color: COLORS.blue, points: smooth, width: 2.2 },
      ]
    : [{ name: 'training loss', color: COLORS.blue, points: raw, dots: true }];
  const evalPoints = (key: string): [number, number][] =>
    data.evaluations.filter((e) => isNumber(metric(e.metrics, key))).map((e) => [e.step, metric(e.metrics, key) as number]);
  const noEval = data.evaluations.length === 0 ? 'No evaluations: pass --eval FILE or --validation-split' : 'No evaluation metrics';

  const scoreSeries = EVAL_SCORES.map((m) => ({ name: m.name, color: m.color, points: evalPoints(m.key), dots: true, dashed: m.dashed })).filter(
    (s) => s.points.length > 0,
  );
  const scoreValues = scoreSeries.flatMap((s) => s.points.map((p) => p[1]));
  // Scores live in [0, 1]; zoom in on the top of that range when every value is high.
  const lowest = scoreValues.length > 0 ? Math.min(...scoreValues) : 0;
  const floor = lowest >= 0.5 ? Math.max(0, Math.floor((lowest - 0.05) * 10) / 10) : 0;

  return {
    loss: lineChart({ width, height, xLabel: 'step', series: trainLoss, emptyText: 'No training steps were logged' }),
    learningRate: lineChart({
      width,
      height,
      xLabel: 'step',
      scientific: true,
      fromZero: true,
      series: [{ name: 'learning rate', color: COLORS.orange, points: steps.map((s) => [s.step, s.learningRate]), dots: steps.length < 10 }],
      emptyText: 'No training steps were logged',
    }),
    evalLoss: lineChart({
      width,
      height,
      xLabel: 'step',
      series:
        data.evaluations.length === 0
          ? []
          : [
              { name: 'training loss (smoothed)', color: COLORS.blue, points: smooth, width: 1.6, opacity: 0.55 },
              { name: 'eval loss', color: COLORS.orange, points: evalPoints('loss'), dots: true },
            ],
      emptyText: noEval,
    }),
    evalScores: lineChart({ width, height, xLabel: 'step', yDomain: [floor, 1], series: scoreSeries, emptyText: noEval }),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// page sections

function tile(label: string, value: string, detail = ''): string {
  return `<div class="tile"><div class="tile-label">${escapeHtml(label)}</div><div class="tile-value">${escapeHtml(value)}</div><div class="tile-detail">${escapeHtml(detail)}</div></div>`;
}

/** Wall time between startedAt and finishedAt (an interrupted run has no summary). */
function elapsedSeconds(data: ReportData): number | undefined {
  if (data.startedAt === undefined || data.finishedAt === undefined) return undefined;
  const seconds = (new Date(data.finishedAt).getTime() - new Date(data.startedAt).getTime()) / 1000;
  return Number.isFinite(seconds) ? seconds : undefined;
}

function tiles(data: ReportData): string {
  const f = data.final;
  const s = data.summary;
  const lastStep = data.steps[data.steps.length - 1];
  const steps = s?.steps ?? lastStep?.step;
  const epochs = s?.epochs ?? lastStep?.epoch;
  const list = [
    tile('Accuracy', f ? percent(f.accuracy) : '–', f ? 'held-out' : 'no held-out data'),
    tile('F1 (macro)', f ? fixed(f.f1) : '–', f ? 'held-out' : ''),
    tile('Eval loss', f ? fixed(f.loss) : '–', f ? 'cross-entropy' : ''),
    tile('Train loss', s ? fixed(s.trainLoss) : lastStep ? fixed(lastStep.loss) : '–', s ? 'mean over the run' : 'last logged'),
    tile(
      'Steps',
      steps !== undefined ? steps.toLocaleString('en-US') : '–',
      epochs !== undefined ? `${Number.isInteger(epochs) ? epochs : epochs.toFixed(2)} epochs` : '',
    ),
    tile('Time', duration(s?.runtimeSeconds ?? elapsedSeconds(data)), s ? `${rate(s.samplesPerSecond)} samples/s` : ''),
  ];
  return `<section class="tiles">${list.join('')}</section>`;
}

function card(title: string, body: string, subtitle = '', wide = false): string {
  const sub = subtitle ? `<p class="card-sub">${escapeHtml(subtitle)}</p>` : '';
  return `<section class="card${wide ? ' wide' : ''}"><h2>${escapeHtml(title)}</h2>${sub}${body}</section>`;
}

/**
 * Above this many labels a confusion matrix is not drawn (report.html) or printed (the CLI): its cells grow with the
 * square of the labels (5,000 labels, 25 million cells), and no one reads it; metrics.json and --json still have it.
 */
export const MAX_SHOWN_CONFUSION_LABELS = 50;

/** Rows are true labels, columns predictions; cell color is the share of its row (green on the diagonal, red off it). */
function confusionMatrix(matrix: number[][], labels: string[]): string {
  const n = matrix.length;
  if (n > MAX_SHOWN_CONFUSION_LABELS) {
    return `<p class="card-sub">${n} labels: too many to draw (more than ${MAX_SHOWN_CONFUSION_LABELS}); metrics.json has the matrix.</p>`;
  }
  const names = Array.from({ length: n }, (_, i) => labels[i] ?? `LABEL_${i}`);
  const compact = n > 12;
  const head = names.map((l) => `<th class="cm-col" title="${escapeHtml(l)}"><span>${escapeHtml(l)}</span></th>`).join('');
  const rows = matrix
    .map((row, i) => {
      const total = row.reduce((a, b) => a + b, 0);
      const cells = row
        .map((count, j) => {
          const share = total > 0 ? count / total : 0;
          const [r, g, b] = i === j ? [22, 163, 74] : [220, 38, 38];
          const alpha = count === 0 ? 0 : 0.08 + 0.85 * share;
          const ink = alpha > 0.55 ? '#fff' : '#0f172a';
          const pct = compact || count === 0 ? '' : `<small>${(share * 100).toFixed(share > 0 && share < 0.1 ? 1 : 0)}%</small>`;
          const tip = `true ${names[i]}, predicted ${names[j]}: ${count} of ${total}`;
          return `<td style="background:rgba(${r},${g},${b},${alpha.toFixed(3)});color:${ink}" title="${escapeHtml(tip)}"><b>${count}</b>${pct}</td>`;
        })
        .join('');
      return `<tr><th class="cm-row" title="${escapeHtml(names[i])}">${escapeHtml(names[i])}</th>${cells}<td class="cm-total">${total}</td></tr>`;
    })
    .join('');
  return `<div class="cm-wrap"><table class="cm${compact ? ' compact' : ''}">
<thead><tr><th class="cm-corner"><span class="cm-axis-pred">predicted →</span><span class="cm-axis-true">true ↓</span></th>${head}<th class="cm-total-head">n</th></tr></thead>
<tbody>${rows}</tbody></table></div>`;
}

function perClassTable(perClass: Record<string, ReportClassMetrics>, labels: string[] | undefined): string {
  const names = labels && labels.every((l) => l in perClass) ? labels : Object.keys(perClass);
  const rows = names
    .map((name) => {
      const m = perClass[name];
      const bar = `<div class="bar"><div style="width:${(Math.max(0, Math.min(1, m.f1)) * 100).toFixed(1)}%"></div></div>`;
      return `<tr><td class="label">${escapeHtml(name)}</td><td>${fixed(m.precision, 3)}</td><td>${fixed(m.recall, 3)}</td><td class="f1">${fixed(m.f1, 3)}${bar}</td><td>${m.support.toLocaleString('en-US')}</td></tr>`;
    })
    .join('');
  return `<table class="metrics"><thead><tr><th>label</th><th>precision</th><th>recall</th><th>F1</th><th>support</th></tr></thead><tbody>${rows}</tbody></table>`;
}

const METRIC_LABELS: Record<string, string> = {
  accuracy: 'accuracy',
  subsetAccuracy: 'subset accuracy',
  f1: 'F1 (macro)',
  macroF1: 'F1 (macro)',
  microF1: 'F1 (micro)',
  macroPrecision: 'precision (macro)',
  macroRecall: 'recall (macro)',
  mse: 'MSE',
  mae: 'MAE',
  rmse: 'RMSE',
  pearson: 'Pearson r',
  spearman: 'Spearman ρ',
  loss: 'loss',
  numExamples: 'examples',
  runtimeSeconds: 'runtime (s)',
  samplesPerSecond: 'samples/s',
};

/** The scores first, then the loss, then the counts and timings (METRIC_LABELS' order). */
function finalMetricsTable(metrics: ReportMetrics): string {
  // Multi-label results (they have subsetAccuracy) report f1 as micro F1 and macroF1 beside it.
  const labels = isNumber(metrics.subsetAccuracy) ? { ...METRIC_LABELS, f1: 'F1 (micro)' } : METRIC_LABELS;
  const rows = Object.keys(labels)
    .filter((key) => isNumber(metric(metrics, key)))
    .map((key) => {
      const v = metric(metrics, key) as number;
      const shown =
        key === 'numExamples' ? v.toLocaleString('en-US') : key === 'samplesPerSecond' ? rate(v) : key === 'runtimeSeconds' ? v.toFixed(2) : v.toFixed(4);
      return `<tr><td class="label">${escapeHtml(labels[key])}</td><td>${shown}</td></tr>`;
    })
    .join('');
  return `<table class="metrics kv"><tbody>${rows}</tbody></table>`;
}

function evaluationsTable(evaluations: ReportEvaluation[]): string {
  if (evaluations.length === 0) return '';
  const shown = evaluations.length > 12 ? [...evaluations.slice(0, 5), null, ...evaluations.slice(-6)] : evaluations;
  const rows = shown
    .map((e) =>
      e === null
        ? `<tr><td colspan="5" class="ellipsis">… ${evaluations.length - 11} more …</td></tr>`
        : `<tr><td>${e.step.toLocaleString('en-US')}</td><td>${Number.isInteger(e.epoch) ? e.epoch : e.epoch.toFixed(2)}</td><td>${fixed(e.metrics.loss)}</td><td>${fixed(e.metrics.accuracy)}</td><td>${fixed(e.metrics.f1)}</td></tr>`,
    )
    .join('');
  return `<table class="metrics"><thead><tr><th>step</th><th>epoch</th><th>eval loss</th><th>accuracy</th><th>F1 (macro)</th></tr></thead><tbody>${rows}</tbody></table>`;
}

function runInfo(data: ReportData): string {
  const dataLine = (file: string, n: number | undefined): string => `${file}${n !== undefined ? ` · ${n.toLocaleString('en-US')} examples` : ''}`;
  const entries: [string, string][] = [
    ['Model', data.model],
    ['Training data', dataLine(data.data.train, data.data.trainExamples)],
    ['Evaluation data', data.data.eval !== undefined ? dataLine(data.data.eval, data.data.evalExamples) : 'none'],
  ];
  if (data.labels) entries.push(['Labels', `${data.labels.length}: ${data.labels.join(', ')}`]);
  entries.push(['Started', timestamp(data.startedAt)], ['Finished', timestamp(data.finishedAt)]);
  if (data.summary) entries.push(['Duration', `${duration(data.summary.runtimeSeconds)} · ${rate(data.summary.samplesPerSecond)} samples/s`]);
  if (data.output) entries.push(['Output', data.output]);
  const list = entries.map(([k, v]) => `<dt>${escapeHtml(k)}</dt><dd>${escapeHtml(v)}</dd>`).join('');
  const command = data.command ? `<h3>Command</h3><pre>${escapeHtml(data.command)}</pre>` : '';
  const notes = data.notes && data.notes.length > 0 ? `<ul class="notes">${data.notes.map((n) => `<li>${escapeHtml(n)}</li>`).join('')}</ul>` : '';
  return `<dl class="info">${list}</dl>${notes}${command}`;
}

function optionsTable(options: Record<string, unknown>): string {
  const rows = Object.entries(options)
    .filter(([, v]) => v !== undefined)
    .map(
      ([k, v]) =>
        `<div class="opt"><span class="opt-key">${escapeHtml(k)}</span><span class="opt-value">${escapeHtml(v === null ? '–' : String(v))}</span></div>`,
    )
    .join('');
  return `<div class="opts">${rows}</div>`;
}

const CSS = `
*{box-sizing:border-box}
body{margin:0;background:#f1f5f9;color:#0f172a;font:14px/1.5 ${FONT};-webkit-font-smoothing:antialiased}
main{max-width:1180px;margin:0 auto;padding:28px 24px 48px}
header{display:flex;align-items:flex-start;justify-content:space-between;gap:16px;margin-bottom:20px}
h1{font-size:26px;margin:0 0 4px;letter-spacing:-.01em}
.subtitle{color:#475569;margin:0;max-width:880px;overflow-wrap:anywhere}
.status{flex:none;font-size:12px;font-weight:600;letter-spacing:.04em;text-transform:uppercase;padding:5px 12px;border-radius:999px}
.status.completed{background:#dcfce7;color:#166534}
.status.interrupted{background:#fef3c7;color:#92400e}
.banner{background:#fffbeb;border:1px solid #fde68a;color:#92400e;border-radius:10px;padding:10px 14px;margin-bottom:16px}
.tiles{display:grid;grid-template-columns:repeat(6,1fr);gap:12px;margin-bottom:16px}
.tile{background:#fff;border:1px solid #e2e8f0;border-radius:12px;padding:14px 16px;box-shadow:0 1px 2px rgba(15,23,42,.04)}
.tile-label{font-size:12px;color:#64748b;text-transform:uppercase;letter-spacing:.05em;font-weight:600}
.tile-value{font-size:26px;font-weight:650;margin-top:2px;font-variant-numeric:tabular-nums}
.tile-detail{font-size:12px;color:#94a3b8;min-height:18px}
.grid{display:grid;grid-template-columns:1fr 1fr;gap:16px}
.card{background:#fff;border:1px solid #e2e8f0;border-radius:12px;padding:16px 18px 14px;box-shadow:0 1px 2px rgba(15,23,42,.04);min-width:0}
.card.wide{grid-column:1/-1}
.card h2{font-size:15px;margin:0 0 2px}
.card h3{font-size:13px;margin:14px 0 6px;color:#334155}
.card-sub{margin:0 0 8px;color:#64748b;font-size:12.5px}
.card svg{display:block;width:100%;height:auto}
table.metrics{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums}
table.metrics th{font-size:11.5px;text-transform:uppercase;letter-spacing:.04em;color:#64748b;text-align:right;font-weight:600;padding:6px 8px;border-bottom:1px solid #e2e8f0}
table.metrics td{text-align:right;padding:6px 8px;border-bottom:1px solid #f1f5f9}
table.metrics th:first-child,table.metrics td:first-child{text-align:left}
table.metrics td.label{font-weight:500;overflow-wrap:anywhere}
table.metrics td.ellipsis{text-align:center;color:#94a3b8}
table.kv td{padding:5px 8px}
.bar{height:4px;background:#f1f5f9;border-radius:2px;margin-top:3px}
.bar div{height:4px;background:${COLORS.purple};border-radius:2px}
.cm-wrap{overflow-x:auto}
table.cm{border-collapse:separate;border-spacing:3px;font-variant-numeric:tabular-nums;margin:4px 0}
table.cm td{width:76px;height:58px;min-width:44px;text-align:center;border-radius:6px;border:1px solid #eef2f7;line-height:1.2}
table.cm td b{display:block;font-size:16px;font-weight:650}
table.cm td small{font-size:11px;opacity:.85}
table.cm.compact td{width:34px;height:30px;min-width:26px}
table.cm.compact td b{font-size:11px}
table.cm th{font-size:12px;font-weight:600;color:#334155}
th.cm-row{text-align:right;padding-right:8px;max-width:160px;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
th.cm-col{vertical-align:bottom;padding-bottom:4px;max-width:90px}
th.cm-col span{display:block;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
table.cm.compact th.cm-col span{writing-mode:vertical-rl;transform:rotate(180deg);max-height:110px}
th.cm-corner{font-size:11px;font-weight:500;color:#94a3b8;text-align:right;vertical-align:bottom;padding:0 8px 4px 0;white-space:nowrap}
th.cm-corner span{display:block}
td.cm-total{background:none!important;border:none!important;color:#94a3b8;font-size:12px;width:auto!important}
th.cm-total-head{color:#94a3b8!important;font-weight:500!important;vertical-align:bottom;padding-bottom:4px}
.split{display:grid;grid-template-columns:minmax(0,1.1fr) minmax(0,1fr);gap:28px;align-items:start}
dl.info{display:grid;grid-template-columns:150px 1fr;gap:6px 16px;margin:0}
dl.info dt{color:#64748b}
dl.info dd{margin:0;overflow-wrap:anywhere}
pre{background:#0f172a;color:#e2e8f0;border-radius:8px;padding:10px 12px;white-space:pre-wrap;overflow-wrap:anywhere;font-size:12.5px;margin:0}
.notes{margin:10px 0 0;padding-left:18px;color:#475569}
.opts{display:grid;grid-template-columns:repeat(3,1fr);gap:6px 20px}
.opt{display:flex;justify-content:space-between;gap:12px;border-bottom:1px dashed #e2e8f0;padding:3px 0}
.opt-key{color:#64748b}
.opt-value{font-weight:500;font-variant-numeric:tabular-nums;text-align:right;overflow-wrap:anywhere}
footer{color:#94a3b8;font-size:12px;margin-top:20px;text-align:center}
@media (max-width:900px){.tiles{grid-template-columns:repeat(3,1fr)}.grid,.split{grid-template-columns:1fr}.opts{grid-template-columns:1fr 1fr}}
`;

/** The report page as one HTML string (no external assets, no scripts). */
export function renderReport(data: ReportData): string {
  const status = data.status ?? 'completed';
  const title = data.title ?? 'Training report';
  const c = charts(data, 540, 250);
  // The model's short name here; its full description is under Run.
  const subtitleParts = [data.model.split(' (')[0], `trained on ${data.data.train}`];
  if (data.finishedAt ?? data.startedAt) subtitleParts.push(timestamp(data.finishedAt ?? data.startedAt));
  const banner =
    status === 'interrupted'
      ? `<div class="banner">This run was interrupted before its last step; the curves show the steps it completed.${data.final ? '' : ' There are no final metrics.'}</div>`
      : '';
  const warnings = (data.warnings ?? [])
    .map((w) => `<div class="banner warning"><strong>Warning</strong> (${escapeHtml(w.code)}): ${escapeHtml(w.message)}</div>`)
    .join('\n');
  const labels = data.labels;
  const final = data.final;
  let finalSection = '';
  if (final) {
    const left =
      final.confusionMatrix && final.confusionMatrix.length > 0
        ? `<h3>Confusion matrix</h3>${confusionMatrix(final.confusionMatrix, labels ?? Object.keys(final.perClass ?? {}))}`
        : '';
    const right = `${final.perClass ? `<h3>Per label</h3>${perClassTable(final.perClass, labels)}` : ''}<h3>Metrics</h3>${finalMetricsTable(final)}`;
    const subtitle =
      data.data.eval !== undefined
        ? `on ${data.data.eval}${isNumber(final.numExamples) ? ` (${final.numExamples.toLocaleString('en-US')} examples)` : ''}`
        : '';
    finalSection = card('Final evaluation', `<div class="split"><div>${left}</div><div>${right}</div></div>`, subtitle, true);
  }
  const evalTable = evaluationsTable(data.evaluations);
  const body = [
    `<header><div><h1>${escapeHtml(title)}</h1><p class="subtitle">${escapeHtml(subtitleParts.join(' · '))}</p></div><span class="status ${status}">${status}</span></header>`,
    banner,
    warnings,
    tiles(data),
    '<div class="grid">',
    card('Training loss', c.loss, data.steps.length >= 10 ? 'faint: logged loss · bold: exponential moving average' : 'logged loss per step'),
    card('Learning rate', c.learningRate, 'per optimizer step (warm-up and decay)'),
    card('Evaluation loss', c.evalLoss, 'held-out loss at each evaluation, with the training loss for comparison'),
    card('Evaluation accuracy and F1', c.evalScores, 'held-out scores at each evaluation'),
    evalTable ? card('Evaluations', evalTable, '', true) : '',
    finalSection,
    card('Run', runInfo(data), '', true),
    data.options && Object.keys(data.options).length > 0 ? card('Options', optionsTable(data.options), '', true) : '',
    '</div>',
    `<footer>Generated by bert-trainer · ${escapeHtml(timestamp(new Date()))}</footer>`,
  ].join('\n');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)} · ${escapeHtml(data.model)}</title>
<style>${CSS}</style>
</head>
<body><main>
${body}
</main></body>
</html>
`;
}

/** The curves alone as a standalone SVG image: training loss, learning rate, and the evaluation scores when there are any. */
export function renderCurvesSvg(data: ReportData): string {
  const chartW = 480;
  const W = 3 * 20 + 2 * chartW;
  const chartH = 240;
  const c = charts(data, chartW, chartH);
  const panels: [string, string][] = [
    ['Training loss', c.loss],
    ['Learning rate', c.learningRate],
  ];
  if (data.evaluations.length > 0) panels.push(['Evaluation loss', c.evalLoss], ['Evaluation accuracy and F1', c.evalScores]);
  const rows = Math.ceil(panels.length / 2);
  const cellH = chartH + 34;
  const H = 48 + rows * cellH;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" font-family="${escapeHtml(FONT)}">`,
    `<rect width="${W}" height="${H}" fill="#ffffff"/>`,
    `<text x="20" y="30" font-size="17" font-weight="600" fill="#0f172a">${escapeHtml(data.title ?? 'Training report')} · ${escapeHtml(data.model.split(' (')[0])}</text>`,
  ];
  panels.forEach(([title, svg], i) => {
    const x = 20 + (i % 2) * (chartW + 20);
    const y = 48 + Math.floor(i / 2) * cellH;
    parts.push(`<text x="${x}" y="${y + 14}" font-size="13" font-weight="600" fill="#334155">${escapeHtml(title)}</text>`);
    // A nested <svg> keeps each chart's own coordinate system.
    parts.push(svg.replace('<svg ', `<svg x="${x}" y="${y + 22}" `));
  });
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}

/** Writes report.html and report.svg into `dir` (created if needed); returns their paths. */
export async function writeReport(dir: string, data: ReportData): Promise<{ html: string; svg: string }> {
  await fs.mkdir(dir, { recursive: true });
  const html = path.join(dir, 'report.html');
  const svg = path.join(dir, 'report.svg');
  await writeFileAtomic(html, renderReport(data));
  await writeFileAtomic(svg, renderCurvesSvg(data));
  return { html, svg };
}
