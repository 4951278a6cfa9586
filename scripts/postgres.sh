#!/usr/bin/env bash
# A throwaway PostgreSQL for the tests: loopback only, its data and unix
# socket in one temporary directory, trust authentication.
#
#   scripts/postgres.sh [start]   start it (or find it running); prints the URL on stdout
#   scripts/postgres.sh stop      stop it and remove its directory
#
# Typical use: export TEST_DATABASE_URL="$(scripts/postgres.sh start)"
# Everything but the URL goes to stderr. PREVIEW_POSTGRES_DIR overrides the
# directory (default: $TMPDIR/preview-postgres-<uid>).
set -euo pipefail

command_name="${1:-start}"
base_dir="${PREVIEW_POSTGRES_DIR:-${TMPDIR:-/tmp}/preview-postgres-$(id -u)}"
data_dir="$base_dir/data"
socket_dir="$base_dir/socket"
port_file="$base_dir/port"
database="preview_test"
superuser="postgres"

log() { printf 'postgres.sh: %s\n' "$*" >&2; }

# The server binaries: on PATH, else in Debian's versioned directory, else installed.
find_bin_dir() {
  if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
    # Resolved, so psql and createdb are found beside pg_ctl.
    dirname "$(readlink -f "$(command -v pg_ctl)")"
    return
  fi
  local candidate
  for candidate in $(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin -type d 2>/dev/null | sort -V -r); do
    if [[ -x "$candidate/initdb" && -x "$candidate/pg_ctl" ]]; then
      echo "$candidate"
      return
    fi
  done
  return 1
}

bin_dir="$(find_bin_dir || true)"
if [[ -z "$bin_dir" ]]; then
  if [[ "$command_name" == stop ]]; then
    exit 0
  fi
  log "no PostgreSQL server found; installing it with apt-get"
  sudo_cmd=()
  if [[ "$(id -u)" != 0 ]]; then sudo_cmd=(sudo); fi
  "${sudo_cmd[@]}" apt-get update >&2
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y postgresql >&2
  bin_dir="$(find_bin_dir)"
fi

# PostgreSQL refuses to run as root: then the server runs as the `postgres`
# system user (created if missing), which owns the directory.
as_owner=()
if [[ "$(id -u)" == 0 ]]; then
  if ! id postgres >/dev/null 2>&1; then
    useradd --system --no-create-home --shell /usr/sbin/nologin postgres
  fi
  if command -v runuser >/dev/null 2>&1; then
    as_owner=(runuser -u postgres --)
  else
    # su hands the words after the command to the shell as "$0" "$@".
    # shellcheck disable=SC2016
    as_owner=(su postgres -s /bin/sh -c '"$0" "$@"')
  fi
fi

pg_ctl_() { "${as_owner[@]}" "$bin_dir/pg_ctl" -D "$data_dir" "$@"; }

is_running() { [[ -f "$data_dir/PG_VERSION" ]] && pg_ctl_ status >/dev/null 2>&1; }

url() { echo "postgres://$superuser@127.0.0.1:$(cat "$port_file")/$database"; }

# Whether something already listens on the loopback port.
port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

start() {
  if is_running && [[ -f "$port_file" ]]; then
    url
    return
  fi
  mkdir -p "$base_dir"
  if [[ ! -f "$data_dir/PG_VERSION" ]]; then
    rm -rf "$data_dir"
    mkdir -p "$data_dir" "$socket_dir"
    if [[ ${#as_owner[@]} -gt 0 ]]; then chown -R postgres "$base_dir"; fi
    chmod 700 "$data_dir"
    "${as_owner[@]}" "$bin_dir/initdb" -D "$data_dir" -U "$superuser" --auth=trust \
      --encoding=UTF8 --locale=C >"$base_dir/initdb.log" 2>&1 || {
      cat "$base_dir/initdb.log" >&2
      exit 1
    }
  fi
  # The first free port from 55432 on; bounded so a full range fails clearly.
  # Durability is not under test here, so fsync is off for speed; several
  # provisioner instances per test need more connections than the default.
  local settings="-c listen_addresses=127.0.0.1 -k $socket_dir -c max_connections=400"
  settings+=" -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
  # The first loopback port from 55432 on that this server manages to bind:
  # another run may take a port between the check and the start, so a failed
  # start moves on to the next one. Bounded, so a full range fails clearly.
  local port=""
  local candidate
  for candidate in $(seq 55432 55531); do
    if port_in_use "$candidate"; then
      continue
    fi
    rm -f "$base_dir/server.log" # so the check below reads this attempt only
    if pg_ctl_ start -w -t 60 -l "$base_dir/server.log" -o "$settings -p $candidate" >&2; then
      port="$candidate"
      break
    fi
    if ! grep -q "could not bind\|could not create any TCP/IP sockets" "$base_dir/server.log" 2>/dev/null; then
      tail -n 30 "$base_dir/server.log" >&2 || true
      exit 1
    fi
    log "port $candidate was taken meanwhile; trying the next one"
  done
  if [[ -z "$port" ]]; then
    log "could not start on any loopback port in 55432-55531"
    exit 1
  fi
  echo "$port" >"$port_file"
  if ! "$bin_dir/psql" -h 127.0.0.1 -p "$port" -U "$superuser" -d postgres -tAc \
    "SELECT 1 FROM pg_database WHERE datname = '$database'" | grep -q 1; then
    "$bin_dir/createdb" -h 127.0.0.1 -p "$port" -U "$superuser" "$database"
  fi
  log "running on 127.0.0.1:$port (data in $data_dir); stop with: scripts/postgres.sh stop"
  url
}

stop() {
  if is_running; then
    pg_ctl_ stop -m fast -w >&2
  fi
  rm -rf "$base_dir"
}

case "$command_name" in
  start) start ;;
  stop) stop ;;
  url) url ;;
  *)
    log "unknown command $command_name; use start, stop or url"
    exit 2
    ;;
esac
