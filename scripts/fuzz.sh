#!/usr/bin/env bash
# Builds and runs the libFuzzer targets of the checkpoint readers (see native/fuzz/README.md).
#   scripts/fuzz.sh pickle|safetensors|torch_zip [seconds] [extra libFuzzer flags...]
# Needs clang and libFuzzer: apt-get install -y clang libfuzzer-14-dev libclang-rt-14-dev
# Builds into native/fuzz/build/ (git-ignored); the committed seeds in native/fuzz/corpus/<target>/
# are copied into a working corpus there, so fuzzing never rewrites them. Crashes land in
# native/fuzz/build/artifacts/<target>/ and make this script exit non-zero.
set -euo pipefail

target="${1:-}"
seconds="${2:-60}"
shift $(( $# < 2 ? $# : 2 ))
case "$target" in
  pickle) sources=(native/checkpoint/pickle_reader.cpp) ;;
  safetensors) sources=(native/checkpoint/safetensors.cpp native/checkpoint/atomic_file.cpp) ;;
  torch_zip) sources=(native/checkpoint/torch_bin.cpp native/checkpoint/pickle_reader.cpp native/checkpoint/pickle_writer.cpp native/checkpoint/atomic_file.cpp) ;;
  *) echo "usage: scripts/fuzz.sh pickle|safetensors|torch_zip [seconds] [libFuzzer flags...]" >&2; exit 2 ;;
esac

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
build=native/fuzz/build
mkdir -p "$build/artifacts/$target" "$build/corpus-$target"

CXX="${CXX:-clang++}"
command -v "$CXX" >/dev/null || { echo "fuzz.sh: $CXX not found (apt-get install -y clang libfuzzer-14-dev libclang-rt-14-dev)" >&2; exit 2; }
includes=()
for dir in $(node scripts/find-libtorch.js --include); do includes+=(-isystem "$dir"); done
libdir="$(node scripts/find-libtorch.js --libdir)"
defines=()
for def in $(node scripts/find-libtorch.js --defines); do defines+=("-D$def"); done
simdjson=node_modules/@nozbe/simdjson/src
sanitize=(-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer)
cxxflags=(-std=c++17 -g -O1 "${sanitize[@]}" "${defines[@]}" "${includes[@]}" -isystem "$simdjson")

# simdjson is large and slow to compile: build its object once (instrumented: it parses our input).
if [ "$target" = safetensors ] && [ ! -f "$build/simdjson.o" ]; then
  echo "fuzz.sh: compiling simdjson (once)..."
  "$CXX" "${cxxflags[@]}" -fsanitize=fuzzer-no-link -c "$simdjson/simdjson.cpp" -o "$build/simdjson.o"
fi
extra_objects=()
[ "$target" = safetensors ] && extra_objects+=("$build/simdjson.o")

binary="$build/fuzz_$target"
echo "fuzz.sh: building $binary"
"$CXX" "${cxxflags[@]}" -fsanitize=fuzzer "native/fuzz/fuzz_$target.cpp" "${sources[@]}" "${extra_objects[@]}" \
  -o "$binary" -L"$libdir" -Wl,-rpath,"$libdir" -ltorch -ltorch_cpu -lc10

cp -n native/fuzz/corpus/"$target"/* "$build/corpus-$target/" 2>/dev/null || true
options=()
[ -f "native/fuzz/$target.dict" ] && options+=(-dict="native/fuzz/$target.dict")
# LibTorch's PyTorchStreamReader leaks miniz's state (~360 bytes) when its constructor throws on a
# malformed archive (no "version" record, ...): not ours to fix, so leak checks are off for that target.
if [ "$target" = torch_zip ]; then
  options+=(-detect_leaks=0)
  export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"  # also the report at exit
fi
echo "fuzz.sh: fuzzing $target for ${seconds}s"
exec "$binary" "$build/corpus-$target" "${options[@]}" -max_total_time="$seconds" -max_len=8192 -timeout=10 \
  -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$build/artifacts/$target/" "$@"
