#!/usr/bin/env bash
# Configures and builds sluice with CMake + Ninja (ccache when present).
#   scripts/build.sh [build-dir]   (default: build; SLUICE_BUILD_TYPE overrides RelWithDebInfo)
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${1:-build}"
cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE="${SLUICE_BUILD_TYPE:-RelWithDebInfo}" -DSLUICE_WERROR=ON >/dev/null
ninja -C "$dir" "${@:2}"
