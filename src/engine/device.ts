// Where a model computes: 'cpu', 'cuda' (GPU 0), 'cuda:N', or 'auto' (the first GPU when this build has CUDA and
// one is visible, else the CPU). Checked here, before any native call: a CUDA device asked of a build or a machine
// that has none is an Error whose `code` says which.
import { native } from './native';

export type DeviceOption = 'cpu' | 'cuda' | `cuda:${number}` | 'auto';

/** Error codes a caller may branch on. */
export const DEVICE_ERROR_CODES = Object.freeze({
  /** The LibTorch this addon was built against has no CUDA. */
  cudaNotBuilt: 'CUDA_NOT_BUILT',
  /** CUDA is built in, but no (or not that many) GPUs are visible. */
  noCudaDevice: 'NO_CUDA_DEVICE',
} as const);

export class DeviceError extends Error {
  readonly code: (typeof DEVICE_ERROR_CODES)[keyof typeof DEVICE_ERROR_CODES];
  constructor(message: string, code: DeviceError['code']) {
    super(message);
    this.name = 'DeviceError';
    this.code = code;
  }
}

const DEVICE_PATTERN = /^(cpu|auto|cuda)(?::(\d+))?$/;

/** The device string native code takes ('cpu' or 'cuda:N') for a `device` option; throws naming what is wrong. */
export function resolveDevice(device: unknown, name = 'device'): 'cpu' | `cuda:${number}` {
  if (device === undefined) device = 'cpu';
  if (typeof device !== 'string') throw new TypeError(`${name} must be a string ('cpu', 'cuda', 'cuda:N' or 'auto'), got ${typeof device}`);
  const m = DEVICE_PATTERN.exec(device);
  if (!m || (m[2] !== undefined && m[1] !== 'cuda')) {
    throw new RangeError(`${name} must be 'cpu', 'cuda', 'cuda:N' or 'auto', got '${device}'`);
  }
  if (m[1] === 'cpu') return 'cpu';
  const addon = native();
  const cuda = addon.cudaInfo();
  if (m[1] === 'auto') return cuda.built && cuda.deviceCount > 0 ? 'cuda:0' : 'cpu';
  const index = m[2] === undefined ? 0 : Number(m[2]);
  if (!cuda.built) {
    throw new DeviceError(
      `${name} '${device}': this build's LibTorch (${addon.versions.libtorch}) has no CUDA; build bert-trainer against a CUDA LibTorch ` +
        '(README "Where LibTorch comes from": scripts/install-deps.sh --cuda, or LIBTORCH=/path/to/a CUDA LibTorch) or use the CPU',
      DEVICE_ERROR_CODES.cudaNotBuilt,
    );
  }
  if (index >= cuda.deviceCount) {
    const seen = cuda.deviceCount === 0 ? 'no GPU is visible (no NVIDIA driver, or CUDA_VISIBLE_DEVICES hides them)' : `${cuda.deviceCount} GPU(s) are visible`;
    throw new DeviceError(`${name} '${device}': ${seen}`, DEVICE_ERROR_CODES.noCudaDevice);
  }
  return `cuda:${index}`;
}
