#!/usr/bin/env bash
# Every Google Benchmark micro-benchmark (bench/micro/*_bench.cc and src/**/*_bench.cc), in full.
# Extra arguments go to the benchmark binary, e.g. --benchmark_filter=Decode.
#   SLUICE_BENCH_BUILD_DIR  build directory (default build-bench)
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${SLUICE_BENCH_BUILD_DIR:-build-bench}"
cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE="${SLUICE_BUILD_TYPE:-RelWithDebInfo}" -DSLUICE_BENCH=ON -DSLUICE_WERROR=ON >/dev/null
ninja -j"${SLUICE_BENCH_JOBS:-1}" -C "$dir" sluice_bench
exec "$dir/sluice_bench" "$@"
