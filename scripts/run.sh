#!/usr/bin/env bash
# Builds sluice and starts it on the embedded default: one process, every component,
# data under ./data, HTTP on :3100. Extra arguments are passed to sluice.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
scripts/build.sh build sluice
exec ./build/sluice -config.file=config/sluice.yaml "$@"
