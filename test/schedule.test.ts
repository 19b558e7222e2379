import { LrSchedulerType, cosCorrectlyRounded, learningRateAt, lrLambda, resolveWarmupSteps } from '../src/train/schedule';

// What transformers' own schedules (transformers.get_scheduler, 5.18, on torch 2.13's LambdaLR: the ones
// test/reference/train_reference.py uses) hand optimizer step k, printed by Python with repr(): the lr of steps
// 0..totalSteps+4. (Recorded with torch 1.13 and transformers' lambdas; get_scheduler on 2.13 gives every value again.)
const PYTORCH: { type: LrSchedulerType; baseLr: number; warmupSteps: number; totalSteps: number; lrs: number[] }[] = [
  {
    type: 'linear',
    baseLr: 5e-5,
    warmupSteps: 3,
    totalSteps: 10,
    lrs: [
      0, 1.6666666666666667e-5, 3.3333333333333335e-5, 5e-5, 4.2857142857142856e-5, 3.571428571428572e-5, 2.857142857142857e-5, 2.1428571428571428e-5,
      1.4285714285714285e-5, 7.142857142857143e-6, 0, 0, 0, 0, 0,
    ],
  },
  {
    type: 'linear',
    baseLr: 2e-5,
    warmupSteps: 0,
    totalSteps: 7,
    lrs: [
      2e-5, 1.7142857142857142e-5, 1.4285714285714287e-5, 1.1428571428571429e-5, 8.571428571428571e-6, 5.7142857142857145e-6, 2.8571428571428573e-6, 0, 0, 0, 0,
      0,
    ],
  },
  {
    type: 'cosine',
    baseLr: 5e-5,
    warmupSteps: 3,
    totalSteps: 37,
    lrs: [
      0, 1.6666666666666667e-5, 3.3333333333333335e-5, 5e-5, 4.989335440737586e-5, 4.957432749209755e-5, 4.9045641079320484e-5, 4.8311805735108894e-5,
      4.7379082283876566e-5, 4.625542839324036e-5, 4.4950430682006e-5, 4.347522293051648e-5, 4.184239109116393e-5, 4.0065865909481417e-5, 3.81608040719339e-5,
      3.6143458894413465e-5, 3.403104165467883e-5, 3.1841574751802076e-5, 2.9593737945414264e-5, 2.7306708986582553e-5, 2.5e-5, 2.2693291013417453e-5,
      2.0406262054585738e-5, 1.815842524819793e-5, 1.5968958345321178e-5, 1.3856541105586545e-5, 1.1839195928066102e-5, 9.934134090518593e-6,
      8.15760890883607e-6, 6.524777069483526e-6, 5.049569317994013e-6, 3.7445716067596503e-6, 2.6209177161234445e-6, 1.6881942648911076e-6, 9.54358920679524e-7,
      4.256725079024554e-7, 1.0664559262413831e-7, 0, 1.0664559262413554e-7, 4.256725079024554e-7, 9.543589206795211e-7, 1.6881942648911076e-6,
    ],
  },
  {
    type: 'cosine',
    baseLr: 5e-5,
    warmupSteps: 0,
    totalSteps: 100,
    lrs: [
      5e-5, 4.998766400914329e-5, 4.995066821070679e-5, 4.9889049115077005e-5, 4.980286753286195e-5, 4.9692208514878444e-5, 4.9557181268217227e-5,
      4.939791904846869e-5, 4.9214579028215776e-5, 4.900734214192358e-5, 4.877641290737884e-5, 4.852201922385564e-5, 4.8244412147206284e-5,
      4.794386564209953e-5, 4.762067631165049e-5, 4.72751631047092e-5, 4.690766700109659e-5, 4.65185506750986e-5, 4.610819813755038e-5, 4.567701435686404e-5,
      4.522542485937369e-5, 4.4753875309392266e-5, 4.426283106939474e-5, 4.375277674076149e-5, 4.3224215685535294e-5, 4.267766952966369e-5,
      4.211367764821722e-5, 4.1532796633091296e-5, 4.093559974371725e-5, 4.0322676341324415e-5, 3.969463130731183e-5, 3.905208444630327e-5,
      3.8395669874474915e-5, 3.7726035393759285e-5, 3.704384185254288e-5, 3.634976249348867e-5, 3.564448228912682e-5, 3.4928697265869515e-5,
      3.4203113817116957e-5, 3.346844800613229e-5, 3.272542485937369e-5, 3.1974777650980735e-5, 3.121724717912138e-5, 3.045358103491357e-5,
      2.9684532864643122e-5, 2.8910861626005776e-5, 2.8133330839107608e-5, 2.7352707832962865e-5, 2.656976298823284e-5, 2.578526897695321e-5, 2.5e-5,
      2.4214731023046793e-5, 2.3430237011767167e-5, 2.2647292167037144e-5, 2.186666916089239e-5, 2.1089138373994223e-5, 2.031546713535688e-5,
      1.9546418965086442e-5, 1.8782752820878634e-5, 1.802522234901927e-5, 1.7274575140626318e-5, 1.6531551993867717e-5, 1.5796886182883053e-5,
      1.5071302734130489e-5, 1.4355517710873184e-5, 1.3650237506511331e-5, 1.2956158147457115e-5, 1.2273964606240718e-5, 1.1604330125525079e-5,
      1.0947915553696742e-5, 1.0305368692688174e-5, 9.677323658675594e-6, 9.064400256282757e-6, 8.467203366908707e-6, 7.886322351782783e-6,
      7.3223304703363135e-6, 6.775784314464717e-6, 6.247223259238511e-6, 5.737168930605272e-6, 5.24612469060774e-6, 4.7745751406263165e-6, 4.322985643135952e-6,
      3.891801862449629e-6, 3.4814493249014116e-6, 3.092332998903416e-6, 2.7248368952908053e-6, 2.379323688349516e-6, 2.0561343579004715e-6,
      1.7555878527937164e-6, 1.4779807761443636e-6, 1.2235870926211619e-6, 9.926578580764234e-7, 7.854209717842231e-7, 6.020809515313142e-7,
      4.4281873178278475e-7, 3.077914851215585e-7, 1.9713246713805588e-7, 1.109508849230001e-7, 4.9331789293211026e-8, 1.233599085671e-8, 0, 1.233599085671e-8,
      4.9331789293211026e-8, 1.109508849230001e-7, 1.971324671380531e-7,
    ],
  },
  {
    type: 'constant_with_warmup',
    baseLr: 0.001,
    warmupSteps: 10,
    totalSteps: 37,
    lrs: [
      0, 0.0001, 0.0002, 0.0003, 0.0004, 0.0005, 0.0006, 0.0007, 0.0008, 0.0009000000000000001, 0.001, 0.001, 0.001, 0.001, 0.001, 0.001, 0.001, 0.001, 0.001,
      0.001, 0.001, 0.001, 0.001, 0.001, 0.001, 0.001, 0.001, 0.001, 0.001, 0.001, 0.001, 0.001, 0.001, 0.001, 0.001, 0.001, 0.001, 0.001, 0.001, 0.001, 0.001,
      0.001,
    ],
  },
  {
    type: 'constant',
    baseLr: 0.0003,
    warmupSteps: 0,
    totalSteps: 10,
    lrs: [0.0003, 0.0003, 0.0003, 0.0003, 0.0003, 0.0003, 0.0003, 0.0003, 0.0003, 0.0003, 0.0003, 0.0003, 0.0003, 0.0003, 0.0003],
  },
];

describe('learningRateAt', () => {
  it.each(PYTORCH.map((r) => [`${r.type} lr=${r.baseLr} warmup=${r.warmupSteps} total=${r.totalSteps}`, r] as const))(
    'matches PyTorch LambdaLR bit for bit: %s',
    (_name, r) => {
      const ours = r.lrs.map((_, k) => learningRateAt(k, r));
      expect(ours).toEqual(r.lrs);
      ours.forEach((v, k) => expect(Object.is(v, r.lrs[k])).toBe(true));
    },
  );

  it('linear: warm-up from 0, peak at warmupSteps, 0 at totalSteps and after', () => {
    const o = { type: 'linear' as const, baseLr: 1, warmupSteps: 4, totalSteps: 12 };
    expect([0, 1, 2, 3, 4].map((k) => learningRateAt(k, o))).toEqual([0, 0.25, 0.5, 0.75, 1]);
    expect(learningRateAt(8, o)).toBe(0.5);
    expect(learningRateAt(12, o)).toBe(0);
    expect(learningRateAt(20, o)).toBe(0);
  });

  it('linear without warm-up starts at the base lr', () => {
    expect(learningRateAt(0, { type: 'linear', baseLr: 5e-5, warmupSteps: 0, totalSteps: 10 })).toBe(5e-5);
    expect(learningRateAt(5, { type: 'linear', baseLr: 5e-5, warmupSteps: 0, totalSteps: 10 })).toBe(5e-5 * 0.5);
  });

  it('warmupSteps >= totalSteps (max(1, ...) guards the division)', () => {
    const o = { type: 'linear' as const, baseLr: 1, warmupSteps: 5, totalSteps: 5 };
    expect(learningRateAt(4, o)).toBe(0.8);
    expect(learningRateAt(5, o)).toBe(0);
    expect(learningRateAt(0, { type: 'cosine', baseLr: 1, warmupSteps: 0, totalSteps: 0 })).toBe(1);
  });

  it('cosine: half the base lr halfway, 0 at the end; like Python it rises again past totalSteps', () => {
    const o = { type: 'cosine' as const, baseLr: 2, warmupSteps: 0, totalSteps: 10 };
    expect(learningRateAt(0, o)).toBe(2);
    expect(learningRateAt(5, o)).toBe(1);
    expect(learningRateAt(10, o)).toBe(0);
    expect(learningRateAt(15, o)).toBeCloseTo(1, 15);
  });

  it('constant and constant_with_warmup', () => {
    expect(learningRateAt(0, { type: 'constant', baseLr: 3e-4, warmupSteps: 5, totalSteps: 1 })).toBe(3e-4);
    expect(learningRateAt(99, { type: 'constant', baseLr: 3e-4, warmupSteps: 5, totalSteps: 1 })).toBe(3e-4);
    const o = { type: 'constant_with_warmup' as const, baseLr: 1, warmupSteps: 4, totalSteps: 0 };
    expect([0, 1, 2, 3, 4, 100].map((k) => learningRateAt(k, o))).toEqual([0, 0.25, 0.5, 0.75, 1, 1]);
  });

  it('lrLambda is the multiplier', () => {
    expect(lrLambda('linear', 2, 4, 10)).toBe(0.5);
    expect(lrLambda('constant', 7, 0, 0)).toBe(1);
  });

  it('rejects bad options with errors naming them', () => {
    const ok = { type: 'linear' as const, baseLr: 1e-3, warmupSteps: 0, totalSteps: 10 };
    expect(() => learningRateAt(-1, ok)).toThrow(RangeError);
    expect(() => learningRateAt(-1, ok)).toThrow(/step/);
    expect(() => learningRateAt(1.5, ok)).toThrow(/step must be a non-negative integer/);
    expect(() => learningRateAt(0, { ...ok, type: 'polynomial' as LrSchedulerType })).toThrow(RangeError);
    expect(() => learningRateAt(0, { ...ok, type: 'polynomial' as LrSchedulerType })).toThrow(/type must be one of 'linear', 'cosine'/);
    expect(() => learningRateAt(0, { ...ok, baseLr: -1 })).toThrow(/baseLr/);
    expect(() => learningRateAt(0, { ...ok, baseLr: NaN })).toThrow(RangeError);
    expect(() => learningRateAt(0, { ...ok, warmupSteps: -2 })).toThrow(/warmupSteps/);
    expect(() => learningRateAt(0, { ...ok, totalSteps: 2.5 })).toThrow(/totalSteps/);
  });
});

describe('cosCorrectlyRounded', () => {
  it('gives what Python math.cos gives where V8 Math.cos is one ulp off', () => {
    // repr(math.cos(x)) in Python 3.11 / glibc 2.36; these are also the correctly rounded values.
    expect(cosCorrectlyRounded(0.9599310885968813)).toBe(0.5735764363510462);
    expect(cosCorrectlyRounded(2.2076056484685034)).toBe(-0.5946331763042866);
    expect(cosCorrectlyRounded(0.7225663103256524)).toBe(0.7501110696304596);
  });

  it('agrees with Math.cos to an ulp over a sweep, and exactly at simple points', () => {
    for (let x = -20; x <= 20; x += 0.0137) {
      const c = cosCorrectlyRounded(x);
      expect(Math.abs(c - Math.cos(x))).toBeLessThanOrEqual(2.3e-16);
    }
    expect(cosCorrectlyRounded(0)).toBe(1);
    expect(cosCorrectlyRounded(Math.PI)).toBe(-1);
    expect(cosCorrectlyRounded(Math.PI / 2)).toBe(6.123233995736766e-17);
    expect(cosCorrectlyRounded(-Math.PI / 3)).toBe(Math.cos(-Math.PI / 3));
    expect(Number.isNaN(cosCorrectlyRounded(Infinity))).toBe(true);
  });
});

describe('resolveWarmupSteps', () => {
  it('uses warmupSteps when > 0, else ceil(totalSteps * warmupRatio) in float64 like Python', () => {
    expect(resolveWarmupSteps({ warmupSteps: 7, warmupRatio: 0.5, totalSteps: 100 })).toBe(7);
    expect(resolveWarmupSteps({ warmupSteps: 0, warmupRatio: 0.06, totalSteps: 1000 })).toBe(60);
    expect(resolveWarmupSteps({ warmupRatio: 0.07, totalSteps: 100 })).toBe(8); // math.ceil(100 * 0.07) == 8 in Python (7.000000000000001)
    expect(resolveWarmupSteps({ warmupRatio: 0.1, totalSteps: 30 })).toBe(3);
    expect(resolveWarmupSteps({ warmupRatio: 0.25, totalSteps: 10 })).toBe(3);
    expect(resolveWarmupSteps({ totalSteps: 10 })).toBe(0);
    expect(resolveWarmupSteps({ warmupRatio: 1, totalSteps: 10 })).toBe(10);
  });

  it('rejects bad values naming the option', () => {
    expect(() => resolveWarmupSteps({ warmupRatio: 1.5, totalSteps: 10 })).toThrow(RangeError);
    expect(() => resolveWarmupSteps({ warmupRatio: 1.5, totalSteps: 10 })).toThrow(/warmupRatio/);
    expect(() => resolveWarmupSteps({ warmupRatio: -0.1, totalSteps: 10 })).toThrow(/warmupRatio/);
    expect(() => resolveWarmupSteps({ warmupSteps: -1, totalSteps: 10 })).toThrow(/warmupSteps/);
    expect(() => resolveWarmupSteps({ warmupSteps: 1.5, totalSteps: 10 })).toThrow(RangeError);
    expect(() => resolveWarmupSteps({ totalSteps: -3 })).toThrow(/totalSteps/);
  });
});
