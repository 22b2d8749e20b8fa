#!/usr/bin/env bash
# A sluice cluster on one machine: etcd for the ring, ingesters, queriers, distributors and the
# query frontend as separate processes on 127.0.0.1. Used by the tests, the benchmarks and anyone
# trying a cluster.
#
#   scripts/cluster.sh start DIR [--ingesters N] [--rf R] [--zones Z] [--distributors D]
#                                [--queriers Q] [--backends B] [--s3 URL] [--port P]
#                                [--kafka [--partitions K]] [-- SLUICE-FLAGS...]
#       Starts etcd and every component, waits until each is ready and prints the endpoints.
#       The front door, P (default 3100), is the first distributor and the query frontend in one
#       process: push and query there. Backends run the compactor (one of them active at a time).
#       Defaults: 3 ingesters, RF 3, 1 zone, 1 distributor, 2 queriers, 1 backend; the store is
#       DIR/chunks, or with --s3 the bucket of Loki's URL form http(s)://KEY:SECRET@HOST:PORT/BUCKET.
#       Other ports follow P. SLUICE-FLAGS go to every sluice process.
#       --kafka: the Kafka write path on sluice-kafka-testbroker (librdkafka's mock cluster, 3
#       brokers, process "kafka"; its data lives in its memory): distributors produce to topic
#       sluice-logs with K partitions (default: one per ingester) and ingester-i consumes
#       partition (i-1) mod K, so with K < N some partitions have several owners.
#   scripts/cluster.sh stop DIR                 SIGTERM to every process (ingesters flush), etcd last
#   scripts/cluster.sh kill DIR NAME            kill -9 one process (ingester-2, querier-1, etcd, ...)
#   scripts/cluster.sh restart DIR NAME         SIGTERM it if running, start it again, wait until ready
#   scripts/cluster.sh add-ingester DIR [-- SLUICE-FLAGS...]
#                                               starts one more ingester (scaling out); the flags
#                                               go to it alone, e.g. another Kafka partition than
#                                               its default: -ingester.kafka_ingestion.partitions=1
#   scripts/cluster.sh status DIR               every process: pid, running or not, endpoint
#
# DIR holds sluice.yaml (the shared configuration), pids/NAME.pid, logs/NAME.log, cmd/NAME (the
# command line, for restart), NAME/ (each process's WAL and tokens) and chunks/ (the store every
# ingester writes and every querier reads). SLUICE_BIN selects the binary (default build/sluice,
# built when missing).
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"

die() { echo "cluster.sh: $*" >&2; exit 2; }

usage() { sed -n '2,31p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }

ensure_deps() {
  "$repo/scripts/deps.sh" --cluster
  SLUICE_BIN="${SLUICE_BIN:-$repo/build/sluice}"
  if [[ ! -x "$SLUICE_BIN" ]]; then
    "$repo/scripts/build.sh" build sluice
  fi
}

pid_of() { cat "$1/pids/$2.pid" 2>/dev/null || true; }

running() {
  local pid
  pid="$(pid_of "$1" "$2")"
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null
}

# Starts process NAME of cluster DIR from cmd/NAME, in the background, with its own log.
launch() {
  local dir="$1" name="$2"
  mkdir -p "$dir/pids" "$dir/logs"
  local argv
  mapfile -t argv <"$dir/cmd/$name"
  # setsid: the process outlives this script (not a group leader here, so setsid execs in place
  # and $! is the component's own pid).
  setsid "${argv[@]}" >>"$dir/logs/$name.log" 2>&1 </dev/null &
  echo $! >"$dir/pids/$name.pid"
}

# Waits (bounded) until NAME answers its readiness URL.
wait_ready() {
  local dir="$1" name="$2" url
  url="$(cat "$dir/cmd/$name.ready")"
  for _ in $(seq 1 600); do
    if curl -fsS -o /dev/null --max-time 1 "$url" 2>/dev/null; then return 0; fi
    if ! running "$dir" "$name"; then
      tail -20 "$dir/logs/$name.log" >&2 || true
      die "$name exited while starting (log: $dir/logs/$name.log)"
    fi
    sleep 0.1
  done
  tail -20 "$dir/logs/$name.log" >&2 || true
  die "$name was not ready after 60s ($url)"
}

stop_one() {
  local dir="$1" name="$2" pid
  pid="$(pid_of "$dir" "$name")"
  [[ -n "$pid" ]] || return 0
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    kill -CONT "$pid" 2>/dev/null || true  # a stopped process cannot take SIGTERM
    for _ in $(seq 1 1200); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
      echo "cluster.sh: $name did not stop in 120s; killing it" >&2
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  rm -f "$dir/pids/$name.pid"
}

# Writes cmd/NAME for a sluice component: target, ports, instance id and zone.
sluice_cmd() {
  local dir="$1" name="$2" target="$3" http="$4" grpc="$5" zone="$6"
  shift 6
  mkdir -p "$dir/cmd" "$dir/$name"
  local args=(
    "$SLUICE_BIN" "-config.file=$dir/sluice.yaml" "-target=$target"
    "-server.http_listen_address=127.0.0.1" "-server.http_listen_port=$http"
    "-server.grpc_listen_address=127.0.0.1" "-server.grpc_listen_port=$grpc"
    "-common.path_prefix=$dir/$name" "-ingester.lifecycler.id=$name"
  )
  [[ -n "$zone" ]] && args+=("-ingester.lifecycler.availability_zone=$zone")
  args+=("$@")
  [[ -f "$dir/extra_args" ]] && mapfile -t extra <"$dir/extra_args" && args+=("${extra[@]}")
  printf '%s\n' "${args[@]}" >"$dir/cmd/$name"
  echo "http://127.0.0.1:$http/ready" >"$dir/cmd/$name.ready"
  echo "http=127.0.0.1:$http grpc=127.0.0.1:$grpc" >"$dir/cmd/$name.endpoint"
}

next_port() {
  local p
  p="$(cat "$1/next_port")"
  echo $((p + 1)) >"$1/next_port"
  echo "$p"
}

ingester_cmd() {
  local dir="$1" i="$2" zones http grpc zone=""
  shift 2  # the rest: flags for this ingester alone
  zones="$(cat "$dir/zones")"
  http="$(next_port "$dir")"
  grpc="$(next_port "$dir")"
  ((zones > 1)) && zone="zone-$(((i - 1) % zones + 1))"
  local kafka_args=()
  if [[ -f "$dir/kafka_partitions" && " $* " != *" -ingester.kafka_ingestion.partitions="* ]]; then
    kafka_args=("-ingester.kafka_ingestion.partitions=$(((i - 1) % $(cat "$dir/kafka_partitions")))")
  fi
  sluice_cmd "$dir" "ingester-$i" ingester "$http" "$grpc" "$zone" \
    "-ingester.lifecycler.tokens_file_path=$dir/ingester-$i/tokens.json" "${kafka_args[@]}" "$@"
}

cmd_start() {
  local dir="" ingesters=3 rf=3 zones=1 distributors=1 queriers=2 backends=1 port=3100 s3=""
  local kafka=false partitions=""
  local extra=()
  while (($#)); do
    case "$1" in
      --ingesters) ingesters="$2"; shift 2 ;;
      --rf) rf="$2"; shift 2 ;;
      --zones) zones="$2"; shift 2 ;;
      --distributors) distributors="$2"; shift 2 ;;
      --queriers) queriers="$2"; shift 2 ;;
      --backends) backends="$2"; shift 2 ;;
      --s3) s3="$2"; shift 2 ;;
      --port) port="$2"; shift 2 ;;
      --kafka) kafka=true; shift ;;
      --partitions) partitions="$2"; shift 2 ;;
      --) shift; extra=("$@"); break ;;
      -*) die "unknown option $1" ;;
      *) [[ -z "$dir" ]] || die "one DIR only"; dir="$1"; shift ;;
    esac
  done
  [[ -n "$dir" ]] || usage
  ((ingesters >= 1 && rf >= 1 && zones >= 1 && distributors >= 1 && queriers >= 1 &&
    backends >= 0)) ||
    die "--ingesters, --rf, --zones, --distributors and --queriers must be at least 1"
  ((rf <= ingesters)) || die "--rf $rf needs at least $rf ingesters"
  ((zones == 1 || zones >= rf)) || die "--zones $zones: zone awareness needs at least RF zones"
  mkdir -p "$dir"
  dir="$(cd "$dir" && pwd)"
  for f in "$dir"/pids/*.pid; do
    [[ -e "$f" ]] || continue
    running "$dir" "$(basename "$f" .pid)" && die "$dir already has a running cluster"
  done
  ensure_deps
  if $kafka && [[ ! -x "$(dirname "$SLUICE_BIN")/sluice-kafka-testbroker" ]]; then
    "$repo/scripts/build.sh" build sluice-kafka-testbroker
  fi
  rm -rf "$dir/pids" "$dir/cmd"
  mkdir -p "$dir/pids" "$dir/logs" "$dir/chunks" "$dir/cmd"
  printf '%s\n' "${extra[@]}" >"$dir/extra_args"
  [[ ${#extra[@]} -eq 0 ]] && : >"$dir/extra_args"
  echo "$zones" >"$dir/zones"
  echo "$ingesters" >"$dir/ingesters"
  [[ -n "$partitions" ]] || partitions="$ingesters"
  ((partitions >= 1)) || die "--partitions must be at least 1"
  if $kafka; then echo "$partitions" >"$dir/kafka_partitions"; else rm -f "$dir/kafka_partitions"; fi
  # The front door first (P, P+1), then etcd, then every component in turn.
  local fd_http="$port" fd_grpc=$((port + 1))
  echo $((port + 2)) >"$dir/next_port"
  local etcd_client etcd_peer
  etcd_client="$(next_port "$dir")"
  etcd_peer="$(next_port "$dir")"

  local zone_aware=false
  ((zones > 1)) && zone_aware=true
  cat >"$dir/sluice.yaml" <<EOF
# Written by scripts/cluster.sh: what every process of this cluster shares.
common:
  replication_factor: $rf
  ring:
    kvstore:
      store: etcd
      etcd:
        endpoints: [127.0.0.1:$etcd_client]
        dial_timeout: 2s
  storage:
    filesystem:
      chunks_directory: $dir/chunks
storage_config:
  aws:
    s3: "$s3"
ingester:
  kafka_ingestion:
    enabled: $kafka
  lifecycler:
    heartbeat_period: 1s
    min_ready_duration: 1s
    ring:
      heartbeat_timeout: 10s
      zone_awareness_enabled: $zone_aware
querier:
  index_refresh_interval: 0s
EOF

  local names=()
  if $kafka; then
    # The broker prints its bootstrap address once listening; every component gets it.
    printf '%s\n' "$(dirname "$SLUICE_BIN")/sluice-kafka-testbroker" --brokers 3 \
      --topic sluice-logs --partitions "$partitions" >"$dir/cmd/kafka"
    launch "$dir" kafka
    local bootstrap=""
    for _ in $(seq 1 100); do
      bootstrap="$(sed -n 's/^bootstrap=//p' "$dir/logs/kafka.log" | tail -1)"
      [[ -n "$bootstrap" ]] && break
      running "$dir" kafka || die "the Kafka test broker exited (log: $dir/logs/kafka.log)"
      sleep 0.1
    done
    [[ -n "$bootstrap" ]] || die "the Kafka test broker printed no address in 10s"
    echo "bootstrap=$bootstrap" >"$dir/cmd/kafka.endpoint"
    cat >>"$dir/sluice.yaml" <<EOF
distributor:
  kafka_writes_enabled: true
kafka_config:
  address: "$bootstrap"
  topic: sluice-logs
  max_consumer_lag_at_startup: 5s
EOF
    names+=(kafka)
  fi

  printf '%s\n' etcd --name sluice-cluster --data-dir "$dir/etcd" \
    --listen-client-urls "http://127.0.0.1:$etcd_client" \
    --advertise-client-urls "http://127.0.0.1:$etcd_client" \
    --listen-peer-urls "http://127.0.0.1:$etcd_peer" \
    --initial-advertise-peer-urls "http://127.0.0.1:$etcd_peer" \
    --initial-cluster "sluice-cluster=http://127.0.0.1:$etcd_peer" >"$dir/cmd/etcd"
  echo "http://127.0.0.1:$etcd_client/health" >"$dir/cmd/etcd.ready"
  echo "client=127.0.0.1:$etcd_client" >"$dir/cmd/etcd.endpoint"

  for i in $(seq 1 "$ingesters"); do
    ingester_cmd "$dir" "$i"
    names+=("ingester-$i")
  done
  for i in $(seq 1 "$queriers"); do
    local h g
    h="$(next_port "$dir")"
    g="$(next_port "$dir")"
    sluice_cmd "$dir" "querier-$i" querier "$h" "$g" "" \
      "-frontend_worker.frontend_address=127.0.0.1:$fd_grpc"
    names+=("querier-$i")
  done
  sluice_cmd "$dir" frontdoor distributor,query-frontend "$fd_http" "$fd_grpc" ""
  names+=(frontdoor)
  for i in $(seq 1 "$backends"); do
    local h g
    h="$(next_port "$dir")"
    g="$(next_port "$dir")"
    sluice_cmd "$dir" "backend-$i" backend "$h" "$g" ""
    names+=("backend-$i")
  done
  for i in $(seq 2 "$distributors"); do
    local h g
    h="$(next_port "$dir")"
    g="$(next_port "$dir")"
    sluice_cmd "$dir" "distributor-$i" distributor "$h" "$g" ""
    names+=("distributor-$i")
  done
  printf '%s\n' etcd "${names[@]}" >"$dir/names"

  launch "$dir" etcd
  wait_ready "$dir" etcd
  for name in "${names[@]}"; do [[ "$name" == kafka ]] || launch "$dir" "$name"; done
  for name in "${names[@]}"; do [[ "$name" == kafka ]] || wait_ready "$dir" "$name"; done
  echo "sluice cluster in $dir: $ingesters ingesters (RF $rf, $zones zone(s)), $distributors distributor(s), $queriers querier(s), $backends backend(s)"
  echo "front door (push and query): http://127.0.0.1:$fd_http"
  cmd_status "$dir"
}

cmd_status() {
  local dir="$1" name state
  [[ -f "$dir/names" ]] || die "$dir holds no cluster"
  while read -r name; do
    state=stopped
    running "$dir" "$name" && state="running pid $(pid_of "$dir" "$name")"
    printf '%-16s %-22s %s\n' "$name" "$state" "$(cat "$dir/cmd/$name.endpoint" 2>/dev/null || true)"
  done <"$dir/names"
}

cmd_stop() {
  local dir="$1" name
  [[ -f "$dir/names" ]] || die "$dir holds no cluster"
  # Front doors and queriers first, then ingesters (they flush), etcd last.
  local order=()
  while read -r name; do [[ "$name" == ingester-* || "$name" == etcd || "$name" == kafka ]] || order+=("$name"); done <"$dir/names"
  for name in "${order[@]}"; do stop_one "$dir" "$name" & done
  wait
  while read -r name; do [[ "$name" == ingester-* ]] && stop_one "$dir" "$name" &
  done <"$dir/names"
  wait
  stop_one "$dir" kafka
  stop_one "$dir" etcd
}

cmd_kill() {
  local dir="$1" name="$2" pid
  pid="$(pid_of "$dir" "$name")"
  [[ -n "$pid" ]] || die "no pid file for $name"
  kill -KILL "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
  rm -f "$dir/pids/$name.pid"
}

cmd_restart() {
  local dir="$1" name="$2"
  [[ -f "$dir/cmd/$name" ]] || die "no component $name in $dir"
  [[ "$name" != kafka ]] ||
    die "the Kafka test broker keeps its data in memory: pause it (kill -STOP) rather than restart it"
  SLUICE_BIN="${SLUICE_BIN:-$repo/build/sluice}"
  stop_one "$dir" "$name"
  launch "$dir" "$name"
  wait_ready "$dir" "$name"
}

cmd_add_ingester() {
  local dir="$1" n
  shift
  if (($#)); then [[ "$1" == -- ]] || usage; shift; fi
  [[ -f "$dir/names" ]] || die "$dir holds no cluster"
  SLUICE_BIN="${SLUICE_BIN:-$repo/build/sluice}"
  n=$(($(cat "$dir/ingesters") + 1))
  echo "$n" >"$dir/ingesters"
  ingester_cmd "$dir" "$n" "$@"
  echo "ingester-$n" >>"$dir/names"
  launch "$dir" "ingester-$n"
  wait_ready "$dir" "ingester-$n"
  echo "ingester-$n $(cat "$dir/cmd/ingester-$n.endpoint")"
}

(($#)) || usage
command="$1"
shift
case "$command" in
  start) cmd_start "$@" ;;
  stop) [[ $# -eq 1 ]] || usage; cmd_stop "$1" ;;
  kill) [[ $# -eq 2 ]] || usage; cmd_kill "$1" "$2" ;;
  restart) [[ $# -eq 2 ]] || usage; cmd_restart "$1" "$2" ;;
  add-ingester) [[ $# -ge 1 ]] || usage; cmd_add_ingester "$@" ;;
  status) [[ $# -eq 1 ]] || usage; cmd_status "$1" ;;
  *) usage ;;
esac
