#!/usr/bin/env bash
# A whole mombroker cluster on loopback (DESIGN §9). Run with --help for everything it does.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)

UP_TIMEOUT_S=${MOM_CLUSTER_UP_TIMEOUT_S:-90}
STOP_TIMEOUT_S=${MOM_CLUSTER_STOP_TIMEOUT_S:-15}

usage() {
  cat <<EOF
usage: $0 up [--nodes N] [--partitions P] [--replication-factor R] [--tls] [--bundle]
       $0 down | status | kill NAME | start NAME | --help

Runs a whole mombroker cluster on 127.0.0.1 under \$MOM_CLUSTER_DIR (default ./.cluster,
now $(cluster_dir_display)):

  zookeeper     via scripts/zookeeper.sh (the Debian \`zookeeper\` package, installed with
                apt-get if missing and running as root), or an existing ensemble given as
                ZOOKEEPER=host:port[,host:port...] (then nothing is started for it)
  auth          mombroker --role auth (users, logins, JWKS)
  node-1..N     mombroker --role node,replicator, each with its own data dir, HTTP and gRPC port
  partitioner   mombroker --role partitioner (the partition map, the controller)
  gateway       mombroker --role gateway (what clients talk to)

Commands:
  up            pick free loopback ports, start everything, and return once the cluster is
                healthy: every process answers GET /health and the partitioner's map has a
                leader for every partition (bounded by MOM_CLUSTER_UP_TIMEOUT_S, default 90 s;
                on timeout it prints the logs' tails, stops what it started and fails). Prints
                \`gateway: URL\`, \`partitioner: URL\`, \`auth: URL\`, where the logs and pid
                files are, and last lines to paste into a shell for the CLI:
                \`export MOM_URL=… MOM_USER=admin MOM_PASSWORD=…\` (the gateway, as admin)
                and, with --tls, \`export MOM_CA=FILE\` (run them, or
                eval "\$(scripts/cluster.sh up | grep '^export ')"). Options:
                  --nodes N               broker nodes (default 3)
                  --partitions P          partitions, fixed for this cluster (default 16)
                  --replication-factor R  replicas per partition (default min(3, N));
                                          min-insync-replicas is min(2, R)
                  --tls                   TLS everywhere: make a throwaway CA and a certificate
                                          per process with openssl (for 127.0.0.1 and
                                          localhost) under \$MOM_CLUSTER_DIR/tls/; every process
                                          serves HTTPS (--tls-cert/--tls-key) and trusts the CA
                                          for the others (--tls-ca); nodes replicate over
                                          mutual TLS (--grpc-tls-cert/-key/-ca). Kept by the
                                          cluster: \`up\` again restarts it with TLS.
                  --bundle                run dist/mombroker.cjs (npm run bundle) instead of
                                          bin/mombroker
                Running \`up\` again after \`down\` restarts the same cluster (same ports, secret
                and data); remove \$MOM_CLUSTER_DIR for a new one.
  down          stop exactly what \`up\` started, by the pids in the pid files (SIGTERM, wait up
                to ${STOP_TIMEOUT_S}s, then SIGKILL), ZooKeeper included if \`up\` started it. Data and
                logs stay.
  status        every process (name, address, pid, alive or dead) and the partition map
                (partition, leader, leader epoch, ISR) from the partitioner. Exit 0 when
                everything runs, 1 otherwise, 3 when there is no cluster.
  kill NAME     SIGKILL one process by its pid file: node-1..node-N, auth, partitioner or gateway.
  start NAME    start that process again with the same settings, and wait for its /health.

Files under \$MOM_CLUSTER_DIR:
  cluster.env     the chosen ports, URLs and settings (mode 0600: it holds the cluster secret)
  admin-password  the password of user admin (mode 0600), unless MOM_ADMIN_PASSWORD is set
  logs/NAME.log   each process's JSON log lines; zookeeper/zookeeper.log for ZooKeeper
  pids/NAME.pid   each process's pid
  data/NAME/      each process's --data directory
  tls/            with --tls: ca.pem (trust it: MOM_CA, --ca, curl --cacert), ca.key, and
                  NAME.pem/NAME.key for each process (keys mode 0600)

Environment:
  MOM_CLUSTER_DIR     where the cluster lives (default ./.cluster)
  MOM_BIN             the mombroker to run (default $repo/bin/mombroker, or
                      $repo/dist/mombroker.cjs with --bundle); run with node
  MOM_NODE            the node executable (default: node on PATH)
  MOM_ADMIN_PASSWORD  the admin password (at least 8 characters); generated when unset
  ZOOKEEPER           use this ZooKeeper ensemble instead of starting one; the cluster gets
                      its own root (MOM_ZK_ROOT, default /mom-cluster-<random>)
  MOM_*               other mombroker settings (e.g. MOM_LOG_LEVEL=debug,
                      MOM_ZK_SESSION_TIMEOUT_MS) reach every process; flags set by this script win
EOF
}

die() {
  echo "cluster: $*" >&2
  exit 1
}

cluster_dir_display() {
  local d=${MOM_CLUSTER_DIR:-./.cluster}
  case $d in /*) echo "$d" ;; *) echo "$(pwd)/${d#./}" ;; esac
}

# ---- state -------------------------------------------------------------------------------

DIR=$(cluster_dir_display)
ENV_FILE=$DIR/cluster.env
PID_DIR=$DIR/pids
LOG_DIR=$DIR/logs
DATA_DIR=$DIR/data
ZK_DIR=$DIR/zookeeper
TLS_DIR=$DIR/tls

load_env() {
  [ -f "$ENV_FILE" ] || {
    echo "cluster: no cluster in $DIR (run: $0 up)" >&2
    exit 3
  }
  # shellcheck disable=SC1090
  . "$ENV_FILE"
}

# Names of the mombroker processes, in start order.
process_names() {
  echo auth
  local i
  for ((i = 1; i <= NODES; i++)); do echo "node-$i"; done
  echo partitioner
  echo gateway
}

is_process_name() {
  local name=$1 n
  for n in $(process_names); do [ "$n" = "$name" ] && return 0; done
  return 1
}

http_port_of() {
  case $1 in
    auth) echo "$AUTH_PORT" ;;
    partitioner) echo "$PARTITIONER_PORT" ;;
    gateway) echo "$GATEWAY_PORT" ;;
    node-*) local var=NODE_${1#node-}_HTTP_PORT; echo "${!var}" ;;
  esac
}

scheme() { if [ "${TLS:-0}" = 1 ]; then echo https; else echo http; fi; }

url_of() { echo "$(scheme)://127.0.0.1:$(http_port_of "$1")"; }

# The pid from NAME's pid file if it is alive and still one of ours (its --data is in this
# cluster dir); empty otherwise. Pids are only ever signalled after this check.
live_pid() {
  local name=$1 file=$PID_DIR/$1.pid pid
  [ -f "$file" ] || return 0
  pid=$(cat "$file" 2>/dev/null || true)
  case $pid in '' | *[!0-9]*) return 0 ;; esac
  kill -0 "$pid" 2>/dev/null || return 0
  if [ "$name" != zookeeper ] && [ -r "/proc/$pid/cmdline" ] && ! tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF "$DATA_DIR/$name "; then
    return 0 # the pid was reused by another process
  fi
  echo "$pid"
}

# curl that trusts the cluster's CA when it runs with --tls.
curl_cluster() {
  if [ "${TLS:-0}" = 1 ]; then curl --cacert "$TLS_DIR/ca.pem" "$@"; else curl "$@"; fi
}

healthy() {
  curl_cluster -fsS --max-time 2 -o /dev/null "$1/health" 2>/dev/null
}

# Node one-liners stand in for jq: node is required to run mombroker anyway.
free_ports() {
  "$MOM_NODE" -e '
    const net = require("net");
    const n = Number(process.argv[1]);
    const servers = [];
    for (let i = 0; i < n; i++) {
      const server = net.createServer();
      server.listen(0, "127.0.0.1", () => {
        servers.push(server);
        if (servers.length === n) {
          console.log(servers.map((s) => s.address().port).join(" "));
          for (const s of servers) s.close();
        }
      });
    }
  ' "$1"
}

random_token() {
  head -c 32 /dev/urandom | base64 | tr -d '/+=\n' | head -c "$1"
}

# A throwaway CA and, for each process, a certificate it signed for 127.0.0.1 and localhost
# (server and client use: the nodes' also serves for mutual TLS on gRPC). Kept across up/down.
make_certificates() {
  command -v openssl >/dev/null || die "--tls needs openssl (Debian: apt-get install -y openssl)"
  mkdir -p "$TLS_DIR"
  chmod 0700 "$TLS_DIR"
  local quiet=$TLS_DIR/openssl.log name
  if [ ! -s "$TLS_DIR/ca.pem" ]; then
    (umask 077 && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 365 \
      -subj "/CN=mombroker cluster CA" -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
      -keyout "$TLS_DIR/ca.key" -out "$TLS_DIR/ca.pem" >"$quiet" 2>&1) || die "openssl could not make the CA; see $quiet"
  fi
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth,clientAuth\n' >"$TLS_DIR/leaf.ext"
  for name in $(process_names); do
    [ -s "$TLS_DIR/$name.pem" ] && continue
    (umask 077 && openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=$name" \
      -keyout "$TLS_DIR/$name.key" -out "$TLS_DIR/$name.csr" >>"$quiet" 2>&1 &&
      openssl x509 -req -in "$TLS_DIR/$name.csr" -CA "$TLS_DIR/ca.pem" -CAkey "$TLS_DIR/ca.key" -CAcreateserial \
        -days 365 -extfile "$TLS_DIR/leaf.ext" -out "$TLS_DIR/$name.pem" >>"$quiet" 2>&1) || die "openssl could not make the certificate of $name; see $quiet"
    rm -f "$TLS_DIR/$name.csr"
  done
  chmod 0644 "$TLS_DIR"/*.pem
}

# ---- starting one process ----------------------------------------------------------------

args_of() {
  local name=$1
  local common=(--node-id "$name" --data "$DATA_DIR/$name" --listen "127.0.0.1:$(http_port_of "$name")")
  local cluster=(--zookeeper "$ZOOKEEPER_CONNECT" --zk-root "$ZK_ROOT" --partitions "$PARTITIONS"
    --replication-factor "$REPLICATION_FACTOR" --min-insync-replicas "$MIN_INSYNC_REPLICAS")
  if [ "${TLS:-0}" = 1 ]; then
    common+=(--tls-cert "$TLS_DIR/$name.pem" --tls-key "$TLS_DIR/$name.key" --tls-ca "$TLS_DIR/ca.pem")
    case $name in node-*) common+=(--grpc-tls-cert "$TLS_DIR/$name.pem" --grpc-tls-key "$TLS_DIR/$name.key" --grpc-tls-ca "$TLS_DIR/ca.pem") ;; esac
  fi
  case $name in
    auth) printf '%s\n' --role auth "${common[@]}" ;;
    partitioner) printf '%s\n' --role partitioner "${common[@]}" "${cluster[@]}" ;;
    gateway) printf '%s\n' --role gateway "${common[@]}" --auth-url "$(url_of auth)" --partitioner-url "$(url_of partitioner)" --partitions "$PARTITIONS" ;;
    node-*)
      local var=NODE_${name#node-}_GRPC_PORT
      printf '%s\n' --role node,replicator "${common[@]}" --grpc "127.0.0.1:${!var}" --auth-url "$(url_of auth)" "${cluster[@]}"
      ;;
  esac
}

admin_password() {
  if [ -n "${MOM_ADMIN_PASSWORD:-}" ]; then echo "$MOM_ADMIN_PASSWORD"; else cat "$DIR/admin-password"; fi
}

start_process() {
  local name=$1 pid
  pid=$(live_pid "$name")
  [ -z "$pid" ] || die "$name already runs (pid $pid)"
  mkdir -p "$DATA_DIR/$name" "$LOG_DIR" "$PID_DIR"
  local args=()
  while IFS= read -r line; do args+=("$line"); done < <(args_of "$name")
  echo "--- $(date -u +%Y-%m-%dT%H:%M:%SZ) starting: $MOM_BIN ${args[*]}" >>"$LOG_DIR/$name.log"
  # The secret and the password go by environment, not on the command line (ps shows that).
  MOM_CLUSTER_SECRET=$CLUSTER_SECRET MOM_ADMIN_PASSWORD=$(admin_password) \
    nohup "$MOM_NODE" "$MOM_BIN" "${args[@]}" >>"$LOG_DIR/$name.log" 2>&1 </dev/null &
  pid=$!
  echo "$pid" >"$PID_DIR/$name.pid"
  # Until the forked shell has exec'd, its command line is this script's, which live_pid
  # would take for a reused pid: wait for the exec (bounded).
  if [ -r "/proc/$pid/cmdline" ]; then
    local tries=0
    while kill -0 "$pid" 2>/dev/null && ! tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF "$DATA_DIR/$name "; do
      tries=$((tries + 1))
      [ $tries -lt 100 ] || break
      sleep 0.02
    done
  fi
}

# Waits until NAME answers /health; fails early if it exits.
wait_healthy() {
  local name=$1 deadline=$2 url pid
  url=$(url_of "$name")
  until healthy "$url"; do
    pid=$(live_pid "$name")
    if [ -z "$pid" ]; then
      echo "cluster: $name exited during start; the end of $LOG_DIR/$name.log:" >&2
      tail -n 20 "$LOG_DIR/$name.log" >&2 || true
      return 1
    fi
    if [ $SECONDS -ge "$deadline" ]; then
      echo "cluster: $name did not answer $url/health within ${UP_TIMEOUT_S}s; the end of $LOG_DIR/$name.log:" >&2
      tail -n 20 "$LOG_DIR/$name.log" >&2 || true
      return 1
    fi
    sleep 0.2
  done
}

# The partitioner's map, as "partition leader epoch isr" lines; fails if not reachable.
partition_lines() {
  local body
  body=$(curl_cluster -fsS --max-time 3 "$(url_of partitioner)/partitions" 2>/dev/null) || return 1
  printf '%s' "$body" | "$MOM_NODE" -e '
    let text = "";
    process.stdin.on("data", (c) => (text += c)).on("end", () => {
      const map = JSON.parse(text);
      for (const p of map.partitions ?? []) {
        console.log([p.partition, p.leader ?? "-", p.leader_epoch ?? "-", (p.isr ?? []).join(",") || "-"].join(" "));
      }
    });
  '
}

every_partition_led() {
  local lines count leaderless
  lines=$(partition_lines) || return 1
  count=$(printf '%s\n' "$lines" | grep -c . || true)
  leaderless=$(printf '%s\n' "$lines" | awk '$2 == "-"' | grep -c . || true)
  [ "$count" = "$PARTITIONS" ] && [ "$leaderless" = 0 ]
}

# ---- commands ----------------------------------------------------------------------------

cmd_up() {
  local nodes='' partitions='' rf='' bundle=0 tls=0
  while [ $# -gt 0 ]; do
    case $1 in
      --nodes) [ $# -ge 2 ] || die "--nodes needs N"; nodes=$2; shift 2 ;;
      --partitions) [ $# -ge 2 ] || die "--partitions needs P"; partitions=$2; shift 2 ;;
      --replication-factor) [ $# -ge 2 ] || die "--replication-factor needs R"; rf=$2; shift 2 ;;
      --bundle) bundle=1; shift ;;
      --tls) tls=1; shift ;;
      -h | --help) usage; exit 0 ;;
      *) die "up: unknown argument \"$1\" (see --help)" ;;
    esac
  done
  for pair in "nodes:$nodes" "partitions:$partitions" "replication-factor:$rf"; do
    case ${pair#*:} in '' | [1-9] | [1-9][0-9] | [1-9][0-9][0-9] | [1-9][0-9][0-9][0-9]) ;; *) die "--${pair%%:*}: expected a positive integer, got \"${pair#*:}\"" ;; esac
  done

  mkdir -p "$DIR"
  if [ -f "$ENV_FILE" ]; then
    load_env
    local name pid
    for name in zookeeper $(process_names); do
      pid=$(live_pid "$name")
      [ -z "$pid" ] || die "a cluster already runs in $DIR ($name, pid $pid); see $0 status, or $0 down"
    done
    [ -z "$nodes" ] || [ "$nodes" = "$NODES" ] || die "the cluster in $DIR has $NODES nodes; remove $DIR for a new cluster with $nodes"
    [ -z "$partitions" ] || [ "$partitions" = "$PARTITIONS" ] || die "the cluster in $DIR has $PARTITIONS partitions; remove $DIR for a new cluster with $partitions"
    [ -z "$rf" ] || [ "$rf" = "$REPLICATION_FACTOR" ] || die "the cluster in $DIR has replication factor $REPLICATION_FACTOR; remove $DIR for a new cluster"
    [ $tls = 0 ] || [ "${TLS:-0}" = 1 ] || die "the cluster in $DIR runs without TLS; remove $DIR for a new cluster with --tls"
    echo "restarting the cluster in $DIR (same ports, secret and data)"
  else
    NODES=${nodes:-3}
    PARTITIONS=${partitions:-16}
    REPLICATION_FACTOR=${rf:-$((NODES < 3 ? NODES : 3))}
    [ "$REPLICATION_FACTOR" -le "$NODES" ] || die "--replication-factor $REPLICATION_FACTOR needs at least that many nodes (--nodes $NODES)"
    MIN_INSYNC_REPLICAS=$((REPLICATION_FACTOR < 2 ? REPLICATION_FACTOR : 2))
    MOM_NODE=${MOM_NODE:-$(command -v node || true)}
    [ -n "$MOM_NODE" ] || die "node not found on PATH; set MOM_NODE"
    if [ -n "${MOM_BIN:-}" ]; then
      :
    elif [ $bundle = 1 ]; then
      MOM_BIN=$repo/dist/mombroker.cjs
    else
      MOM_BIN=$repo/bin/mombroker
    fi
    case $MOM_BIN in /*) ;; *) MOM_BIN=$(pwd)/$MOM_BIN ;; esac
    [ -f "$MOM_BIN" ] || die "MOM_BIN $MOM_BIN not found (npm run build, or npm run bundle for --bundle)"

    local ports
    read -r -a ports <<<"$(free_ports $((NODES * 2 + 4)))"
    ZK_PORT=${ports[0]}
    AUTH_PORT=${ports[1]}
    PARTITIONER_PORT=${ports[2]}
    GATEWAY_PORT=${ports[3]}
    if [ -n "${ZOOKEEPER:-}" ]; then
      ZOOKEEPER_CONNECT=$ZOOKEEPER
      ZK_STARTED=0
      ZK_ROOT=${MOM_ZK_ROOT:-/mom-cluster-$(random_token 12)}
    else
      ZOOKEEPER_CONNECT=127.0.0.1:$ZK_PORT
      ZK_STARTED=1
      ZK_ROOT=${MOM_ZK_ROOT:-/mom}
    fi
    CLUSTER_SECRET=$(random_token 32)
    TLS=$tls
    local http=http
    [ "$TLS" = 0 ] || http=https
    umask 077
    {
      echo "# Written by scripts/cluster.sh up on $(date -u +%Y-%m-%dT%H:%M:%SZ); sourced by the other commands."
      echo "NODES=$NODES"
      echo "PARTITIONS=$PARTITIONS"
      echo "REPLICATION_FACTOR=$REPLICATION_FACTOR"
      echo "MIN_INSYNC_REPLICAS=$MIN_INSYNC_REPLICAS"
      printf 'MOM_NODE=%q\n' "$MOM_NODE"
      printf 'MOM_BIN=%q\n' "$MOM_BIN"
      echo "ZOOKEEPER_CONNECT=$ZOOKEEPER_CONNECT"
      echo "ZK_STARTED=$ZK_STARTED"
      echo "ZK_PORT=$ZK_PORT"
      echo "ZK_ROOT=$ZK_ROOT"
      echo "CLUSTER_SECRET=$CLUSTER_SECRET"
      echo "TLS=$TLS"
      echo "AUTH_PORT=$AUTH_PORT"
      echo "AUTH_URL=$http://127.0.0.1:$AUTH_PORT"
      echo "PARTITIONER_PORT=$PARTITIONER_PORT"
      echo "PARTITIONER_URL=$http://127.0.0.1:$PARTITIONER_PORT"
      echo "GATEWAY_PORT=$GATEWAY_PORT"
      echo "GATEWAY_URL=$http://127.0.0.1:$GATEWAY_PORT"
      local i
      for ((i = 1; i <= NODES; i++)); do
        echo "NODE_${i}_HTTP_PORT=${ports[$((2 + 2 * i))]}"
        echo "NODE_${i}_GRPC_PORT=${ports[$((3 + 2 * i))]}"
      done
    } >"$ENV_FILE"
    chmod 0600 "$ENV_FILE"
    if [ -z "${MOM_ADMIN_PASSWORD:-}" ]; then
      random_token 24 >"$DIR/admin-password"
      chmod 0600 "$DIR/admin-password"
    fi
    umask 022
    load_env
  fi
  if [ -z "${MOM_ADMIN_PASSWORD:-}" ] && [ ! -s "$DIR/admin-password" ]; then
    random_token 24 >"$DIR/admin-password"
    chmod 0600 "$DIR/admin-password"
  fi
  mkdir -p "$PID_DIR" "$LOG_DIR" "$DATA_DIR"
  [ "${TLS:-0}" = 0 ] || make_certificates

  local deadline=$((SECONDS + UP_TIMEOUT_S))
  if ! up_processes "$deadline"; then
    echo "cluster: up failed; stopping what was started (logs stay in $LOG_DIR)" >&2
    cmd_down >&2 || true
    exit 1
  fi

  echo "cluster up in $DIR: $NODES node(s), $PARTITIONS partitions, replication factor $REPLICATION_FACTOR"
  echo "gateway: $GATEWAY_URL"
  echo "partitioner: $PARTITIONER_URL"
  echo "auth: $AUTH_URL"
  local i
  for ((i = 1; i <= NODES; i++)); do echo "node-$i: $(url_of "node-$i")"; done
  if [ "$ZK_STARTED" = 1 ]; then echo "zookeeper: $ZOOKEEPER_CONNECT (started here, root $ZK_ROOT)"; else echo "zookeeper: $ZOOKEEPER_CONNECT (external, root $ZK_ROOT)"; fi
  if [ -n "${MOM_ADMIN_PASSWORD:-}" ]; then echo "admin: user admin, password from MOM_ADMIN_PASSWORD"; else echo "admin: user admin, password in $DIR/admin-password"; fi
  echo "logs: $LOG_DIR/"
  echo "pids: $PID_DIR/"
  echo "settings: $ENV_FILE"
  [ "${TLS:-0}" = 0 ] || echo "tls: $TLS_DIR/ (CA ca.pem; HTTPS everywhere, mutual TLS between nodes)"
  # Ready to paste (or eval): the CLI and SDK examples then talk to this cluster's gateway as admin.
  if [ -n "${MOM_ADMIN_PASSWORD:-}" ]; then
    echo "export MOM_URL=$GATEWAY_URL MOM_USER=admin MOM_PASSWORD=\"\$MOM_ADMIN_PASSWORD\""
  else
    printf 'export MOM_URL=%s MOM_USER=admin MOM_PASSWORD="$(cat %q)"\n' "$GATEWAY_URL" "$DIR/admin-password"
  fi
  [ "${TLS:-0}" = 0 ] || echo "export MOM_CA=$TLS_DIR/ca.pem"
}

up_processes() {
  local deadline=$1 name
  if [ "$ZK_STARTED" = 1 ]; then
    ZOOKEEPER_START_TIMEOUT_S=$UP_TIMEOUT_S "$here/zookeeper.sh" start "$ZK_DIR" "$ZK_PORT" >/dev/null || return 1
    cp "$ZK_DIR/zookeeper.pid" "$PID_DIR/zookeeper.pid"
  fi
  start_process auth
  wait_healthy auth "$deadline" || return 1
  for name in $(process_names); do
    case $name in node-*) start_process "$name" ;; esac
  done
  for name in $(process_names); do
    case $name in node-*) wait_healthy "$name" "$deadline" || return 1 ;; esac
  done
  start_process partitioner
  wait_healthy partitioner "$deadline" || return 1
  start_process gateway
  wait_healthy gateway "$deadline" || return 1
  until every_partition_led; do
    if [ $SECONDS -ge "$deadline" ]; then
      echo "cluster: not every partition had a leader within ${UP_TIMEOUT_S}s; the map:" >&2
      partition_lines >&2 || echo "(the partitioner did not answer)" >&2
      tail -n 20 "$LOG_DIR/partitioner.log" >&2 || true
      return 1
    fi
    for name in $(process_names); do
      [ -n "$(live_pid "$name")" ] || {
        echo "cluster: $name exited; the end of $LOG_DIR/$name.log:" >&2
        tail -n 20 "$LOG_DIR/$name.log" >&2 || true
        return 1
      }
    done
    sleep 0.2
  done
}

# SIGTERM, wait, then SIGKILL; by pid only.
stop_pid() {
  local name=$1 pid=$2
  kill -TERM "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + STOP_TIMEOUT_S))
  while kill -0 "$pid" 2>/dev/null; do
    if [ $SECONDS -ge $deadline ]; then
      echo "cluster: $name (pid $pid) did not stop within ${STOP_TIMEOUT_S}s; SIGKILL" >&2
      kill -KILL "$pid" 2>/dev/null || true
      break
    fi
    sleep 0.1
  done
}

cmd_down() {
  load_env
  local names=() name pid
  # Reverse start order: clients of a process go before it.
  names=(gateway partitioner)
  local i
  for ((i = NODES; i >= 1; i--)); do names+=("node-$i"); done
  names+=(auth)
  local pids=()
  for name in "${names[@]}"; do
    pid=$(live_pid "$name")
    if [ -n "$pid" ]; then
      kill -TERM "$pid" 2>/dev/null || true
      pids+=("$name:$pid")
    fi
  done
  # All got SIGTERM at once (each exits within 10 s on its own); now wait for each.
  local entry
  for entry in "${pids[@]}"; do
    stop_pid "${entry%%:*}" "${entry#*:}"
    echo "stopped ${entry%%:*} (pid ${entry#*:})"
  done
  for name in "${names[@]}"; do rm -f "$PID_DIR/$name.pid"; done
  if [ "$ZK_STARTED" = 1 ]; then
    "$here/zookeeper.sh" stop "$ZK_DIR" | sed 's/^zookeeper: /zookeeper: /'
    rm -f "$PID_DIR/zookeeper.pid"
  fi
  echo "cluster down ($DIR; data and logs kept)"
}

cmd_status() {
  load_env
  local all_alive=1 name pid state address
  echo "cluster: $DIR ($NODES node(s), $PARTITIONS partitions, replication factor $REPLICATION_FACTOR)"
  printf '%-12s %-12s %-8s %-6s %s\n' NAME ROLE PID STATE ADDRESS
  if [ "$ZK_STARTED" = 1 ]; then
    pid=$(live_pid zookeeper)
    if [ -n "$pid" ]; then state=alive; else state=dead; all_alive=0; pid=$(cat "$PID_DIR/zookeeper.pid" 2>/dev/null || echo -); fi
    printf '%-12s %-12s %-8s %-6s %s\n' zookeeper zookeeper "$pid" "$state" "$ZOOKEEPER_CONNECT"
  else
    printf '%-12s %-12s %-8s %-6s %s\n' zookeeper external - - "$ZOOKEEPER_CONNECT"
  fi
  for name in $(process_names); do
    local role=$name
    case $name in node-*) role=node ;; esac
    address=$(url_of "$name")
    case $name in node-*) local var=NODE_${name#node-}_GRPC_PORT; address="$address grpc 127.0.0.1:${!var}" ;; esac
    pid=$(live_pid "$name")
    if [ -n "$pid" ]; then
      state=alive
      healthy "$(url_of "$name")" || state=sick
    else
      state=dead
      pid=$(cat "$PID_DIR/$name.pid" 2>/dev/null || echo -)
    fi
    [ "$state" = alive ] || all_alive=0
    printf '%-12s %-12s %-8s %-6s %s\n' "$name" "$role" "$pid" "$state" "$address"
  done
  echo
  echo "partitions (from $PARTITIONER_URL/partitions):"
  local lines
  if lines=$(partition_lines); then
    printf '%-10s %-12s %-6s %s\n' PARTITION LEADER EPOCH ISR
    printf '%s\n' "$lines" | while read -r p leader epoch isr; do
      printf '%-10s %-12s %-6s %s\n' "$p" "$leader" "$epoch" "$isr"
    done
  else
    echo "(the partitioner does not answer)"
    all_alive=0
  fi
  [ $all_alive = 1 ]
}

cmd_kill() {
  [ $# -eq 1 ] || die "usage: $0 kill NAME (node-1..node-N, auth, partitioner, gateway)"
  load_env
  local name=$1 pid
  is_process_name "$name" || die "kill: no process \"$name\" in this cluster; names: $(process_names | tr '\n' ' ')"
  pid=$(live_pid "$name")
  [ -n "$pid" ] || die "kill: $name is not running"
  kill -KILL "$pid"
  while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
  echo "killed $name (pid $pid, SIGKILL)"
}

cmd_start() {
  [ $# -eq 1 ] || die "usage: $0 start NAME (node-1..node-N, auth, partitioner, gateway)"
  load_env
  local name=$1
  is_process_name "$name" || die "start: no process \"$name\" in this cluster; names: $(process_names | tr '\n' ' ')"
  start_process "$name"
  wait_healthy "$name" $((SECONDS + UP_TIMEOUT_S)) || exit 1
  echo "started $name: $(url_of "$name") (pid $(cat "$PID_DIR/$name.pid"))"
}

[ $# -ge 1 ] || {
  usage >&2
  exit 2
}
command=$1
shift
case $command in
  up) cmd_up "$@" ;;
  down) [ $# -eq 0 ] || die "down takes no arguments"; cmd_down ;;
  status) [ $# -eq 0 ] || die "status takes no arguments"; cmd_status ;;
  kill) cmd_kill "$@" ;;
  start) cmd_start "$@" ;;
  -h | --help | help) usage ;;
  *) die "unknown command \"$command\" (see --help)" ;;
esac
