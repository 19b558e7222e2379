// Rows of different lengths in as few native forwards as pay: sorted by length, texts of similar lengths share a
// forward padded to its longest, and short and long ones run apart where padding the short ones would cost more than a
// forward of their own. predict() runs its texts this way, and so does request batching (request-batcher.ts).

/**
 * What one native forward costs beyond its tokens, in tokens: the JS and native dispatch, waking the threads, the
 * element-wise work per layer. A row padded from n to m tokens costs m - n tokens for nothing, so rows of very
 * different lengths run in separate forwards once the padding would exceed this (BENCHMARKS.md, "Concurrent
 * single-text requests", has the measurement it comes from).
 */
export const FORWARD_COST_TOKENS = 20;

/**
 * A batch's rows, given their token counts, in groups that each run as one forward, padded to its longest row: the
 * rows sorted by length (ties in their order) and cut into runs of neighbours so that the total of
 * `forwardCostTokens` per group plus each group's rows × its longest row is least (dynamic programming over the cut
 * points; rows of one length never pay for padding, and a group is split only where padding costs more than a
 * forward). Returns indices into `lengths`, every one once, each group ascending by length.
 */
export function groupRowsByLength(lengths: readonly number[], forwardCostTokens: number): number[][] {
  const order = lengths.map((_, i) => i).sort((a, b) => lengths[a] - lengths[b] || a - b);
  const n = order.length;
  const best = new Float64Array(n + 1); // best[j]: the least cost of the first j rows in length order
  const start = new Int32Array(n + 1); // where the last group of that grouping starts
  for (let j = 1; j <= n; j += 1) {
    best[j] = Infinity;
    const longest = lengths[order[j - 1]];
    for (let i = 0; i < j; i += 1) {
      const cost = best[i] + forwardCostTokens + (j - i) * longest;
      if (cost < best[j]) {
        best[j] = cost; // the first i wins a tie: the fewest forwards
        start[j] = i;
      }
    }
  }
  const groups: number[][] = [];
  for (let j = n; j > 0; j = start[j]) groups.unshift(order.slice(start[j], j));
  return groups;
}

/** Row-major [rows, labels] logits. */
export interface RowLogits {
  logits: Float32Array;
  shape: [number, number];
}

/**
 * Runs rows of the given token counts as groupRowsByLength groups: `runGroup(indices)` runs one group (its rows
 * padded together) and resolves with its [group rows, labels] logits; the result has every row's logits in the
 * rows' own order. The groups are all started at once (they queue on the model's compute thread).
 */
export async function runRowsByLength(
  lengths: readonly number[],
  runGroup: (indices: number[]) => Promise<{ logits: Float32Array; shape: readonly number[] }>,
  forwardCostTokens = FORWARD_COST_TOKENS,
): Promise<RowLogits> {
  const groups = groupRowsByLength(lengths, forwardCostTokens);
  const outputs = await Promise.all(groups.map((group) => runGroup(group)));
  const labels = outputs.length > 0 ? outputs[0].shape[1] : 0;
  const logits = new Float32Array(lengths.length * labels);
  groups.forEach((group, g) => {
    group.forEach((row, position) => logits.set(outputs[g].logits.subarray(position * labels, (position + 1) * labels), row * labels));
  });
  return { logits, shape: [lengths.length, labels] };
}
