// The thread-waiting settings the library gives libgomp and OpenBLAS before the addon loads (src/engine/native.ts): applied
// where the user has not chosen, never over a user's choice.
import { applyThreadWaitDefaults, native, THREAD_WAIT_DEFAULTS } from '../src/engine/native';
import { numThreads, setNumThreads } from '../src';

describe('applyThreadWaitDefaults', () => {
  test('fills in both settings in an empty environment', () => {
    const env: NodeJS.ProcessEnv = {};
    applyThreadWaitDefaults(env);
    expect(env).toEqual({ GOMP_SPINCOUNT: '100', OPENBLAS_THREAD_TIMEOUT: '22' });
    expect(env).toEqual(THREAD_WAIT_DEFAULTS);
  });

  test("keeps the user's own settings", () => {
    const env: NodeJS.ProcessEnv = { GOMP_SPINCOUNT: '5000', OPENBLAS_THREAD_TIMEOUT: '28' };
    applyThreadWaitDefaults(env);
    expect(env).toEqual({ GOMP_SPINCOUNT: '5000', OPENBLAS_THREAD_TIMEOUT: '28' });
  });

  test('OMP_WAIT_POLICY counts as a choice for libgomp', () => {
    const env: NodeJS.ProcessEnv = { OMP_WAIT_POLICY: 'active' };
    applyThreadWaitDefaults(env);
    expect(env).toEqual({ OMP_WAIT_POLICY: 'active', OPENBLAS_THREAD_TIMEOUT: '22' });
  });

  test('loading the addon applied them to this process (before OpenBLAS and libgomp read them)', () => {
    native();
    expect(process.env.OPENBLAS_THREAD_TIMEOUT).toBeDefined();
    expect(process.env.GOMP_SPINCOUNT ?? process.env.OMP_WAIT_POLICY).toBeDefined();
  });
});

describe('setNumThreads', () => {
  test('sets the native intra-op thread count; bad counts are rejected by name', () => {
    const before = numThreads();
    try {
      setNumThreads(1);
      expect(numThreads()).toBe(1);
    } finally {
      setNumThreads(before);
    }
    expect(numThreads()).toBe(before);
    expect(() => setNumThreads(0)).toThrow(RangeError);
    expect(() => setNumThreads(1.5)).toThrow(/threads must be a positive integer/);
    expect(() => setNumThreads('2' as unknown as number)).toThrow(TypeError);
  });
});
