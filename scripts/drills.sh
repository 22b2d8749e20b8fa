#!/usr/bin/env bash
# Runs every incident drill (tests/drills/README.md): the short form that scripts/test.sh runs,
# plus a crash-looping ingester, a failing and a slow object store, an ingester slowed by the
# test-only push delay, Kafka consumer lag and a lost zone. About 8 minutes on 2 cores.
#   scripts/drills.sh [PYTEST-ARGS...]      e.g. scripts/drills.sh -k kafka
# SLUICE_BIN selects the binary (default build/sluice, built with the Kafka test broker when
# missing).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh --test
export SLUICE_BIN="${SLUICE_BIN:-$PWD/build/sluice}"
if [[ ! -x "$SLUICE_BIN" ]]; then
  scripts/build.sh build sluice sluice-kafka-testbroker
fi
SLUICE_DRILLS=full exec /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/drills "$@"
