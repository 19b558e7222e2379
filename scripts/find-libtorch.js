#!/usr/bin/env node
'use strict';
// The one LibTorch discovery used by both builds (binding.gyp through scripts/build-config.js,
// CMakeLists.txt through `--cmake-dir`). It looks, in this order, at:
//   1. LIBTORCH   an unpacked official LibTorch (include/, lib/, share/cmake/Torch)
//   2. Torch_DIR  a folder holding TorchConfig.cmake
//   3. a Python PyTorch: `import torch` with BERT_TRAINER_PYTHON, the project's .venv (scripts/install-deps.sh
//      puts PyTorch 2.13 there), python3 on PATH, then /usr/bin/python3
//   4. Debian's libtorch-dev: /usr/lib/x86_64-linux-gnu/cmake/Torch (2.6 on Debian 13)
// and reports the version, the CUDA version it was built for, the include dirs, the library dir, the libraries, the
// C++ ABI flag, the CMake dir and which of PyTorch's distributed backends (c10d with Gloo, NCCL) the LibTorch can be
// built against. LibTorch 2.4 or newer is required (the device-typed autocast API); an older one is an error naming
// its version and where it was found.
const fs = require('fs');
const path = require('path');
const { execFileSync } = require('child_process');

const MIN_VERSION = [2, 4];
const root = path.resolve(__dirname, '..');
const HELP = [
  'bert-trainer: no LibTorch 2.4 or newer found.',
  'Looked at: LIBTORCH, Torch_DIR, a Python PyTorch (BERT_TRAINER_PYTHON, .venv, python3, /usr/bin/python3), and /usr/lib/x86_64-linux-gnu/cmake/Torch.',
  'Get one of:',
  "  - this repository's set-up:  bash scripts/install-deps.sh   (PyTorch 2.13 in .venv)",
  '  - Debian 13 / Ubuntu (CPU):  apt-get install libtorch-dev libopenblas0-pthread',
  '  - an official LibTorch (CPU or CUDA) from pytorch.org, unpacked, then: export LIBTORCH=/path/to/libtorch',
  '  - a Python PyTorch install (pip install torch): found automatically through `import torch`',
].join('\n');

function exists(p) {
  try {
    fs.accessSync(p);
    return true;
  } catch {
    return false;
  }
}

function libraryDirFor(prefix, cmakeDir) {
  const candidates = [path.join(prefix, 'lib'), path.join(prefix, 'lib', 'x86_64-linux-gnu')];
  if (cmakeDir) candidates.push(path.resolve(cmakeDir, '..', '..'));
  return candidates.find((d) => exists(path.join(d, 'libtorch.so')) || exists(path.join(d, 'libtorch.dylib')));
}

// Walk up from a TorchConfig.cmake folder to the prefix that holds include/torch.
function prefixForCmakeDir(cmakeDir) {
  let dir = path.resolve(cmakeDir);
  for (let i = 0; i < 6; i += 1) {
    if (exists(path.join(dir, 'include', 'torch', 'csrc', 'api', 'include'))) return dir;
    dir = path.dirname(dir);
  }
  return undefined;
}

// TORCH_VERSION_MAJOR/MINOR/PATCH from the headers (torch/headeronly/version.h since 2.9): the version of the
// libraries beside them.
function headerVersion(prefix) {
  const text = [
    ['torch', 'headeronly', 'version.h'],
    ['torch', 'csrc', 'api', 'include', 'torch', 'version.h'],
  ]
    .map((parts) => path.join(prefix, 'include', ...parts))
    .filter(exists)
    .map((f) => fs.readFileSync(f, 'utf8'))
    .join('\n');
  const part = (name) => {
    const m = new RegExp(`#define TORCH_VERSION_${name} (\\d+)`).exec(text);
    return m ? Number(m[1]) : undefined;
  };
  const [major, minor, patch] = [part('MAJOR'), part('MINOR'), part('PATCH')];
  return major === undefined || minor === undefined ? undefined : { major, minor, text: `${major}.${minor}.${patch ?? 0}` };
}

// The CUDA version a LibTorch was built for: pip's torch/version.py, an official LibTorch's build-version
// ("2.14.1+cu130"), else the CUDA runtime headers' CUDART_VERSION is left to the compiler (null here).
function cudaVersionOf(prefix) {
  const versionPy = path.join(prefix, 'version.py');
  if (exists(versionPy)) {
    const m = /^cuda[^=]*=\s*'([\d.]+)'/m.exec(fs.readFileSync(versionPy, 'utf8'));
    if (m) return m[1];
  }
  const buildVersion = path.join(prefix, 'build-version');
  if (exists(buildVersion)) {
    const m = /\+cu(\d+)(\d)\b/.exec(fs.readFileSync(buildVersion, 'utf8'));
    if (m) return `${m[1]}.${m[2]}`;
  }
  return null;
}

function describe(prefix, cmakeDir, source) {
  if (!prefix || !exists(path.join(prefix, 'include', 'torch', 'csrc', 'api', 'include'))) return undefined;
  const version = headerVersion(prefix);
  if (!version) return undefined;
  if (version.major < MIN_VERSION[0] || (version.major === MIN_VERSION[0] && version.minor < MIN_VERSION[1])) {
    const err = new Error(`${source} at ${prefix} is LibTorch ${version.text}; bert-trainer needs ${MIN_VERSION.join('.')} or newer.`);
    err.code = 'LIBTORCH_TOO_OLD';
    throw err;
  }
  const libDir = libraryDirFor(prefix, cmakeDir);
  if (!libDir) return undefined;
  if (!cmakeDir) {
    // Debian's python3-torch links its lib/ to the system libraries, whose folder holds cmake/Torch.
    const realLibDir = path.dirname(fs.realpathSync(path.join(libDir, 'libtorch.so')));
    cmakeDir = [path.join(prefix, 'share', 'cmake', 'Torch'), path.join(libDir, 'cmake', 'Torch'), path.join(realLibDir, 'cmake', 'Torch')].find((d) =>
      exists(path.join(d, 'TorchConfig.cmake')),
    );
  }
  // The C++ ABI must match LibTorch's: TorchConfig.cmake records it in TORCH_CXX_FLAGS.
  let cxx11Abi = 1;
  if (cmakeDir) {
    const m = /_GLIBCXX_USE_CXX11_ABI=(\d)/.exec(fs.readFileSync(path.join(cmakeDir, 'TorchConfig.cmake'), 'utf8'));
    if (m) cxx11Abi = Number(m[1]);
  }
  const cuda = exists(path.join(libDir, 'libtorch_cuda.so'));
  const libraries = ['torch', 'torch_cpu', 'c10'].concat(cuda ? ['torch_cuda', 'c10_cuda'] : []);
  const includeDirs = [path.join(prefix, 'include'), path.join(prefix, 'include', 'torch', 'csrc', 'api', 'include')];
  if (cuda) {
    const cudaIncludes = cudaIncludeDirs(prefix);
    if (!cudaIncludes) {
      throw new Error(
        `${source} at ${prefix} is a CUDA LibTorch, but the CUDA runtime headers (cuda_runtime_api.h) were not found: ` +
          'install the CUDA toolkit (nvcc and its headers: cuda_runtime_api.h and crt/) or set CUDA_HOME.',
      );
    }
    includeDirs.push(...cudaIncludes);
  }
  const distributed = distributedSupport(prefix, includeDirs, cuda);
  const defines = [`_GLIBCXX_USE_CXX11_ABI=${cxx11Abi}`].concat(cuda ? ['BERT_TRAINER_CUDA=1'] : []);
  if (distributed.gloo) defines.push('BERT_TRAINER_DISTRIBUTED=1', 'USE_C10D_GLOO');
  if (distributed.nccl) defines.push('BERT_TRAINER_NCCL=1', 'USE_C10D_NCCL');
  return {
    source,
    version: version.text,
    // LibTorch 2.14's headers need C++20; earlier ones build as C++17 (our own code is C++17 either way).
    cxxStandard: version.major > 2 || version.minor >= 14 ? 20 : 17,
    cudaVersion: cuda ? cudaVersionOf(prefix) : null,
    prefix,
    cmakeDir,
    includeDirs: includeDirs.concat(distributed.extraIncludeDirs),
    libDir,
    libraries,
    cuda,
    distributed: { gloo: distributed.gloo, nccl: distributed.nccl },
    defines,
  };
}

// The CUDA headers a CUDA LibTorch's own headers include: the runtime (c10/cuda) from a CUDA toolkit's include/
// (CUDA_HOME, CUDA_PATH, nvcc's /usr/local/cuda) or pip's nvidia wheels beside torch/ (nvidia/cu13 since CUDA 13,
// nvidia/cuda_runtime before), complete with cuda_runtime.h's own crt/; and the math libraries' headers (cuBLAS,
// cuSPARSE, cuSOLVER: ATen/cuda, which ProcessGroupNCCL includes) from the wheels or the toolkit. Runtime first.
function cudaIncludeDirs(prefix, env = process.env) {
  const nvidia = path.join(prefix, '..', 'nvidia');
  const wheelDirs = exists(nvidia)
    ? fs
        .readdirSync(nvidia)
        .map((d) => path.join(nvidia, d, 'include'))
        .filter(exists)
    : [];
  const toolkits = [env.CUDA_HOME, env.CUDA_PATH, '/usr/local/cuda'].filter(Boolean).map((d) => path.join(d, 'include'));
  const candidates = toolkits.concat(wheelDirs).filter(exists);
  const runtime = candidates.find((d) => exists(path.join(d, 'cuda_runtime_api.h')) && exists(path.join(d, 'crt', 'host_config.h')));
  if (!runtime) return undefined;
  const libraries = candidates.filter((d) => d !== runtime && ['cublas_v2.h', 'cusparse.h', 'cusolverDn.h', 'nccl.h'].some((h) => exists(path.join(d, h))));
  return [runtime].concat(libraries).map((d) => path.resolve(d));
}

// PyTorch's distributed engine (c10d) is usable when its headers are installed and Gloo's headers are found:
// ProcessGroupGloo.hpp includes <gloo/...>. Debian ships them in libgloo-dev (/usr/include/gloo). The Gloo code
// itself is compiled into libtorch_cpu, so nothing more is linked.
// NCCL, for a CUDA LibTorch: ProcessGroupNCCL.hpp and nccl.h (pip's nvidia-nccl wheel puts it beside torch/, a CUDA
// toolkit in its include/). It is the data-parallel backend for models on GPUs; BERT_TRAINER_NCCL=0 leaves it out.
function distributedSupport(prefix, includeDirs, cuda, env = process.env) {
  const c10d = path.join(prefix, 'include', 'torch', 'csrc', 'distributed', 'c10d');
  const glooDirs = includeDirs.concat(['/usr/include', '/usr/local/include']);
  const gloo =
    exists(path.join(c10d, 'ProcessGroupGloo.hpp')) &&
    exists(path.join(c10d, 'TCPStore.hpp')) &&
    glooDirs.some((d) => exists(path.join(d, 'gloo', 'allreduce.h')));
  const extraIncludeDirs = [];
  let nccl = false;
  if (env.BERT_TRAINER_NCCL !== '0' && gloo && cuda && exists(path.join(c10d, 'ProcessGroupNCCL.hpp'))) {
    const ncclDirs = [path.join(prefix, '..', 'nvidia', 'nccl', 'include'), '/usr/include', '/usr/local/cuda/include'];
    const found = ncclDirs.find((d) => exists(path.join(d, 'nccl.h')));
    if (found) {
      nccl = true;
      if (!glooDirs.includes(found)) extraIncludeDirs.push(path.resolve(found));
    }
  }
  return { gloo, nccl, extraIncludeDirs };
}

function fromPython(python) {
  try {
    const out = execFileSync(python, ['-c', 'import os, torch; print(os.path.dirname(torch.__file__))'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
      timeout: 60000,
    }).trim();
    return describe(out, undefined, `python PyTorch (${python})`);
  } catch (err) {
    if (err.code === 'LIBTORCH_TOO_OLD') throw err;
    return undefined;
  }
}

function findLibTorch(env = process.env) {
  if (env.LIBTORCH) {
    const found = describe(path.resolve(env.LIBTORCH), undefined, 'LIBTORCH');
    if (!found) throw new Error(`LIBTORCH=${env.LIBTORCH} is not an unpacked LibTorch (expected include/torch and lib/libtorch.so under it).\n${HELP}`);
    return found;
  }
  if (env.Torch_DIR) {
    const found = describe(prefixForCmakeDir(env.Torch_DIR), path.resolve(env.Torch_DIR), 'Torch_DIR');
    if (!found) throw new Error(`Torch_DIR=${env.Torch_DIR} does not lead to a LibTorch (expected TorchConfig.cmake with include/torch above it).\n${HELP}`);
    return found;
  }
  // A LibTorch that is too old is passed over for the next candidate; it is named if nothing else is found.
  const tooOld = [];
  const attempt = (find) => {
    try {
      return find();
    } catch (err) {
      if (err.code !== 'LIBTORCH_TOO_OLD') throw err;
      tooOld.push(err.message);
      return undefined;
    }
  };
  const pythons = [env.BERT_TRAINER_PYTHON, path.join(root, '.venv', 'bin', 'python'), 'python3', '/usr/bin/python3'];
  for (const python of pythons.filter((p) => p && (!p.includes('/') || exists(p)))) {
    const found = attempt(() => fromPython(python));
    if (found) return found;
  }
  const debian = '/usr/lib/x86_64-linux-gnu/cmake/Torch';
  if (exists(path.join(debian, 'TorchConfig.cmake'))) {
    const found = attempt(() => describe(prefixForCmakeDir(debian), debian, "Debian's libtorch-dev"));
    if (found) return found;
  }
  throw new Error(tooOld.length ? `${tooOld.join('\n')}\n${HELP}` : HELP);
}

module.exports = { findLibTorch };

if (require.main === module) {
  const what = process.argv[2] || '--json';
  let torch;
  try {
    torch = findLibTorch();
  } catch (err) {
    process.stderr.write(`${err.message}\n`);
    process.exit(1);
  }
  const print = {
    '--json': () => JSON.stringify(torch, null, 2),
    '--include': () => torch.includeDirs.join(' '),
    '--libdir': () => torch.libDir,
    '--libs': () => torch.libraries.map((l) => `-l${l}`).join(' '),
    '--defines': () => torch.defines.join(' '),
    '--cmake-dir': () => torch.cmakeDir || '',
    '--version': () => torch.version,
  }[what];
  if (!print) {
    process.stderr.write(`unknown option ${what}; use --json, --include, --libdir, --libs, --defines, --cmake-dir or --version\n`);
    process.exit(2);
  }
  process.stdout.write(`${print()}\n`);
}
