#!/usr/bin/env bash
# A local standalone ZooKeeper for development clusters (DESIGN §9; scripts/cluster.sh uses it).
#
#   scripts/zookeeper.sh start  DIR [PORT]   start on 127.0.0.1:PORT (default 2181), data in DIR/data
#   scripts/zookeeper.sh stop   DIR          stop the one started in DIR (by its pid file)
#   scripts/zookeeper.sh status DIR          exit 0 and print where it listens if running, 3 if not
#
# ZooKeeper comes from the operating system's package (Debian: `zookeeper`, jars under
# /usr/share/java) or from an Apache tarball in ZOOKEEPER_HOME. If neither is there and we run
# as root with apt-get, the Debian package is installed. Java runs directly (no zkServer.sh),
# with DIR/zoo.cfg, logs in DIR/zookeeper.log and the pid in DIR/zookeeper.pid. The process is
# only ever signalled by that pid, after checking it still runs our zoo.cfg.
set -euo pipefail

NOT_FOUND='ZooKeeper not found: install it with `apt-get install -y zookeeper` (Debian) or set ZOOKEEPER_HOME'
START_TIMEOUT_S=${ZOOKEEPER_START_TIMEOUT_S:-30}
STOP_TIMEOUT_S=10
TICK_TIME_MS=${ZOOKEEPER_TICK_TIME_MS:-500}

usage() {
  echo "usage: $0 start|stop|status DIR [PORT]" >&2
  exit 2
}

die() {
  echo "zookeeper: $*" >&2
  exit 1
}

[ $# -ge 2 ] || usage
cmd=$1
dir=$2
port=${3:-2181}
case $port in '' | *[!0-9]*) die "PORT must be a number, got \"$port\"" ;; esac
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
pid_file=$dir/zookeeper.pid
cfg=$dir/zoo.cfg
log=$dir/zookeeper.log

# The pid from the pid file if that process is alive and runs our zoo.cfg; empty otherwise.
running_pid() {
  [ -f "$pid_file" ] || return 0
  local pid
  pid=$(cat "$pid_file" 2>/dev/null || true)
  case $pid in '' | *[!0-9]*) return 0 ;; esac
  kill -0 "$pid" 2>/dev/null || return 0
  if [ -r "/proc/$pid/cmdline" ] && ! tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF "$cfg"; then
    return 0 # the pid was reused by another process
  fi
  echo "$pid"
}

configured_port() {
  sed -n 's/^clientPort=//p' "$cfg" 2>/dev/null | head -n1
}

# Asks the server for `srvr` (allowed in zoo.cfg); succeeds once it serves requests.
answers() {
  local p=$1 reply
  reply=$(
    exec 2>/dev/null
    exec 3<>"/dev/tcp/127.0.0.1/$p" || exit 1
    printf 'srvr' >&3
    timeout 2 cat <&3 || true
  ) || return 1
  case $reply in *'Zookeeper version'*) return 0 ;; *) return 1 ;; esac
}

find_java() {
  if [ -n "${JAVA_HOME:-}" ] && [ -x "$JAVA_HOME/bin/java" ]; then
    echo "$JAVA_HOME/bin/java"
  elif command -v java >/dev/null 2>&1; then
    command -v java
  else
    return 1
  fi
}

# Sets CLASSPATH_ZK and JVM_LOG_ARGS, or fails.
find_zookeeper() {
  JVM_LOG_ARGS=()
  if [ -n "${ZOOKEEPER_HOME:-}" ]; then
    local jars
    jars=$(ls "$ZOOKEEPER_HOME"/lib/*.jar "$ZOOKEEPER_HOME"/*.jar 2>/dev/null | tr '\n' ':' || true)
    case $jars in *zookeeper*) ;; *) die "$NOT_FOUND (ZOOKEEPER_HOME=$ZOOKEEPER_HOME holds no zookeeper jar)" ;; esac
    CLASSPATH_ZK="$ZOOKEEPER_HOME/conf:${jars%:}"
    return 0
  fi
  if [ -f /usr/share/java/zookeeper.jar ]; then
    # Debian: zookeeper.jar's manifest names its dependencies; slf4j-simple makes it log.
    CLASSPATH_ZK=/usr/share/java/zookeeper.jar
    if [ -f /usr/share/java/slf4j-simple.jar ]; then
      CLASSPATH_ZK="$CLASSPATH_ZK:/usr/share/java/slf4j-simple.jar"
      JVM_LOG_ARGS=(-Dorg.slf4j.simpleLogger.defaultLogLevel=info -Dorg.slf4j.simpleLogger.showDateTime=true)
    fi
    return 0
  fi
  return 1
}

install_if_missing() {
  if find_zookeeper; then return 0; fi
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "zookeeper: not installed; installing the Debian package (apt-get install -y zookeeper)" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y zookeeper >&2 || { apt-get update >&2 && apt-get install -y zookeeper >&2; } || die "apt-get install zookeeper failed"
    find_zookeeper || die "$NOT_FOUND"
  else
    die "$NOT_FOUND"
  fi
}

start() {
  local pid
  pid=$(running_pid)
  if [ -n "$pid" ]; then
    local current
    current=$(configured_port)
    [ "$current" = "$port" ] || die "already running in $dir on port $current (pid $pid); stop it first to use port $port"
    echo "zookeeper: 127.0.0.1:$port (already running, pid $pid)"
    return 0
  fi
  if answers "$port"; then die "something already answers on 127.0.0.1:$port (another ZooKeeper?)"; fi
  install_if_missing
  local java
  java=$(find_java) || die "$NOT_FOUND (no java on PATH or in JAVA_HOME)"

  mkdir -p "$dir/data"
  cat >"$cfg" <<EOF
# Written by scripts/zookeeper.sh: a standalone server for a local mombroker cluster.
tickTime=$TICK_TIME_MS
dataDir=$dir/data
clientPort=$port
clientPortAddress=127.0.0.1
maxSessionTimeout=60000
maxClientCnxns=0
admin.enableServer=false
4lw.commands.whitelist=srvr
autopurge.snapRetainCount=3
autopurge.purgeInterval=1
EOF

  nohup "$java" -Xms32m -Xmx256m -XX:+UseSerialGC -Djava.net.preferIPv4Stack=true \
    -Dzookeeper.jmx.log4j.disable=true "-Dzookeeper.log.dir=$dir" "${JVM_LOG_ARGS[@]}" \
    -cp "$CLASSPATH_ZK" org.apache.zookeeper.server.ZooKeeperServerMain "$cfg" \
    >>"$log" 2>&1 </dev/null &
  pid=$!
  echo "$pid" >"$pid_file"

  local deadline=$((SECONDS + START_TIMEOUT_S))
  until answers "$port"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      rm -f "$pid_file"
      tail -n 30 "$log" >&2 || true
      die "exited during start (log: $log)"
    fi
    if [ $SECONDS -ge $deadline ]; then
      kill -TERM "$pid" 2>/dev/null || true
      rm -f "$pid_file"
      tail -n 30 "$log" >&2 || true
      die "did not answer on 127.0.0.1:$port within ${START_TIMEOUT_S}s (log: $log)"
    fi
    sleep 0.2
  done
  echo "zookeeper: 127.0.0.1:$port (pid $pid)"
}

stop() {
  local pid
  pid=$(running_pid)
  if [ -z "$pid" ]; then
    rm -f "$pid_file"
    echo "zookeeper: not running"
    return 0
  fi
  kill -TERM "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + STOP_TIMEOUT_S))
  while kill -0 "$pid" 2>/dev/null; do
    if [ $SECONDS -ge $deadline ]; then
      kill -KILL "$pid" 2>/dev/null || true
      break
    fi
    sleep 0.1
  done
  rm -f "$pid_file"
  echo "zookeeper: stopped (pid $pid)"
}

status() {
  local pid
  pid=$(running_pid)
  if [ -z "$pid" ]; then
    echo "zookeeper: not running"
    exit 3
  fi
  local p
  p=$(configured_port)
  if answers "$p"; then
    echo "zookeeper: 127.0.0.1:$p (pid $pid)"
  else
    echo "zookeeper: pid $pid is running but 127.0.0.1:$p does not answer"
    exit 1
  fi
}

case $cmd in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) usage ;;
esac
