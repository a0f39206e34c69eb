#!/usr/bin/env bash
# Installs one mombroker role as a systemd service (DESIGN §9), as MOM-py's config/*.sh did.
# Run with --help for everything it does.
set -euo pipefail

ROLES="node replicator auth partitioner gateway all"
DEFAULT_UNIT_DIR=/etc/systemd/system
DEFAULT_USER=mombroker
LIMIT_NOFILE=65536

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)

usage() {
  cat <<EOF
usage: $0 ROLE --config FILE [--unit-dir DIR] [--user USER] [--bin PATH] [--node PATH] [--no-enable]

Writes the systemd unit mombroker-ROLE.service that runs

    NODE BIN --role ROLE --config FILE

and, unless --no-enable or --unit-dir is given, creates the service user and the data
directory and runs \`systemctl daemon-reload && systemctl enable --now mombroker-ROLE\`.

ROLE          node | auth | partitioner | gateway | all, or a comma-separated combination of
              node, replicator, auth, partitioner, gateway (replicator needs node). \`node\`
              alone installs a broker node as it runs in a cluster, node,replicator: the
              unit's --role wins over the config's "roles", and a node without its
              replicator could not be followed. Commas become dashes in the unit name:
              mombroker-node-replicator.service.
--config FILE the JSON config (see config.example.json); required. Its "data" key must be an
              absolute directory: it becomes the only writable path of the service
              (ReadWritePaths=). The file must be readable by USER; keep it mode 0640
              root:USER when it holds clusterSecret.
--unit-dir DIR write the unit into DIR and stop there (render only: no user, no data dir, no
              systemctl). Default $DEFAULT_UNIT_DIR, which needs root.
--user USER   the dedicated system user the service runs as (default $DEFAULT_USER); created
              with useradd --system when installing and missing.
--bin PATH    what to run: the bundle (dist/mombroker.cjs, see npm run bundle) or
              bin/mombroker. Default: $repo/dist/mombroker.cjs if it exists, else
              $repo/bin/mombroker.
--node PATH   the node executable (default: node on PATH, resolved to an absolute path).
--no-enable   install (unit, user, data dir) but run no systemctl; with --unit-dir,
              nothing but the unit file is written either way.
-h, --help    this text.

The unit: Restart=on-failure, User=/Group=USER, LimitNOFILE=$LIMIT_NOFILE, KillSignal=SIGTERM
(mombroker exits cleanly within 10 s), TimeoutStopSec=15, and hardening: NoNewPrivileges,
ProtectSystem=strict with ReadWritePaths= the data dir, ProtectHome=read-only, PrivateTmp,
PrivateDevices, no capabilities (so listen on ports >= 1024), UMask=0077.
Secrets can also come from the optional EnvironmentFile /etc/mombroker/mombroker-ROLE.env
(e.g. MOM_CLUSTER_SECRET=..., MOM_ADMIN_PASSWORD=...), which overrides the config file.
Logs go to the journal: journalctl -u mombroker-ROLE.
EOF
}

die() {
  echo "install-systemd: $*" >&2
  exit 1
}

# ---- arguments ---------------------------------------------------------------------------

role=''
config=''
unit_dir=''
user=$DEFAULT_USER
bin=''
node=''
enable=1
while [ $# -gt 0 ]; do
  case $1 in
    -h | --help) usage; exit 0 ;;
    --config) [ $# -ge 2 ] || die "--config needs a FILE"; config=$2; shift 2 ;;
    --unit-dir) [ $# -ge 2 ] || die "--unit-dir needs a DIR"; unit_dir=$2; shift 2 ;;
    --user) [ $# -ge 2 ] || die "--user needs a USER"; user=$2; shift 2 ;;
    --bin) [ $# -ge 2 ] || die "--bin needs a PATH"; bin=$2; shift 2 ;;
    --node) [ $# -ge 2 ] || die "--node needs a PATH"; node=$2; shift 2 ;;
    --no-enable) enable=0; shift ;;
    --config=* | --unit-dir=* | --user=* | --bin=* | --node=*)
      key=${1%%=*}
      set -- "$key" "${1#*=}" "${@:2}"
      ;;
    -*) die "unknown option $1 (see --help)" ;;
    *)
      [ -z "$role" ] || die "one ROLE only, got \"$role\" and \"$1\" (combine roles with commas: node,replicator)"
      role=$1
      shift
      ;;
  esac
done

[ -n "$role" ] || { usage >&2; die "ROLE is required (one of: node auth partitioner gateway all)"; }
# A broker node replicates (DESIGN §1: --role node,replicator). The unit's --role overrides the
# config's "roles" (flags win), so a bare `node` would run without its replicator.
if [ "$role" = node ]; then
  role=node,replicator
  echo "role node: installing node,replicator (a broker node and its replicator, as in a cluster)"
fi
[ -n "$config" ] || die "--config FILE is required"

# ---- validation --------------------------------------------------------------------------

has_node=0
has_replicator=0
IFS=',' read -r -a role_list <<<"$role"
[ ${#role_list[@]} -gt 0 ] || die "ROLE is empty"
for r in "${role_list[@]}"; do
  case " $ROLES " in
    *" $r "*) ;;
    *) die "unknown role \"$r\" in \"$role\"; roles are: ${ROLES// /, }" ;;
  esac
  [ "$r" != node ] || has_node=1
  [ "$r" != replicator ] || has_replicator=1
done
if [ ${#role_list[@]} -gt 1 ] && [[ ",$role," == *",all,"* ]]; then
  die "role all already runs every role; do not combine it with others"
fi
if [ $has_replicator = 1 ] && [ $has_node = 0 ]; then
  die "role replicator needs node in the same process (use node,replicator)"
fi

case $user in
  '' | *[!a-z0-9_-]* | [0-9-]*) die "--user: expected a system user name like mombroker, got \"$user\"" ;;
esac

# systemd splits on whitespace and expands % and $: only plain paths go into the unit.
check_path() {
  local what=$1 path=$2
  case $path in
    /*) ;;
    *) die "$what: expected an absolute path, got \"$path\"" ;;
  esac
  case $path in
    *[!A-Za-z0-9_./@+,:=~-]*) die "$what: \"$path\" has characters a unit file cannot hold plainly (whitespace, %, \$, quotes); use a plain path" ;;
  esac
}

abs_path() {
  case $1 in
    /*) printf '%s\n' "$1" ;;
    *) printf '%s/%s\n' "$(pwd)" "${1#./}" ;;
  esac
}

[ -f "$config" ] || die "--config: no such file \"$config\""
config=$(cd "$(dirname "$config")" && pwd)/$(basename "$config")
check_path --config "$config"

if [ -z "$node" ]; then
  node=$(command -v node 2>/dev/null) || die "node not found on PATH; pass --node PATH"
fi
node=$(abs_path "$node")
[ -x "$node" ] || die "--node: \"$node\" is not executable"
check_path --node "$node"

if [ -z "$bin" ]; then
  if [ -f "$repo/dist/mombroker.cjs" ]; then bin=$repo/dist/mombroker.cjs; else bin=$repo/bin/mombroker; fi
fi
bin=$(abs_path "$bin")
[ -f "$bin" ] || die "--bin: no such file \"$bin\" (run npm run build, or npm run bundle for dist/mombroker.cjs)"
check_path --bin "$bin"
if [ "$(basename "$bin")" = mombroker.cjs ] && [ ! -f "$(dirname "$bin")/better_sqlite3.node" ]; then
  die "--bin: the bundle needs better_sqlite3.node beside it in $(dirname "$bin") (npm run bundle writes both)"
fi

# The data directory from the config (node reads the JSON; it runs mombroker anyway).
data=$("$node" -e '
  const file = process.argv[1];
  let parsed;
  try { parsed = JSON.parse(require("fs").readFileSync(file, "utf8")); }
  catch (error) { console.error(`${file}: ${error.message}`); process.exit(1); }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) { console.error(`${file}: must hold a JSON object`); process.exit(1); }
  if (parsed.data === undefined) process.exit(0);
  if (typeof parsed.data !== "string") { console.error(`${file}: data must be a string`); process.exit(1); }
  process.stdout.write(parsed.data);
' "$config") || die "--config: cannot read the data directory from $config"
[ -n "$data" ] || die "--config: $config has no \"data\" key; set it to an absolute directory such as /var/lib/mombroker"
case $data in
  /*) ;;
  *) die "--config: data is \"$data\" in $config; a service needs an absolute directory such as /var/lib/mombroker" ;;
esac
data=${data%/}
check_path "data (in $config)" "$data"

render_only=0
[ -z "$unit_dir" ] || render_only=1
unit_dir=${unit_dir:-$DEFAULT_UNIT_DIR}
unit_name=mombroker-${role//,/-}
unit_file=$unit_dir/$unit_name.service

# ---- the unit ----------------------------------------------------------------------------

render() {
  cat <<EOF
# Written by mombroker scripts/install-systemd.sh; re-run it to change this unit.
[Unit]
Description=mombroker ${role} (message broker)
Documentation=file://$repo/config.example.json
After=network-online.target
Wants=network-online.target
StartLimitIntervalSec=60
StartLimitBurst=10

[Service]
Type=simple
User=$user
Group=$user
ExecStart=$node $bin --role $role --config $config
EnvironmentFile=-/etc/mombroker/$unit_name.env
Restart=on-failure
RestartSec=2
KillSignal=SIGTERM
KillMode=mixed
TimeoutStopSec=15
LimitNOFILE=$LIMIT_NOFILE
SyslogIdentifier=$unit_name
UMask=0077

# Hardening: the data directory is the only writable path.
NoNewPrivileges=true
ProtectSystem=strict
ReadWritePaths=$data
ProtectHome=read-only
PrivateTmp=true
PrivateDevices=true
ProtectKernelTunables=true
ProtectKernelModules=true
ProtectKernelLogs=true
ProtectControlGroups=true
ProtectClock=true
ProtectHostname=true
RestrictSUIDSGID=true
RestrictRealtime=true
RestrictNamespaces=true
LockPersonality=true
RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX
CapabilityBoundingSet=
AmbientCapabilities=
SystemCallArchitectures=native

[Install]
WantedBy=multi-user.target
EOF
}

if [ $render_only = 0 ] && [ "$(id -u)" != 0 ]; then
  die "installing into $unit_dir needs root (or pass --unit-dir DIR to only write the unit)"
fi
mkdir -p "$unit_dir"
tmp=$(mktemp "$unit_dir/.$unit_name.service.XXXXXX")
trap 'rm -f "$tmp"' EXIT
render >"$tmp"
chmod 0644 "$tmp"
mv -f "$tmp" "$unit_file"
trap - EXIT
echo "wrote $unit_file"

if [ $render_only = 1 ]; then
  echo "render only (--unit-dir): no user, data directory or systemctl changes"
  exit 0
fi

# ---- installing: the user, the data directory, systemd -------------------------------------

if ! id -u "$user" >/dev/null 2>&1; then
  command -v useradd >/dev/null 2>&1 || die "user $user does not exist and useradd is missing; create it first"
  useradd --system --user-group --no-create-home --home-dir "$data" --shell /usr/sbin/nologin "$user"
  echo "created system user $user"
fi
mkdir -p "$data"
chown "$user:$user" "$data"
chmod 0750 "$data"
echo "data directory $data (owner $user)"

if [ $enable = 0 ]; then
  echo "not enabled (--no-enable); to start it: systemctl daemon-reload && systemctl enable --now $unit_name"
  exit 0
fi
command -v systemctl >/dev/null 2>&1 || die "systemctl not found; the unit is written, enable it by hand"
systemctl daemon-reload
systemctl enable --now "$unit_name"
echo "enabled and started $unit_name: systemctl status $unit_name; journalctl -u $unit_name"
