#!/usr/bin/env bash
# The benchmark suite in one command (issue 4): builds sluice and the bench tools, generates the
# corpus, runs the ingest / replay / disk / query / reference-tool phases and writes
# bench/RESULTS.md. Arguments go to bench/run.py (--full for the 4M-line corpus, --lines N,
# --keep, --skip ingest10k,json,queries,replay, --json-out FILE; --help for all).
#   SLUICE_BENCH_BUILD_DIR  build directory (default build-bench; --build-dir overrides it)
#   SLUICE_BUILD_TYPE       CMake build type (default RelWithDebInfo, as scripts/build.sh)
#   SLUICE_BENCH_JOBS       ninja -j (default 1: the machine is shared)
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${SLUICE_BENCH_BUILD_DIR:-build-bench}"
# --build-dir (as bench/run.py takes it) builds there too.
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  case "${args[i]}" in
    --build-dir) dir="${args[i + 1]:-$dir}" ;;
    --build-dir=*) dir="${args[i]#--build-dir=}" ;;
  esac
done
type="${SLUICE_BUILD_TYPE:-RelWithDebInfo}"
for tool in zstd lz4 python3 cmake ninja; do
  command -v "$tool" >/dev/null || { echo "bench: $tool is not installed (apt-get install -y zstd lz4 cmake ninja-build python3)" >&2; exit 1; }
done
cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE="$type" -DSLUICE_BENCH=ON -DSLUICE_WERROR=ON >/dev/null
ninja -j"${SLUICE_BENCH_JOBS:-1}" -C "$dir" sluice sluice-bench-corpus sluice-bench-load sluice-bench-query
export SLUICE_BENCH_COMMAND="bench/run.sh${*:+ $*}"
exec python3 bench/run.py --build-dir "$dir" --build-type "$type" "$@"
