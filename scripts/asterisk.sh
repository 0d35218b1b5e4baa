#!/usr/bin/env bash
# The project's Asterisk 22: a Debian sid root made once with debootstrap and cached, our
# config/asterisk/ installed as its /etc/asterisk, Asterisk run inside it with chroot.
# Asterisk is not in Debian bookworm; sid has 22.x. The chroot shares the host
# network, so ARI answers at http://127.0.0.1:8088/ari and SIP at 127.0.0.1:5060.
#
#   scripts/asterisk.sh up        provision (first time ~1 min), install config, start, wait for ARI
#   scripts/asterisk.sh down      stop Asterisk and release the mounts
#   scripts/asterisk.sh restart   stop and start again (config re-installed)
#   scripts/asterisk.sh status    running or not, version, ARI reachable or not
#   scripts/asterisk.sh logs [-f] Asterisk's messages log
#   scripts/asterisk.sh cli CMD   run one Asterisk CLI command
#   scripts/asterisk.sh root      print the root's path (tests read rest-api/*.json there)
#
# Environment: CTI_ASTERISK_ROOT (the cached root), CTI_SOUNDS_DIR (prompts rendered by the
# service, bind-mounted at the same absolute path inside the root so `sound:/abs/path` works).
set -euo pipefail

# Paths are settled here, as the invoking user, and handed to sudo explicitly (sudo may reset HOME).
cache=${XDG_CACHE_HOME:-$HOME/.cache}/hotline-cti
ROOT=$(realpath -m "${CTI_ASTERISK_ROOT:-$cache/asterisk-root}")
SOUNDS=$(realpath -m "${CTI_SOUNDS_DIR:-$cache/sounds}")
PROJECT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CONFIG=$PROJECT/config/asterisk
PACKAGES="asterisk asterisk-core-sounds-en-gsm asterisk-moh-opsound-gsm"
ARI_INFO=http://127.0.0.1:8088/ari/asterisk/info
START_TIMEOUT=${CTI_ASTERISK_START_TIMEOUT:-60}

say() { printf 'asterisk.sh: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

require_debian_root() {
  local id
  id=$(. /etc/os-release 2>/dev/null && echo "${ID:-}")
  if [ "$id" != debian ] && [ -z "${CTI_DEBIAN_MIRROR:-}" ]; then
    die "this host is not Debian (${id:-unknown}): the chroot needs debootstrap, apt and a Debian archive.
  Run the stack with docker-compose instead:  docker compose up -d asterisk redis postgres
  (or set CTI_DEBIAN_MIRROR to a Debian archive if this host has debootstrap)"
  fi
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || die "needs root (chroot, mount) and sudo is not installed"
    mkdir -p "$cache" "$SOUNDS"  # owned by the invoking user, who renders prompts into it
    exec sudo CTI_ASTERISK_ROOT="$ROOT" CTI_SOUNDS_DIR="$SOUNDS" XDG_CACHE_HOME="$(dirname "$cache")" \
      CTI_DEBIAN_MIRROR="${CTI_DEBIAN_MIRROR:-}" "$0" "$@"
  fi
}

# The host's own apt source for Debian, so the root comes from the same archive apt uses here.
debian_mirror() {
  local uri=${CTI_DEBIAN_MIRROR:-}
  if [ -z "$uri" ] && [ -f /etc/apt/sources.list.d/debian.sources ]; then
    uri=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources)
  fi
  if [ -z "$uri" ] && [ -f /etc/apt/sources.list ]; then
    uri=$(awk '$1 == "deb" && $0 !~ /security/ {for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) {print $i; exit}}' /etc/apt/sources.list)
  fi
  [ -n "$uri" ] || die "no Debian archive found in /etc/apt/sources.list(.d); set CTI_DEBIAN_MIRROR"
  printf '%s' "$uri"
}

host_tools() {
  local missing=()
  command -v debootstrap >/dev/null || missing+=(debootstrap)
  command -v curl >/dev/null || missing+=(curl)
  command -v flock >/dev/null || missing+=(util-linux)
  command -v pgrep >/dev/null || missing+=(procps)
  if [ ${#missing[@]} -gt 0 ]; then
    say "installing host tools: ${missing[*]}"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

# Mounts left on the host by an older version of this script (it now mounts nothing there).
unmount_all() {
  local m
  for m in "$ROOT$SOUNDS" "$ROOT/dev" "$ROOT/proc"; do
    if mountpoint -q "$m" 2>/dev/null; then umount "$m" || umount -l "$m"; fi
  done
}

provision() {
  [ -f "$ROOT/.cti-provisioned" ] && return 0
  local work=$ROOT.partial mirror
  mirror=$(debian_mirror)
  # A partial root from an interrupted run may still have its mounts: release them before removing it.
  for m in "$work/dev" "$work/proc"; do mountpoint -q "$m" 2>/dev/null && umount -l "$m"; done
  rm -rf --one-file-system "$work"
  say "creating a Debian sid root in $ROOT (once; about a minute)"
  debootstrap --variant=minbase sid "$work" "$mirror" >"$cache/debootstrap.log" 2>&1 \
    || die "debootstrap failed; see $cache/debootstrap.log"
  cp /etc/resolv.conf "$work/etc/resolv.conf"
  mount --bind /proc "$work/proc"
  mount --bind /dev "$work/dev"
  local rc=0
  chroot "$work" sh -c "apt-get -qq -o Acquire::Check-Valid-Until=false update &&
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $PACKAGES" \
    >"$cache/apt-asterisk.log" 2>&1 || rc=$?
  umount "$work/dev" "$work/proc"
  [ $rc -eq 0 ] || die "installing Asterisk in the root failed; see $cache/apt-asterisk.log"
  # Debian's sample config is kept aside; ours replaces it (install_config).
  mv "$work/etc/asterisk" "$work/etc/asterisk.debian"
  chroot "$work" asterisk -V >"$work/.cti-provisioned"
  mv "$work" "$ROOT"
  say "provisioned $(cat "$ROOT/.cti-provisioned")"
}

config_hash() { (cd "$CONFIG" && find . -type f -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16); }

install_config() {
  rm -rf "$ROOT/etc/asterisk"
  cp -r "$CONFIG" "$ROOT/etc/asterisk"
  config_hash >"$ROOT/etc/asterisk/.cti-config-hash"
}

running() { chroot "$ROOT" asterisk -rx 'core show version' >/dev/null 2>&1; }

# The Asterisk this script runs: its root is ours (never another Asterisk on the host), and it
# reads the root's /etc/asterisk (a test's or a drill's own instance, cti/sim/own_asterisk.py,
# runs from the same root with `-C` and its own config, and is left alone).
root_pids() {
  local p
  for p in $(pgrep -x asterisk || true); do
    [ "$(readlink "/proc/$p/root")" = "$ROOT" ] || continue
    tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -q -- ' -C ' && continue
    echo "$p"
  done
  return 0
}

ari_ready() {
  # Any HTTP answer from ARI means it is up; 401 is expected without credentials.
  local code
  code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$ARI_INFO" || true)
  [ "$code" = 401 ] || [ "$code" = 200 ]
}

start() {
  mkdir -p "$SOUNDS" "$ROOT$SOUNDS"
  install_config
  # Asterisk runs in a private mount namespace: /proc, /dev and the prompts are bind-mounted
  # there only, so they vanish with Asterisk and nothing of the host's /dev is ever reachable
  # through the cached root (a later `rm -rf` of the cache is safe). fd 9 is our lock:
  # Asterisk must not inherit it, or the next `up` would wait forever.
  unshare --mount --propagation private sh -c '
    mount --bind /proc "$1/proc" && mount --bind /dev "$1/dev" && mount --bind "$2" "$1$2" &&
    exec chroot "$1" asterisk -g' start "$ROOT" "$SOUNDS" >/dev/null 9>&-
  local waited=0
  until running && ari_ready; do
    sleep 0.2
    waited=$((waited + 1))
    if [ $waited -ge $((START_TIMEOUT * 5)) ]; then
      tail -n 30 "$ROOT/var/log/asterisk/messages" >&2 2>/dev/null || true
      die "Asterisk did not answer on ARI ($ARI_INFO) within ${START_TIMEOUT}s"
    fi
  done
  say "up: $(cat "$ROOT/.cti-provisioned"), ARI at http://127.0.0.1:8088/ari"
}

stop() {
  if [ -d "$ROOT" ] && running; then
    chroot "$ROOT" asterisk -rx 'core stop now' >/dev/null 2>&1 || true
    local waited=0
    while running && [ $waited -lt 100 ]; do sleep 0.1; waited=$((waited + 1)); done
  fi
  if [ -d "$ROOT" ]; then
    local pids waited=0
    pids=$(root_pids)
    if [ -n "$pids" ]; then
      kill $pids 2>/dev/null || true
      while [ -n "$(root_pids)" ] && [ $waited -lt 50 ]; do sleep 0.1; waited=$((waited + 1)); done
      pids=$(root_pids)
      if [ -n "$pids" ]; then kill -9 $pids 2>/dev/null || true; sleep 0.2; fi
    fi
    unmount_all
  fi
}

lock() {
  mkdir -p "$cache"
  exec 9>"$cache/asterisk.lock"
  flock 9
}

cmd_up() {
  host_tools
  lock
  provision
  if running; then
    # Already up: restart only when the project's config differs from what it runs.
    if [ "$(config_hash)" = "$(cat "$ROOT/etc/asterisk/.cti-config-hash" 2>/dev/null)" ] && ari_ready; then
      say "already up with this config"
      return 0
    fi
    say "config changed: restarting"
    stop
  fi
  start
}

cmd_status() {
  if [ ! -f "$ROOT/.cti-provisioned" ]; then echo "not provisioned ($ROOT)"; return 3; fi
  echo "root: $ROOT ($(cat "$ROOT/.cti-provisioned"))"
  if running; then
    echo "running: $(chroot "$ROOT" asterisk -rx 'core show uptime' | head -n1)"
  else
    echo "stopped"; return 3
  fi
  if ari_ready; then echo "ARI: reachable at http://127.0.0.1:8088/ari"; else echo "ARI: not answering"; return 3; fi
}

main() {
  local cmd=${1:-}
  shift || true
  case "$cmd" in
    up) require_debian_root up; cmd_up ;;
    down) require_debian_root down; lock; stop; say "down" ;;
    restart) require_debian_root restart; host_tools; lock; provision; stop; start ;;
    status) require_debian_root status; cmd_status ;;
    logs)
      require_debian_root logs "$@"
      if [ "${1:-}" = "-f" ]; then exec tail -F "$ROOT/var/log/asterisk/messages"; fi
      tail -n 200 "$ROOT/var/log/asterisk/messages" ;;
    cli) require_debian_root cli "$@"; chroot "$ROOT" asterisk -rx "$*" ;;
    root) printf '%s\n' "$ROOT" ;;
    *) sed -n '2,20p' "$0" >&2; exit 2 ;;
  esac
}

main "$@"
