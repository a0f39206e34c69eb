#!/usr/bin/env bash
# Installs the brokers `npm run bench -- --peers` measures mombroker against, when missing:
# Debian's rabbitmq-server (with Erlang) and nats-server. For the benchmark only: tests never
# need them and .ci/run never calls this. Debian/Ubuntu, as root; otherwise it says what to
# install and fails.
#
# The packages' services are not started: while installing, a policy-rc.d answers 101
# ("action forbidden") to every service start, unless the system already has its own
# policy-rc.d, which is then left alone. The benchmark starts its own servers on loopback,
# on its own ports and temp dirs, and stops exactly those.
set -euo pipefail

missing=()
dpkg -s rabbitmq-server >/dev/null 2>&1 || missing+=(rabbitmq-server)
dpkg -s nats-server >/dev/null 2>&1 || missing+=(nats-server)
[ "${#missing[@]}" -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "install-bench-peers: missing ${missing[*]}: install them (Debian: sudo apt-get install -y ${missing[*]}), then stop and disable the services they start" >&2
  exit 1
fi

policy=/usr/sbin/policy-rc.d
ours=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\n# installed by mombroker scripts/install-bench-peers.sh for the time of one apt-get install\nexit 101\n' >"$policy"
  chmod 0755 "$policy"
  ours=1
fi
cleanup() {
  if [ "$ours" -eq 1 ]; then rm -f "$policy"; fi
}
trap cleanup EXIT

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-bench-peers: installed ${missing[*]} (their services were not started)" >&2
