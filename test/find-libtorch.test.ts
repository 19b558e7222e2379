// scripts/find-libtorch.js, the one LibTorch discovery of both builds: a LibTorch older than the minimum (2.4) is an
// Error that names where it was found, the version it is and the version needed — for each place a user can point
// the build at (LIBTORCH, Torch_DIR) and each place the version is read from (torch/headeronly/version.h since 2.9,
// torch/csrc/api/include/torch/version.h before), and from the command line that the builds run.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const SCRIPT = path.resolve(__dirname, '..', 'scripts', 'find-libtorch.js');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { findLibTorch } = require(SCRIPT) as { findLibTorch: (env: NodeJS.ProcessEnv) => unknown };

let tmp: string;

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bert-trainer-find-libtorch-'));
});

afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

/**
 * An unpacked LibTorch as far as the discovery reads one before it checks the version: include/torch/csrc/api/include,
 * a version header, TorchConfig.cmake under share/cmake/Torch. No libraries: the version is checked first.
 */
function fakeLibTorch(name: string, version: [number, number, number], header: 'headeronly' | 'csrc'): string {
  const prefix = path.join(tmp, name);
  const api = path.join(prefix, 'include', 'torch', 'csrc', 'api', 'include');
  fs.mkdirSync(path.join(api, 'torch'), { recursive: true });
  const headerFile = header === 'headeronly' ? path.join(prefix, 'include', 'torch', 'headeronly', 'version.h') : path.join(api, 'torch', 'version.h');
  fs.mkdirSync(path.dirname(headerFile), { recursive: true });
  const [major, minor, patch] = version;
  fs.writeFileSync(
    headerFile,
    `#pragma once\n#define TORCH_VERSION_MAJOR ${major}\n#define TORCH_VERSION_MINOR ${minor}\n#define TORCH_VERSION_PATCH ${patch}\n#define TORCH_VERSION "${major}.${minor}.${patch}"\n`,
  );
  const cmakeDir = path.join(prefix, 'share', 'cmake', 'Torch');
  fs.mkdirSync(cmakeDir, { recursive: true });
  fs.writeFileSync(path.join(cmakeDir, 'TorchConfig.cmake'), 'set(TORCH_CXX_FLAGS "-D_GLIBCXX_USE_CXX11_ABI=1")\n');
  return prefix;
}

function thrown(fn: () => unknown): Error & { code?: string } {
  try {
    fn();
  } catch (err) {
    return err as Error & { code?: string };
  }
  throw new Error('expected an Error, but nothing was thrown');
}

describe('find-libtorch: a LibTorch older than 2.4', () => {
  test('LIBTORCH at a 2.3 LibTorch (torch/headeronly/version.h): the Error names the path, 2.3.1 and 2.4', () => {
    const prefix = fakeLibTorch('libtorch-2.3', [2, 3, 1], 'headeronly');
    const err = thrown(() => findLibTorch({ LIBTORCH: prefix }));
    expect(err.code).toBe('LIBTORCH_TOO_OLD');
    expect(err.message).toBe(`LIBTORCH at ${prefix} is LibTorch 2.3.1; bert-trainer needs 2.4 or newer.`);
  });

  test("Torch_DIR at a 1.13 LibTorch's cmake folder (torch/csrc/api/include/torch/version.h, before 2.9)", () => {
    const prefix = fakeLibTorch('libtorch-1.13', [1, 13, 1], 'csrc');
    const err = thrown(() => findLibTorch({ Torch_DIR: path.join(prefix, 'share', 'cmake', 'Torch') }));
    expect(err.code).toBe('LIBTORCH_TOO_OLD');
    expect(err.message).toContain(`Torch_DIR at ${prefix} is LibTorch 1.13.1`);
    expect(err.message).toContain('needs 2.4 or newer');
  });

  test('the command line the builds run exits 1 with that message on stderr, and prints nothing on stdout', () => {
    const prefix = fakeLibTorch('libtorch-2.0', [2, 0, 0], 'headeronly');
    const run = spawnSync(process.execPath, [SCRIPT, '--version'], { env: { ...process.env, LIBTORCH: prefix }, encoding: 'utf8' });
    expect(run.status).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr).toContain(`LIBTORCH at ${prefix} is LibTorch 2.0.0; bert-trainer needs 2.4 or newer.`);
  });

  test('2.4 itself is not too old: the discovery goes on to look for the libraries', () => {
    const prefix = fakeLibTorch('libtorch-2.4', [2, 4, 0], 'headeronly');
    const err = thrown(() => findLibTorch({ LIBTORCH: prefix }));
    expect(err.code).toBeUndefined();
    expect(err.message).toContain(`LIBTORCH=${prefix} is not an unpacked LibTorch`);
  });
});
