#!/usr/bin/env bash
# Builds everything and runs every test: unit tests (ctest), micro-benchmarks briefly,
# integration tests against the real binary, and end-to-end tests with real clients
# (winston-loki, pino-loki from npm; Prometheus from Debian).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh --test

echo "== formatting (.clang-format)"
git ls-files -z '*.h' '*.cc' | xargs -0 clang-format --dry-run --Werror

scripts/build.sh build

echo "== unit tests"
# The ring's etcd tests start /usr/bin/etcd, the caches' memcached tests /usr/bin/memcached and
# the object store's S3 tests start s3rver (npm);
# here a missing one is a failure, not a skip.
export SLUICE_REQUIRE_ETCD=1
export SLUICE_REQUIRE_S3=1
export SLUICE_REQUIRE_MEMCACHED=1
scripts/node-deps.sh
export SLUICE_S3RVER="$PWD/tests/e2e/node/node_modules/.bin/s3rver"
(cd build && ctest --output-on-failure -j2 --timeout 300)

echo "== clang build with thread-safety analysis"
scripts/check-clang.sh

if [[ -x build/sluice_bench ]]; then
  echo "== micro-benchmarks (brief)"
  # A benchmark that gave up (SkipWithError: its setup failed) is broken, not passed.
  ./build/sluice_bench --benchmark_min_time=0.01 --benchmark_format=json >build/bench-brief.json
  /usr/bin/python3 - build/bench-brief.json <<'PY'
import json, sys
runs = json.load(open(sys.argv[1]))["benchmarks"]
failed = [f"{b['name']}: {b.get('error_message', '')}" for b in runs if b.get("error_occurred")]
if failed or not runs:
    sys.exit("micro-benchmarks failed:\n  " + "\n  ".join(failed or ["none ran"]))
print(f"{len(runs)} micro-benchmarks ran")
PY
fi

echo "== integration and end-to-end tests"
export SLUICE_BIN="$PWD/build/sluice"
/usr/bin/python3 -m pytest -q -p no:cacheprovider tests "$@"
