// The training-step benchmark's Markdown report (step.js writes it beside the run's JSON): the timing table with the
// targets' verdicts, failed anchors, torch.compile's warm-up, the correctness gate, peak memory, per-step process
// resources, FLOP rates against the sgemm rate, and what the targets take against the sgemm rate and the FMA peak.
'use strict';

const { threadEnvLabel } = require('./common');
const { ANCHORS, CHECK_IMPL, TARGETS, LOSS_TOLERANCE, GRAD_NORM_TOLERANCE, MEMORY_STEPS } = require('./step-settings');

const mib = (kib) => (kib == null || kib < 0 ? 'n/a' : `${(kib / 1024).toFixed(0)} MiB`);
const cell = (x, d = 1) => (x == null ? 'n/a' : x.toFixed(d));

/** The target verdict of one ratio, or '' where the config has no target. */
function targetCell(r, ratio) {
  const target = TARGETS[`${r.config}:${r.batch}`];
  if (target === undefined || r.seq !== 128) return '';
  if (ratio == null) return `≤ ${target.toFixed(2)}: n/a`;
  return `≤ ${target.toFixed(2)}: ${ratio <= target ? 'met' : 'missed'}`;
}

function formatMarkdown(result) {
  const m = result.machine;
  const anchors = result.settings.anchors;
  const lines = [];
  lines.push(`# Training step: bert-trainer vs PyTorch ${m.torchPython} + transformers ${m.transformers || 'n/a'} (${result.date}, ${m.hostname})`);
  lines.push('');
  lines.push(
    `\`node scripts/bench/step.js${result.argv.length ? ` ${result.argv.join(' ')}` : ''}\` — ${m.cpuModel}, ${m.cores} cores, ` +
      `${m.threads} intra-op threads on every side (OPENBLAS_NUM_THREADS=${m.openblasThreads}, ` +
      `${threadEnvLabel(m)}), LibTorch ${m.torchOurs} (ours) / torch ${m.torchPython}, transformers ${m.transformers || 'n/a'} (${m.python}), ` +
      `node ${m.node}; commit ${m.commit ? m.commit.slice(0, 12) : 'n/a'}${m.dirty ? ' (dirty tree)' : ''}.`,
  );
  const precision =
    result.settings.precision === 'bf16'
      ? 'bf16 mixed precision on every side (ours: mixedPrecision \'bf16\'; PyTorch: forward and loss under torch.autocast("cpu", bfloat16)), fp32 weights'
      : 'fp32 on every side';
  lines.push(
    `Precision: ${precision}. One step = train-mode forward (dropout 0.1), cross-entropy, backward, clip 1.0, AdamW (lr 2e-5, wd 0.01). ` +
      `Anchors: ${anchors.map((a) => `${ANCHORS[a]}`).join('; ')} — transformers' BertForSequenceClassification (RobertaForSequenceClassification for roberta-base) stepped as its Trainer steps it ` +
      `(the model's loss, backward, clip_grad_norm_, ${m.pythonOptimizer || "Trainer's default AdamW"})` +
      `${anchors.includes('compile') ? '; torch.compile: torch.compile(model), its compiling steps are warm-up' : ''}. ` +
      `Median of ${
        typeof result.settings.reps === 'number'
          ? result.settings.reps
          : Object.entries(result.settings.reps)
              .map(([k, v]) => `${v} (${k})`)
              .join(', ')
      } ` +
      `timed steps per side, taken in turn (ours, then each anchor) after ${result.settings.warmup} warm-up steps each; ratio = ours / anchor medians ` +
      '(lower is better for ours); paired = median of the per-turn ratios.',
  );
  lines.push(`Load: start \`${result.uptimeStart}\`; end \`${result.uptimeEnd}\`.`);
  lines.push('');
  const head = ['config', 'batch × len', 'ours ms'];
  for (const a of anchors) head.push(`${ANCHORS[a]} ms`, `ratio (paired)`, 'target');
  head.push('ours peak RSS', 'SDPA peak RSS', 'RSS ratio');
  lines.push(`| ${head.join(' | ')} |`);
  lines.push(`|${head.map(() => '---|').join('')}`);
  for (const r of result.runs) {
    const row = [r.config, `${r.batch} × ${r.seq}`, r.correct ? cell(r.ours.median) : 'refused'];
    for (const a of anchors) {
      const x = r.anchors && r.anchors[a];
      if (!r.correct) row.push('refused', 'n/a', '');
      else if (!x || x.error) row.push(x ? `failed (${x.phase})` : 'n/a', 'n/a', targetCell(r, null));
      else row.push(cell(x.median), `${cell(x.ratio, 3)} (${cell(x.pairedRatio, 3)})`, targetCell(r, x.ratio));
    }
    const memOurs = r.memory ? r.memory.ours.hwm_kib : null;
    const memPy = r.memory ? r.memory.pytorch.hwm_kib : null;
    row.push(mib(memOurs), mib(memPy), memOurs && memPy ? (memOurs / memPy).toFixed(3) : 'n/a');
    lines.push(`| ${row.join(' | ')} |`);
  }
  const failures = result.runs.flatMap((r) =>
    Object.entries(r.anchors || {})
      .filter(([, x]) => x.error)
      .map(([a, x]) => `${r.config} ${r.batch}×${r.seq}, ${ANCHORS[a]} (${x.phase}): ${x.error}`),
  );
  if (failures.length) {
    lines.push('');
    lines.push('Anchors that failed (the run went on without them):');
    lines.push('');
    for (const f of failures) lines.push(`- ${f.replace(/\s+/g, ' ').slice(0, 600)}`);
  }
  const compiled = result.runs.filter((r) => r.anchors && r.anchors.compile && !r.anchors.compile.error);
  if (compiled.length) {
    lines.push('');
    lines.push(
      'torch.compile: the warm-up steps (the first compiles; ms) and what dynamo made of the model: ' +
        compiled
          .map((r) => {
            const c = r.anchors.compile;
            const d = c.dynamo || {};
            return `${r.config} ${r.batch}×${r.seq}: ${c.warmupMs.map((x) => x.toFixed(0)).join(', ')}; ${d.uniqueGraphs ?? 'n/a'} graphs, ${d.graphBreaks ?? 'n/a'} graph breaks`;
          })
          .join('; ') +
        '.',
    );
  }
  lines.push('');
  lines.push(
    `Correctness (dropout 0, same weights and batch): ours against transformers ${CHECK_IMPL} attention (the gate: first-step loss within ${LOSS_TOLERANCE} ` +
      `relative, gradient norm within ${GRAD_NORM_TOLERANCE}), and against SDPA (recorded):`,
  );
  lines.push('');
  lines.push(
    `| config | batch | loss ours | loss ${CHECK_IMPL} | rel. diff | grad norm rel. diff | 2nd-step loss rel. diff | SDPA: loss rel. diff | grad norm | 2nd loss |`,
  );
  lines.push('|---|---|---|---|---|---|---|---|---|---|');
  for (const r of result.runs) {
    const c = r.check;
    const s = c.sdpa;
    lines.push(
      `| ${r.config} | ${r.batch} | ${c.ours.losses[0].toFixed(7)} | ${c.pytorch.losses[0].toFixed(7)} | ${c.lossRelDiff.toExponential(2)} | ` +
        `${c.gradNormRelDiff.toExponential(2)} | ${c.secondLossRelDiff.toExponential(2)} | ` +
        `${s ? `${s.lossRelDiff.toExponential(2)} | ${s.gradNormRelDiff.toExponential(2)} | ${s.secondLossRelDiff.toExponential(2)}` : 'n/a | n/a | n/a'} |`,
    );
  }
  if (result.runs.some((r) => r.memory)) {
    lines.push('');
    lines.push(
      `Peak RSS = VmHWM of a fresh process (ours; the SDPA anchor) per config after loading the saved model and ${MEMORY_STEPS} steps. ` +
        'Training-phase peak = VmHWM reset (clear_refs) after loading and the optimizer set-up; RSS after load for scale:',
    );
    lines.push('');
    lines.push('| config | batch | ours after load | SDPA after load | ours training peak | SDPA training peak | training-peak ratio |');
    lines.push('|---|---|---|---|---|---|---|');
    for (const r of result.runs) {
      if (!r.memory) continue;
      const o = r.memory.ours;
      const p = r.memory.pytorch;
      lines.push(
        `| ${r.config} | ${r.batch} | ${mib(o.rss_after_load_kib)} | ${mib(p.rss_after_load_kib)} | ${mib(o.train_hwm_kib)} | ${mib(p.train_hwm_kib)} | ` +
          `${o.train_hwm_kib && p.train_hwm_kib ? (o.train_hwm_kib / p.train_hwm_kib).toFixed(3) : 'n/a'} |`,
      );
    }
  }
  lines.push('');
  lines.push(
    'Per-step process resources (medians of the timed steps; CPU = user + system time of all threads over wall time; ' +
      'faults = minor page faults, i.e. memory the allocator handed back to the kernel and touched again):',
  );
  lines.push('');
  const usageHead = ['config', 'batch', 'load avg (1 min)', 'ours CPU/wall', 'ours sys ms', 'ours faults'];
  for (const a of anchors) usageHead.push(`${a} CPU/wall`, `${a} sys ms`, `${a} faults`);
  lines.push(`| ${usageHead.join(' | ')} |`);
  lines.push(`|${usageHead.map(() => '---|').join('')}`);
  for (const r of result.runs) {
    if (!r.correct) continue;
    const o = r.ours.usageMedian;
    const row = [r.config, r.batch, r.loadStart[0].toFixed(2), o.cpuPerWall.toFixed(2), o.sysMs.toFixed(0), o.minorFaults];
    for (const a of anchors) {
      const x = r.anchors[a];
      if (!x || x.error) row.push('n/a', 'n/a', 'n/a');
      else row.push(x.usageMedian.cpuPerWall.toFixed(2), x.usageMedian.sysMs.toFixed(0), x.usageMedian.minorFaults);
    }
    lines.push(`| ${row.join(' | ')} |`);
  }
  const s = result.sgemm;
  lines.push('');
  lines.push(
    `sgemm (torch.mm 2048² fp32, ${s.start.blas}, best of ${s.start.samples_ms.length}): ${s.start.gflops.toFixed(1)} GFLOP/s at the start, ` +
      `${s.end ? s.end.gflops.toFixed(1) : 'n/a'} at the end (best ${s.gflops.toFixed(1)}); per config, the better of two measurements (5 repeats each) ` +
      'just before and just after its timing loop, which is the rate the fractions below use (the last column: ours against the best of the run).',
  );
  lines.push(
    "FLOPs per step = 6·B·S·L·(4H² + 2HI) + 12·L·B·S²·H + 6·B·(H² + 2H) (weight GEMMs ×3 for forward + backward, attention QKᵀ and PV, pooler and classifier): the model's FLOPs, on every side. " +
      "Ours performs fewer: its last layer runs the output projection and feed-forward block forward and input gradient for the first P positions only (native/model/first_positions.h; P = 1 at the batched shapes), 4·B·(S − P)·(H² + 2HI) less, so its fraction is that of the model's work, as model-FLOPs utilisation counts it.",
  );
  lines.push('');
  const flopHead = ['config', 'batch', 'GFLOP/step', 'sgemm GFLOP/s then', 'ours GFLOP/s', 'ours % of sgemm'];
  for (const a of anchors) flopHead.push(`${a} GFLOP/s`, `${a} % of sgemm`);
  flopHead.push('ours % of best sgemm');
  lines.push(`| ${flopHead.join(' | ')} |`);
  lines.push(`|${flopHead.map(() => '---|').join('')}`);
  for (const r of result.runs) {
    if (!r.correct) continue;
    const row = [
      r.config,
      r.batch,
      (r.flops / 1e9).toFixed(1),
      r.sgemm.gflops.toFixed(1),
      r.oursGflops.toFixed(1),
      `${(100 * r.oursSgemmFraction).toFixed(1)}%`,
    ];
    for (const a of anchors) {
      const x = r.anchors[a];
      if (!x || x.error) row.push('n/a', 'n/a');
      else row.push(x.gflops.toFixed(1), `${(100 * x.sgemmFraction).toFixed(1)}%`);
    }
    row.push(`${(100 * r.oursBestSgemmFraction).toFixed(1)}%`);
    lines.push(`| ${row.join(' | ')} |`);
  }
  const peak = result.fmaPeak && result.fmaPeak.gflops;
  const targeted = result.runs.filter((r) => r.correct && TARGETS[`${r.config}:${r.batch}`]);
  if (targeted.length) {
    lines.push('');
    lines.push(
      "What the targets take: ours' own FLOPs done in target × the anchor's median time, as GFLOP/s and as a share of the sgemm rate above " +
        '(the whole step at that rate: element-wise work, attention and AdamW included). Above 100%, the target asks for more than the BLAS multiplies at.',
    );
    if (peak) {
      const fp = result.fmaPeak.start || result.fmaPeak.end;
      lines.push(
        `After the slash, the share of the machine's fp32 FMA peak in this run (bench/fma_peak.c: register-only ${fp.isa} FMAs on ${fp.threads} threads, ` +
          `best at the start and the end): ${peak.toFixed(1)} GFLOP/s, of which the best sgemm rate is ${((100 * result.sgemm.gflops) / peak).toFixed(1)}%. ` +
          'Above 100%, the target asks for more than the cores multiply-add at.',
      );
    }
    lines.push('');
    const head = ['config', 'batch', 'ours GFLOP/step', 'target'];
    for (const a of anchors) head.push(`needed vs ${a}`);
    lines.push(`| ${head.join(' | ')} |`);
    lines.push(`|${head.map(() => '---|').join('')}`);
    for (const r of targeted) {
      const target = TARGETS[`${r.config}:${r.batch}`];
      const row = [r.config, r.batch, (r.oursFlops / 1e9).toFixed(1), `≤ ${target}`];
      for (const a of anchors) {
        const x = r.anchors[a];
        if (!x || x.error) {
          row.push('n/a');
          continue;
        }
        const needed = r.oursFlops / ((target * x.median) / 1000) / 1e9;
        const ofPeak = peak ? ` / ${((100 * needed) / peak).toFixed(0)}% of peak` : '';
        row.push(`${needed.toFixed(1)} GFLOP/s = ${((100 * needed) / r.sgemm.gflops).toFixed(0)}%${ofPeak}`);
      }
      lines.push(`| ${row.join(' | ')} |`);
    }
  }
  return `${lines.join('\n')}\n`;
}

module.exports = { formatMarkdown, mib };
