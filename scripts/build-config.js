#!/usr/bin/env node
'use strict';
// What both builds (binding.gyp and CMakeLists.txt) need, from one place:
//   sources    native/sources.txt plus the simdjson amalgamation from node_modules (paths relative to the repo root)
//   includes   node-addon-api, simdjson and LibTorch include dirs
//   defines    NAPI and LibTorch's C++ ABI defines
//   libs       linker flags for LibTorch (library dir, rpath, libraries)
//   std        the C++ standard LibTorch's headers need (17, or 20 from LibTorch 2.14 on)
// LibTorch itself is found by scripts/find-libtorch.js.
const fs = require('fs');
const path = require('path');
const { findLibTorch } = require('./find-libtorch');

const root = path.resolve(__dirname, '..');
// The package may be hoisted out of our node_modules when bert-trainer is installed as a dependency.
const simdjsonDir = path.dirname(require.resolve('@nozbe/simdjson/src/simdjson.h', { paths: [root] }));

function sources() {
  const listed = fs
    .readFileSync(path.join(root, 'native', 'sources.txt'), 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  return listed.concat(path.relative(root, path.join(simdjsonDir, 'simdjson.cpp')));
}

const commands = {
  sources: () => sources(),
  includes: () => [path.dirname(require.resolve('node-addon-api/napi.h', { paths: [root] })), simdjsonDir].concat(findLibTorch().includeDirs),
  std: () => [String(findLibTorch().cxxStandard)],
  defines: () => ['NAPI_VERSION=8', 'NAPI_CPP_EXCEPTIONS'].concat(findLibTorch().defines),
  libs: () => {
    const torch = findLibTorch();
    // --no-as-needed keeps libtorch_cuda linked although no symbol of it is referenced directly: it registers the CUDA backend.
    return [`-L${torch.libDir}`, `-Wl,-rpath,${torch.libDir}`, '-Wl,--no-as-needed'].concat(
      torch.libraries.map((l) => `-l${l}`),
      ['-Wl,--as-needed'],
    );
  },
};

module.exports = { sources, simdjsonDir };

if (require.main === module) {
  const command = commands[process.argv[2]];
  if (!command) {
    process.stderr.write(`usage: build-config.js ${Object.keys(commands).join('|')}\n`);
    process.exit(2);
  }
  try {
    process.stdout.write(`${command().join(process.argv[3] === '--lines' ? '\n' : ' ')}\n`);
  } catch (err) {
    process.stderr.write(`${err.message}\n`);
    process.exit(1);
  }
}
