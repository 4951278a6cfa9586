#!/bin/sh
# Entrypoint of the preview runtime image: checks the settings the provisioner
# gives every preview machine, then becomes the sync-daemon, which syncs the
# app's files, installs dependencies when package.json changed, and supervises
# the dev server until SIGTERM.
#
# Settings, all from the environment (the provisioner's Fly driver sets
# SYNC_SERVER_URL and SYNC_TOKEN as app secrets, SYNC_APP_ID and PORT as env):
#   SYNC_SERVER_URL  required  the provisioner's URL, http:// or https://
#   SYNC_APP_ID      required  the app whose files this preview shows
#   SYNC_TOKEN       required  the app's sync token; never printed, never on a command line
#   SYNC_DIR         /app      where the app's files go (node_modules is already there)
#   SYNC_STATE_DIR   /var/lib/sync-daemon   the daemon's own records, outside SYNC_DIR
#   SYNC_EXEC        npm run dev            the dev server command (`auto`: detected from the app)
#   SYNC_INSTALL     npm install ...        run when package.json or a lockfile changed
#   PORT             3000      the preview's port: the daemon's gateway listens
#                              here and forwards to the dev server's private port
#   SYNC_GATEWAY_BIND 0.0.0.0  where the gateway listens (Fly's proxy reaches it there)
#   SYNC_RUN_AS      node      the user the install and the dev server run as,
#                              apart from the daemon (root), so app code cannot
#                              read the token; empty: as the daemon (a warning)
# Arguments are passed on to sync-daemon (for example --interval 1s).
#
# The token stays in the environment: sync-daemon reads SYNC_TOKEN itself, so
# it never shows in `ps` or /proc/<pid>/cmdline.
set -eu

me=preview-entrypoint

fail() {
    printf '%s: %s\n' "$me" "$*" >&2
    exit 64
}

missing=
for name in SYNC_SERVER_URL SYNC_APP_ID SYNC_TOKEN; do
    eval "value=\${$name:-}"
    if [ -z "$value" ]; then
        missing="$missing $name"
    fi
done
if [ -n "$missing" ]; then
    fail "missing required environment:$missing (the provisioner sets them on each preview machine; to run this image by hand pass them with -e)"
fi

case "$SYNC_SERVER_URL" in
    http://?* | https://?*) ;;
    *) fail "SYNC_SERVER_URL must start with http:// or https://, got '$SYNC_SERVER_URL'" ;;
esac

# The same rule as sync_protocol::AppId: 1 to 50 of a-z, 0-9 and '-', not starting with '-'.
case "$SYNC_APP_ID" in
    -* | *[!a-z0-9-]*) fail "SYNC_APP_ID '$SYNC_APP_ID' may hold only a-z, 0-9 and '-', and must not start with '-'" ;;
esac
if [ "${#SYNC_APP_ID}" -gt 50 ]; then
    fail "SYNC_APP_ID is ${#SYNC_APP_ID} characters long; at most 50"
fi

# The token's own format is the daemon's to check; here only its shape, so a
# secret pasted with a newline or a space fails with a clear message.
case "$SYNC_TOKEN" in
    *[!A-Za-z0-9._-]*) fail "SYNC_TOKEN has characters a sync token never has (whitespace?); set it again" ;;
esac

: "${SYNC_DIR:=/app}"
: "${SYNC_STATE_DIR:=/var/lib/sync-daemon}"
: "${SYNC_EXEC:=npm run dev}"
: "${SYNC_INSTALL:=npm install --no-audit --no-fund}"
: "${PORT:=3000}"
: "${SYNC_GATEWAY_BIND:=0.0.0.0}"
export SYNC_SERVER_URL SYNC_APP_ID SYNC_TOKEN SYNC_DIR SYNC_STATE_DIR SYNC_EXEC SYNC_INSTALL PORT SYNC_GATEWAY_BIND

# Vite refuses requests for host names it does not know (DNS rebinding
# protection); this lets the preview's own public name through without the
# app's vite.config.js naming it. Fly sets FLY_APP_NAME in every machine.
: "${__VITE_ADDITIONAL_SERVER_ALLOWED_HOSTS:=${FLY_APP_NAME:-preview-$SYNC_APP_ID}.fly.dev}"
export __VITE_ADDITIONAL_SERVER_ALLOWED_HOSTS

case "$PORT" in
    '' | *[!0-9]*) fail "PORT must be a number, got '$PORT'" ;;
esac

mkdir -p "$SYNC_DIR" "$SYNC_STATE_DIR" || fail "cannot create $SYNC_DIR or $SYNC_STATE_DIR"
[ -w "$SYNC_DIR" ] || fail "$SYNC_DIR is not writable by uid $(id -u)"
[ -w "$SYNC_STATE_DIR" ] || fail "$SYNC_STATE_DIR is not writable by uid $(id -u)"

# The app's user owns the app dir; the daemon's state is the daemon's alone.
if [ -n "${SYNC_RUN_AS:-}" ]; then
    if [ "$(id -u)" = 0 ]; then
        chown "$SYNC_RUN_AS" "$SYNC_DIR" || fail "cannot give $SYNC_DIR to SYNC_RUN_AS=$SYNC_RUN_AS (no such user?)"
        chmod 0700 "$SYNC_STATE_DIR"
    fi
    export SYNC_RUN_AS
else
    printf '%s: SYNC_RUN_AS is empty: the dev server runs as the daemon and can read its token\n' "$me" >&2
fi

# Everything but the token, so a machine's log says what it was started with.
printf '%s: app %s, server %s, dir %s, port %s, dev server: %s\n' \
    "$me" "$SYNC_APP_ID" "$SYNC_SERVER_URL" "$SYNC_DIR" "$PORT" "$SYNC_EXEC" >&2

# exec: the daemon becomes this process, so the stop signal reaches it. It
# syncs to the latest revision before it starts the dev server, on a cold boot
# and after a resume alike.
exec sync-daemon --exec "$SYNC_EXEC" "$@"
