# shellcheck shell=bash
# Helpers shared by bin/setup and bin/stack. Sourced, never executed; callers set -euo pipefail
# and may set LOG_PREFIX before sourcing.

# Resolve from this file's location (not $PWD) so every script works from any directory.
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"

# Everything generated on this machine (jars, data, logs, passwords, tool venvs) lives here, so
# one ignored directory holds all local state and `rm -rf .local` is a full local reset.
LOCAL_DIR="${HUIGONG_LOCAL_DIR:-$REPO_ROOT/.local}"
case "$LOCAL_DIR" in
  /*) ;;
  *) LOCAL_DIR="$PWD/$LOCAL_DIR" ;;  # later `cd`s must not change what a relative path means
esac
LOCAL_DIR="${LOCAL_DIR%/}"
if [ -z "$LOCAL_DIR" ]; then
  echo "HUIGONG_LOCAL_DIR must not be /" >&2
  exit 1
fi

LOG_PREFIX="${LOG_PREFIX:-huigong}"

log() { printf '[%s] %s\n' "$LOG_PREFIX" "$*"; }
warn() { printf '[%s] WARNING: %s\n' "$LOG_PREFIX" "$*" >&2; }
die() {
  printf '[%s] ERROR: %s\n' "$LOG_PREFIX" "$*" >&2
  exit 1
}

is_root() { [ "$(id -u)" -eq 0 ]; }

# True if $1 is a live process whose command line contains $2. The pattern guards against a
# stale pid file whose pid has since been reused by an unrelated process.
pid_alive() {
  local pid="$1" pattern="$2"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  local cmdline
  # Read into a variable rather than piping to grep -q: with pipefail, grep exiting early can
  # SIGPIPE the writer and turn a match into a failure.
  cmdline="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)" || return 1
  [[ "$cmdline" == *"$pattern"* ]]
}

# First line of a pid file, or nothing.
read_pid() {
  [ -f "$1" ] && head -n 1 "$1" | tr -dc '0-9' || true
}

# True if something accepts TCP connections on $1:$2 (bash's /dev/tcp, so no nc/ss needed).
port_open() {
  (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null
}

# Waits up to $2 seconds for pid $1 to exit; true if it did.
wait_pid_exit() {
  local pid="$1" deadline=$((SECONDS + $2))
  while kill -0 "$pid" 2>/dev/null; do
    ((SECONDS < deadline)) || return 1
    sleep 0.2
  done
}

# apt-get update runs at most once per script run: it is slow, and the package lists only need
# refreshing once before the first install on a fresh machine.
_APT_UPDATED=0
apt_install() {
  command -v apt-get >/dev/null || die "cannot install $* automatically: apt-get not found"
  is_root || die "installing $* needs root (re-run as root or install it yourself)"
  if [ "$_APT_UPDATED" -eq 0 ]; then
    log "apt-get update"
    DEBIAN_FRONTEND=noninteractive apt-get update -q </dev/null
    _APT_UPDATED=1
  fi
  log "apt-get install $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" </dev/null
}

# Holds an exclusive lock on $LOCAL_DIR/.lock for the rest of the script, so two concurrent
# `bin/stack start` (parallel CI steps, two terminals) cannot both format/initdb/launch.
# The lock lives on fd 9: anything started in the background must close it (9>&-), or the
# daemon would hold the lock forever.
take_lock() {
  mkdir -p "$LOCAL_DIR"
  exec 9>"$LOCAL_DIR/.lock"
  if ! flock -w 300 9; then
    die "another bin/stack or bin/setup is still running after 300 s (lock $LOCAL_DIR/.lock)"
  fi
}

# Instances of service $1 that bin/run starts and the front door balances across:
# HUIGONG_REPLICAS_<SERVICE> (e.g. HUIGONG_REPLICAS_REGISTRY=2), else HUIGONG_REPLICAS, else 1.
# Instance i (1-based) listens on the service's port + 10·(i−1), so at most 9 fit between the
# services' ports (8101, 8111, … 8181 for intake).
replicas_of() {
  local var="HUIGONG_REPLICAS_${1^^}" n
  n="${!var:-${HUIGONG_REPLICAS:-1}}"
  [[ "$n" =~ ^[1-9]$ ]] || die "$var / HUIGONG_REPLICAS must be a number of instances from 1 to 9 (got '$n')"
  echo "$n"
}
