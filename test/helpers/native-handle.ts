// Watching a model's calls into the addon from a test: the addon's methods are read-only, so a proxy wraps the
// model's native handle.
import type { NativeModelHandle } from '../../src/engine/native';
import type { BertClassifier } from '../../src/model/classifier';

type Method = {
  [K in keyof NativeModelHandle]: NativeModelHandle[K] extends (...args: never[]) => unknown ? K : never;
}[keyof NativeModelHandle];

/** Runs `before` with the arguments of each call of the model's native `method`, then the call; returns an undo. */
export function beforeNativeCall<K extends Method>(model: BertClassifier, method: K, before: (...args: Parameters<NativeModelHandle[K]>) => void): () => void {
  const holder = model as unknown as { handle: NativeModelHandle };
  const handle = holder.handle;
  holder.handle = new Proxy(handle, {
    get(target, key) {
      const value = Reflect.get(target, key, target) as unknown;
      if (typeof value !== 'function') return value;
      const bound = (value as (...a: unknown[]) => unknown).bind(target);
      if (key !== method) return bound;
      return (...args: Parameters<NativeModelHandle[K]>) => {
        before(...args);
        return bound(...args);
      };
    },
  });
  return () => {
    holder.handle = handle;
  };
}
