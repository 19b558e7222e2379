import { averageRanks, classificationMetrics, multiLabelMetrics, regressionMetrics } from '../src/train/metrics';

describe('classificationMetrics', () => {
  it("matches sklearn's f1_score / precision_score / recall_score documentation example", () => {
    // sklearn docs: y_true = [0, 1, 2, 0, 1, 2], y_pred = [0, 2, 1, 0, 0, 1]
    // f1 macro 0.2666..., micro 0.3333..., precision macro 0.2222..., recall macro 0.3333...
    const m = classificationMetrics([0, 2, 1, 0, 0, 1], [0, 1, 2, 0, 1, 2], ['a', 'b', 'c']);
    expect(m.f1).toBeCloseTo(0.26666666666666666, 15);
    expect(m.microF1).toBeCloseTo(1 / 3, 15);
    expect(m.accuracy).toBeCloseTo(1 / 3, 15);
    expect(m.macroPrecision).toBeCloseTo(2 / 9, 15);
    expect(m.macroRecall).toBeCloseTo(1 / 3, 15);
    expect(m.perClass.a).toEqual({ precision: 2 / 3, recall: 1, f1: 0.8, support: 2 });
    expect(m.perClass.b).toEqual({ precision: 0, recall: 0, f1: 0, support: 2 });
    expect(m.perClass.c).toEqual({ precision: 0, recall: 0, f1: 0, support: 2 });
  });

  it("confusion matrix: rows = true label, columns = prediction (sklearn's confusion_matrix example)", () => {
    // sklearn docs: y_true = [2, 0, 2, 2, 0, 1], y_pred = [0, 0, 2, 2, 0, 2] -> [[2, 0, 0], [0, 0, 1], [1, 0, 2]]
    const m = classificationMetrics([0, 0, 2, 2, 0, 2], [2, 0, 2, 2, 0, 1], ['x', 'y', 'z']);
    expect(m.confusionMatrix).toEqual([
      [2, 0, 0],
      [0, 0, 1],
      [1, 0, 2],
    ]);
    expect(m.accuracy).toBe(4 / 6);
  });

  it('a class never predicted has precision 0 (zero_division=0); never present has recall 0', () => {
    const m = classificationMetrics([0, 0, 0, 0], [0, 1, 0, 1], ['neg', 'pos']);
    expect(m.perClass.pos).toEqual({ precision: 0, recall: 0, f1: 0, support: 2 });
    expect(m.perClass.neg.precision).toBe(0.5);
    expect(m.perClass.neg.recall).toBe(1);
    expect(m.perClass.neg.f1).toBeCloseTo(2 / 3, 15);
    expect(m.f1).toBeCloseTo(1 / 3, 15);
    expect(m.macroPrecision).toBe(0.25);
    expect(m.macroRecall).toBe(0.5);

    const p = classificationMetrics([0, 1, 1], [0, 0, 0], ['neg', 'pos']);
    expect(p.perClass.pos).toEqual({ precision: 0, recall: 0, f1: 0, support: 0 });
  });

  it("macro averages skip classes absent from both labels and predictions (sklearn's default labels)", () => {
    const m = classificationMetrics([0, 0, 1], [0, 0, 1], ['a', 'b', 'c']);
    expect(m.f1).toBe(1);
    expect(m.macroPrecision).toBe(1);
    expect(m.macroRecall).toBe(1);
    expect(m.perClass.c).toEqual({ precision: 0, recall: 0, f1: 0, support: 0 });
    expect(m.confusionMatrix[2]).toEqual([0, 0, 0]);
  });

  it('perfect predictions', () => {
    const m = classificationMetrics([1, 0, 2], [1, 0, 2], ['a', 'b', 'c']);
    expect(m).toMatchObject({ accuracy: 1, f1: 1, microF1: 1, macroPrecision: 1, macroRecall: 1 });
  });

  it('rejects malformed input', () => {
    expect(() => classificationMetrics([0, 1], [0], ['a', 'b'])).toThrow(/predictions has 2 entries but labels has 1/);
    expect(() => classificationMetrics([], [], ['a', 'b'])).toThrow(RangeError);
    expect(() => classificationMetrics([0, 2], [0, 1], ['a', 'b'])).toThrow(/predictions\[1\] = 2 is outside the class ids \[0, 2\)/);
    expect(() => classificationMetrics([0, 1], [0, 0.5], ['a', 'b'])).toThrow(/labels\[1\] must be an integer class id/);
    expect(() => classificationMetrics([0], [0], [])).toThrow(/labelNames/);
    expect(() => classificationMetrics([0], [0], ['a', 'a'])).toThrow(/labelNames\[1\] repeats/);
  });
});

describe('multiLabelMetrics', () => {
  it("matches sklearn's multilabel f1_score example", () => {
    // sklearn docs: y_true = [[0,0,0],[1,1,1],[0,1,1]], y_pred = [[0,0,0],[1,1,1],[1,1,0]]
    // f1 per label [0.667, 1, 0.667], macro 0.777..., micro 0.8; subset accuracy 2/3.
    const probs = [
      [0.1, 0.2, 0.3],
      [0.9, 0.6, 0.5], // 0.5 >= threshold counts as predicted
      [0.7, 0.99, 0.49],
    ];
    const labels = [
      [0, 0, 0],
      [1, 1, 1],
      [0, 1, 1],
    ];
    const m = multiLabelMetrics(probs, labels, ['a', 'b', 'c']);
    expect(m.perClass.a.f1).toBeCloseTo(2 / 3, 15);
    expect(m.perClass.b.f1).toBe(1);
    expect(m.perClass.c.f1).toBeCloseTo(2 / 3, 15);
    expect(m.perClass.a).toMatchObject({ precision: 0.5, recall: 1, support: 1 });
    expect(m.perClass.c).toMatchObject({ precision: 1, recall: 0.5, support: 2 });
    expect(m.macroF1).toBeCloseTo(7 / 9, 15);
    expect(m.f1).toBeCloseTo(0.8, 15);
    expect(m.subsetAccuracy).toBeCloseTo(2 / 3, 15);
    expect(m.accuracy).toBe(m.subsetAccuracy);
  });

  it("subset accuracy as sklearn's accuracy_score([[0,1],[1,1]], ones) = 0.5", () => {
    const m = multiLabelMetrics(
      [
        [1, 1],
        [1, 1],
      ],
      [
        [0, 1],
        [1, 1],
      ],
      ['a', 'b'],
    );
    expect(m.subsetAccuracy).toBe(0.5);
  });

  it('a custom threshold, soft targets binarised at 0.5, and a label never seen nor predicted scoring 0', () => {
    const m = multiLabelMetrics(
      [
        [0.3, 0.1],
        [0.2, 0.05],
      ],
      [
        [0.8, 0],
        [0.1, 0],
      ],
      ['a', 'b'],
      0.25,
    );
    expect(m.perClass.a).toEqual({ precision: 1, recall: 1, f1: 1, support: 1 });
    expect(m.perClass.b).toEqual({ precision: 0, recall: 0, f1: 0, support: 0 });
    expect(m.macroF1).toBe(0.5);
    expect(m.f1).toBe(1);
    expect(m.subsetAccuracy).toBe(1);
  });

  it('rejects malformed input', () => {
    expect(() => multiLabelMetrics([[0.1, 0.2]], [[0, 1, 0]], ['a', 'b'])).toThrow(/labels\[0\] has 3 values, expected 2/);
    expect(() => multiLabelMetrics([[0.1]], [[0]], ['a', 'b'])).toThrow(/probabilities\[0\] has 1 values/);
    expect(() => multiLabelMetrics([[0.1, NaN]], [[0, 1]], ['a', 'b'])).toThrow(/probabilities\[0\]\[1\] must be a number/);
    expect(() => multiLabelMetrics([[0.1, 0.2]], [[0, 1]], ['a', 'b'], NaN)).toThrow(/threshold/);
    expect(() => multiLabelMetrics([[0.1, 0.2]], [], ['a', 'b'])).toThrow(/has 1 entries but labels has 0/);
  });
});

describe('regressionMetrics', () => {
  it('mse, mae, rmse', () => {
    // sklearn docs: mean_squared_error([3, -0.5, 2, 7], [2.5, 0.0, 2, 8]) = 0.375, mean_absolute_error = 0.5
    const m = regressionMetrics([2.5, 0.0, 2, 8], [3, -0.5, 2, 7]);
    expect(m.mse).toBe(0.375);
    expect(m.mae).toBe(0.5);
    expect(m.rmse).toBe(Math.sqrt(0.375));
  });

  it("pearson as scipy.stats.pearsonr's example (-0.7426106572325057)", () => {
    const m = regressionMetrics([1, 2, 3, 4, 5], [10, 9, 2.5, 6, 4]);
    expect(m.pearson).toBeCloseTo(-0.7426106572325057, 14);
    // ranks [1..5] vs [5, 4, 1, 3, 2]: d^2 sums to 34, rho = 1 - 6 * 34 / 120 = -0.7
    expect(m.spearman).toBeCloseTo(-0.7, 14);
  });

  it("spearman with tied values uses average ranks (scipy.stats.spearmanr's example 0.8207826816681233)", () => {
    const m = regressionMetrics([1, 2, 3, 4, 5], [5, 6, 7, 8, 7]);
    expect(m.spearman).toBeCloseTo(0.8207826816681233, 14);
    expect(averageRanks([5, 6, 7, 8, 7])).toEqual([1, 2, 3.5, 5, 3.5]);
    expect(averageRanks([2, 2, 2, 1])).toEqual([3, 3, 3, 1]);
  });

  it('perfect linear and monotone relations', () => {
    const m = regressionMetrics([1, 2, 3, 4], [2, 4, 6, 8]);
    expect(m.pearson).toBeCloseTo(1, 15);
    expect(m.spearman).toBe(1);
    expect(regressionMetrics([1, 2, 3], [1, 8, 27]).spearman).toBe(1);
  });

  it('correlations are null when a side is constant or there is one value', () => {
    expect(regressionMetrics([0.1, 0.1, 0.1], [1, 2, 3])).toMatchObject({ pearson: null, spearman: null });
    expect(regressionMetrics([1, 2, 3], [4, 4, 4])).toMatchObject({ pearson: null, spearman: null });
    const one = regressionMetrics([1], [3]);
    expect(one).toEqual({ mse: 4, mae: 2, rmse: 2, pearson: null, spearman: null });
  });

  it('rejects malformed input', () => {
    expect(() => regressionMetrics([1, 2], [1])).toThrow(RangeError);
    expect(() => regressionMetrics([1, NaN], [1, 2])).toThrow(/predictions\[1\] must be a finite number/);
    expect(() => regressionMetrics([1, 2], [1, Infinity])).toThrow(/labels\[1\]/);
    expect(() => regressionMetrics([], [])).toThrow(/empty/);
  });
});
