#!/usr/bin/env bash
# Installs the system packages the tests use for real, when missing: ZooKeeper (cluster
# tests; Java comes with it), protoc (the check that the generated replication code is
# reproducible), Chromium (the web page's browser test, driven by playwright-core), and
# iproute2 and iptables (the fault suite, chaos/: network namespaces, veth pairs, tc and
# packet filters), and openssl (throwaway certificates for the TLS tests and `cluster.sh up
# --tls`). Debian/Ubuntu, as root; otherwise it says what to install and fails.
set -euo pipefail

missing=()
dpkg -s zookeeper >/dev/null 2>&1 || missing+=(zookeeper)
command -v java >/dev/null 2>&1 || missing+=(default-jre-headless)
command -v protoc >/dev/null 2>&1 || missing+=(protobuf-compiler)
command -v ip >/dev/null 2>&1 && command -v tc >/dev/null 2>&1 || missing+=(iproute2)
command -v iptables >/dev/null 2>&1 || missing+=(iptables)
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
[ "${#missing[@]}" -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "install-deps: missing ${missing[*]}: install them (Debian: sudo apt-get install -y ${missing[*]})" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${missing[@]}" >/dev/null
echo "install-deps: installed ${missing[*]}" >&2
