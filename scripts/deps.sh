#!/usr/bin/env bash
# Installs every Debian (and npm) package sluice needs to build, run and test.
# Idempotent and quiet when everything is already there, so both README commands call it.
#   scripts/deps.sh          build + run dependencies
#   scripts/deps.sh --cluster  also etcd, for scripts/cluster.sh
#   scripts/deps.sh --test   also the tools the test suites drive (python, prometheus and its
#                            alertmanager for the rules and the incident drills, node,
#                            systemd-journal-remote to write journal files, openssl for TLS,
#                            etcd for the ring's KV tests, awscli as an outside S3 client,
#                            memcached for the caches, kcat as an outside Kafka client,
#                            python3-kubernetes to check deploy/kubernetes against the API
#                            schema, and kubectl (Debian's kubernetes-client) when there is none;
#                            npm packages: scripts/node-deps.sh)
set -euo pipefail

build_pkgs=(
  build-essential clang clang-format cmake ninja-build ccache pkg-config git
  libboost1.74-dev libprotobuf-dev protobuf-compiler libgrpc++-dev protobuf-compiler-grpc
  libsimdjson-dev libre2-dev libzstd-dev liblz4-dev libsnappy-dev libdeflate-dev zlib1g-dev
  libyaml-cpp-dev libspdlog-dev libfmt-dev libcli11-dev libxxhash-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libcurl4-openssl-dev libsystemd-dev libmemcached-dev librdkafka-dev
  zstd lz4 curl
)
test_pkgs=(
  python3 python3-pytest python3-requests python3-snappy python3-protobuf python3-yaml
  prometheus prometheus-alertmanager procps
  systemd-journal-remote openssl
  rsyslog
  etcd-server
  awscli memcached
  kcat
  python3-kubernetes
)

want=("${build_pkgs[@]}")
if [[ "${1:-}" == "--test" ]]; then
  want+=("${test_pkgs[@]}")
elif [[ "${1:-}" == "--cluster" ]]; then
  want+=(etcd-server curl)  # scripts/cluster.sh
fi

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Node.js and npm may come from Debian or from another install; only add Debian's when absent.
if [[ "${1:-}" == "--test" ]] && ! command -v npm >/dev/null 2>&1; then
  missing+=(nodejs npm)
fi
# kubectl likewise (tests/deploy renders with `kubectl kustomize`): a kubectl from elsewhere ships
# the same /usr/bin/kubectl, so Debian's package would conflict with it.
if [[ "${1:-}" == "--test" ]] && ! command -v kubectl >/dev/null 2>&1; then
  missing+=(kubernetes-client)
fi

if ((${#missing[@]})); then
  echo "deps: installing ${missing[*]}"
  SUDO=""
  [[ $(id -u) -eq 0 ]] || SUDO=sudo
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
