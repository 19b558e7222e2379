// `versions`: what this install runs on, like sharp's `versions` and onnxruntime's `env.versions`. Read lazily, so
// that importing the package does not load the native addon.
import * as fs from 'fs';
import * as path from 'path';
import { inspect } from 'util';

import { native } from './native';

export interface Versions {
  bertTrainer: string;
  /** The LibTorch the addon is built against. */
  libtorch: string;
  /** CUDA runtime, cuDNN and NCCL of a CUDA build; null where absent. */
  cuda: string | null;
  cudnn: string | null;
  nccl: string | null;
}

function packageVersion(): string {
  const file = path.resolve(__dirname, '..', '..', 'package.json');
  return (JSON.parse(fs.readFileSync(file, 'utf8')) as { version: string }).version;
}

export const versions: Versions = Object.freeze(
  Object.defineProperties({} as Versions, {
    bertTrainer: { enumerable: true, get: packageVersion },
    libtorch: { enumerable: true, get: () => native().versions.libtorch },
    cuda: { enumerable: true, get: () => native().versions.cuda },
    cudnn: { enumerable: true, get: () => native().versions.cudnn },
    nccl: { enumerable: true, get: () => native().versions.nccl },
    // console.log shows the values, not the getters.
    [inspect.custom]: { enumerable: false, value: () => ({ ...versions }) },
  }),
);
