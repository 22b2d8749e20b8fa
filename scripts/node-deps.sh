#!/usr/bin/env bash
# Installs the pinned npm packages the tests drive (tests/e2e/node: Loki client libraries, and
# s3rver, the S3-compatible server of the object store tests) from package-lock.json, once.
set -euo pipefail
cd "$(dirname "$0")/../tests/e2e/node"
if [[ ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json ]]; then
  echo "node-deps: npm ci"
  npm ci --no-audit --no-fund --loglevel=error
fi
