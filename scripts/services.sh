#!/usr/bin/env bash
# Installs (from Debian's packages) and starts the services the CTI and its tests need,
# idempotently: what already runs is left alone, so a second call takes well under a second.
#
#   scripts/services.sh up [redis] [postgres] [baresip] [tts] [graphviz] [chromium]   default: redis
#   scripts/services.sh python                  make sure `python3 -m venv` works (python3-venv)
#   scripts/services.sh postgres-url            the test database URL (after `up postgres`)
#
# Redis listens on 127.0.0.1:6379 and keeps nothing on disk. PostgreSQL: role `cti`
# (password `cti`) owns database `cti_test` on 127.0.0.1:5432, unless CTI_TEST_DATABASE_URL names
# another database (then nothing is started, that one must answer). A PostgreSQL that cannot be had
# is an error naming the fix, never a warning: a run that quietly dropped it would report the
# store tests green on SQLite alone.
# baresip: only installs Debian's baresip-core; the softphone tests start their own instances.
# tts: only installs Debian's espeak-ng (the library pyttsx3 loads, its voices and the command).
# graphviz: only installs Debian's graphviz (`dot`, for `cti flows graph`) and a Chinese font.
# chromium: only installs Debian's chromium and the Noto CJK fonts (the KPI report's screenshot test).
set -euo pipefail

PG_URL=postgresql+psycopg://cti:cti@127.0.0.1:5432/cti_test
PG_FIX="run \`scripts/services.sh up postgres\` (it installs and starts Debian's postgresql), or set CTI_TEST_DATABASE_URL to a PostgreSQL database you own"

say() { printf 'services.sh: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

apt_install() {
  [ -f /etc/debian_version ] || die "cannot install $* here (not Debian): install it yourself, or use docker-compose"
  say "installing $*"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

redis_ready() { (exec 3<>/dev/tcp/127.0.0.1/6379 && printf 'PING\r\n' >&3 && head -c5 <&3 | grep -q PONG) 2>/dev/null; }

redis_up() {
  redis_ready && return 0  # already served (here, or by docker-compose)
  command -v redis-server >/dev/null || apt_install redis-server
  say "starting Redis on 127.0.0.1:6379"
  local dir=${XDG_CACHE_HOME:-$HOME/.cache}/hotline-cti/redis
  mkdir -p "$dir"
  # An append-only file (fsync every second) keeps queues, agents and undrained call events
  # across a Redis restart; noeviction makes a full Redis refuse writes rather than drop keys.
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" \
    --appendonly yes --appendfsync everysec --maxmemory-policy noeviction \
    --dir "$dir" --logfile "$dir/redis.log"
  for _ in $(seq 50); do redis_ready && return 0; sleep 0.1; done
  die "Redis did not start; see $dir/redis.log"
}

pg_ready() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }

pg_psql() { as_root runuser -u postgres -- psql -v ON_ERROR_STOP=1 -qtA "$@"; }

# The database the tests use, and whether it answers (the role and database may have failed to appear).
test_database_url() { printf '%s\n' "${CTI_TEST_DATABASE_URL:-$PG_URL}"; }
without_password() { sed -E 's#(://[^:/@]+):[^@]*@#\1:***@#' <<<"$1"; }
test_database_serves() {
  local url
  url=$(test_database_url)
  psql "${url/+psycopg/}" -qtAc 'select 1' >/dev/null 2>&1 \
    || die "PostgreSQL does not serve $(without_password "$url"); $PG_FIX"
}

postgres_up() {
  if ! command -v pg_ctlcluster >/dev/null; then apt_install postgresql || return 1; fi
  if ! pg_ready; then
    local version
    version=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n1)
    [ -n "$version" ] || { say "no PostgreSQL cluster in /etc/postgresql"; return 1; }
    say "starting PostgreSQL $version"
    as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start || return 1
    for _ in $(seq 100); do pg_ready && break; sleep 0.1; done
    pg_ready || { say "PostgreSQL did not answer on 127.0.0.1:5432"; return 1; }
  fi
  if [ "$(pg_psql -c "select 1 from pg_roles where rolname = 'cti'")" != 1 ]; then
    pg_psql -c "create role cti login password 'cti'"
  fi
  if [ "$(pg_psql -c "select 1 from pg_database where datname = 'cti_test'")" != 1 ]; then
    pg_psql -c "create database cti_test owner cti"
  fi
}

# The headless softphone: the tests start their own instances, nothing runs here.
baresip_up() {
  command -v baresip >/dev/null || apt_install baresip-core
  command -v baresip >/dev/null || die "baresip-core is installed but no baresip command is on PATH"
}

# The prompt renderer's speech engine (cti/tts): pyttsx3 loads libespeak-ng.so.1
# (Debian's libespeak-ng1, which the espeak-ng package pulls in with the voices and the command).
tts_ready() {
  command -v espeak-ng >/dev/null && [[ $(ldconfig -p 2>/dev/null || /sbin/ldconfig -p) == *libespeak-ng.so.1* ]]
}

tts_up() {
  tts_ready || apt_install espeak-ng
  tts_ready || die "espeak-ng is installed but its command or libespeak-ng.so.1 cannot be found"
}

# `cti flows graph` runs Graphviz's dot; prompts are Chinese, so a CJK font keeps PNG labels readable
# (without one, fontconfig has no glyphs and dot draws empty boxes).
graphviz_up() {
  command -v dot >/dev/null && command -v fc-list >/dev/null || apt_install graphviz fontconfig
  command -v dot >/dev/null || die "graphviz is installed but no dot command is on PATH"
  fc-list :lang=zh family | grep -q . || apt_install fonts-wqy-microhei
}

# The KPI report's screenshot test drives headless Chromium through Playwright for Python; Playwright's
# own browser download is not needed (nor always reachable): it is pointed at Debian's chromium. The
# report reads in Chinese too, so the Noto CJK fonts draw its labels.
chromium_up() {
  command -v chromium >/dev/null || apt_install chromium
  command -v chromium >/dev/null || die "chromium is installed but no chromium command is on PATH"
  fc-list :lang=zh family | grep -qi "noto sans cjk" || apt_install fonts-noto-cjk
}

python_venv() {
  command -v python3 >/dev/null || apt_install python3
  python3 -c 'import sys; assert sys.version_info >= (3, 11)' 2>/dev/null \
    || die "Python 3.11 or newer is needed; $(python3 --version) found"
  python3 -c 'import ensurepip, venv' 2>/dev/null || apt_install python3-venv
}

main() {
  local cmd=${1:-}
  shift || true
  case "$cmd" in
    up)
      [ $# -gt 0 ] || set -- redis
      for service in "$@"; do
        case "$service" in
          redis) redis_up ;;
          postgres)
            [ -n "${CTI_TEST_DATABASE_URL:-}" ] || postgres_up || die "PostgreSQL could not be started; $PG_FIX"
            test_database_serves ;;
          baresip) baresip_up ;;
          tts) tts_up ;;
          graphviz) graphviz_up ;;
          chromium) chromium_up ;;
          *) die "unknown service $service (redis, postgres, baresip, tts, graphviz, chromium)" ;;
        esac
      done ;;
    python) python_venv ;;
    postgres-url) test_database_serves && test_database_url ;;
    *) sed -n '2,16p' "$0" >&2; exit 2 ;;
  esac
}

main "$@"
