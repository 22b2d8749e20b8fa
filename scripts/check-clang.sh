#!/usr/bin/env bash
# Builds the layer libraries and the sluice binary with clang and its thread-safety analysis
# (-Wthread-safety, errors under SLUICE_WERROR): a member read without the lock that guards it,
# or a function called without the lock it REQUIRES, fails the build. The tests are not built
# here (GCC builds and runs them): every layer's library and the binary.
#   scripts/check-clang.sh [build-dir [ninja options]]   (default: build-clang)
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${1:-build-clang}"
CC=clang CXX=clang++ cmake -S . -B "$dir" -G Ninja \
  -DCMAKE_BUILD_TYPE="${SLUICE_BUILD_TYPE:-RelWithDebInfo}" \
  -DSLUICE_WERROR=ON -DSLUICE_THREAD_SAFETY=ON -DSLUICE_BENCH=OFF >/dev/null
layers=$(ninja -C "$dir" -t targets all | grep -o '^libsluice_[a-z_]*\.a' | sort -u)
ninja -C "$dir" "${@:2}" sluice $layers
