#!/bin/sh
# Starts the DEV system, as `make run` does after installing deps and building:
#   var/ initialised (certrenew init; demo-data when there are no holders yet),
#   govsim on :8081, `certrenew serve` on :8080, `certrenew jobs` (the worker),
# all in the background, logs in var/log/, pids in var/run/. Prints the URLs.
# `scripts/run.sh stop` (`make stop`) stops them. Ports: CERTRENEW_PORT, GOVSIM_PORT; var dir: CERTRENEW_VAR_DIR.
# With CERTRENEW_DATABASE_URL=postgresql://... the database is that PostgreSQL one (migrated, demo data
# loaded when it has no holders) instead of var/certrenew.db.
# POSIX sh: `make run` runs it with sh.
set -eu

cd "$(dirname "$0")/.."
ROOT=$(pwd)
BIN=${CR_BIN_DIR:-build}
VAR=${CERTRENEW_VAR_DIR:-var}
case "$VAR" in /*) ;; *) VAR="$ROOT/$VAR" ;; esac
PORT=${CERTRENEW_PORT:-8080}
SIM_PORT=${GOVSIM_PORT:-8081}
BASE="http://127.0.0.1:$PORT"
SIM="http://127.0.0.1:$SIM_PORT"
SECRET_FILE=${CERTRENEW_GOVID_CLIENT_SECRET_FILE:-$VAR/secrets/govid_client_secret}
DSI_KEY_FILE=$VAR/secrets/dsi_api_key
HEALTH_WAIT=${HEALTH_WAIT:-15} # seconds

say() { printf '%s\n' "$*"; }
die() { printf 'run.sh: %s\n' "$*" >&2; exit 1; }

# Is PID alive and one of ours (guards against a recycled pid from a stale file)?
ours() {
	[ -n "$1" ] && kill -0 "$1" 2>/dev/null || return 1
	[ -r "/proc/$1/cmdline" ] || return 0
	tr '\0' ' ' <"/proc/$1/cmdline" | grep -Eq '(certrenew|govsim)'
}

stop_all() {
	[ -d "$VAR/run" ] || return 0
	for f in "$VAR"/run/*.pid; do
		[ -f "$f" ] || continue
		pid=$(cat "$f" 2>/dev/null || true)
		if ours "$pid"; then
			kill "$pid" 2>/dev/null || true
			i=0
			while ours "$pid" && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
			if ours "$pid"; then
				say "$(basename "$f" .pid) (pid $pid) did not stop in 5 s: killing it"
				kill -9 "$pid" 2>/dev/null || true
			fi
			say "stopped $(basename "$f" .pid) (pid $pid)"
		fi
		rm -f "$f"
	done
}

if [ "${1:-}" = "stop" ]; then
	stop_all
	exit 0
fi
[ $# -eq 0 ] || die "usage: scripts/run.sh [stop]"

for b in certrenew govsim; do
	[ -x "$BIN/$b" ] || die "$BIN/$b is missing: run make first"
done

CERTRENEW_MODE=dev
CERTRENEW_VAR_DIR=$VAR
CERTRENEW_LISTEN="127.0.0.1:$PORT"
CERTRENEW_BASE_URL=${CERTRENEW_BASE_URL:-$BASE}
CERTRENEW_GOVID_ISSUER=$SIM
CERTRENEW_GOVID_CLIENT_ID=${CERTRENEW_GOVID_CLIENT_ID:-certrenew}
CERTRENEW_GOVID_CLIENT_SECRET_FILE=$SECRET_FILE
export CERTRENEW_MODE CERTRENEW_VAR_DIR CERTRENEW_LISTEN CERTRENEW_BASE_URL CERTRENEW_GOVID_ISSUER \
	CERTRENEW_GOVID_CLIENT_ID CERTRENEW_GOVID_CLIENT_SECRET_FILE

stop_all

# init is idempotent: it runs every time, so a database from an older checkout gets the newer
# schema and keys.
mkdir -p "$VAR/log"
case "${CERTRENEW_DATABASE_URL:-}" in
postgres://* | postgresql://*)
	# PostgreSQL (the database must exist).
	say "database: PostgreSQL (CERTRENEW_DATABASE_URL)"
	"$BIN/certrenew" init >>"$VAR/log/init.log" 2>&1 || { tail -n 20 "$VAR/log/init.log" >&2; die "certrenew init failed"; }
	holders=$(psql -X -q -A -t -d "$CERTRENEW_DATABASE_URL" -c 'SELECT count(DISTINCT holder_id) FROM certificates' 2>/dev/null || echo "?")
	;;
*)
	[ -f "$VAR/certrenew.db" ] || say "initialising $VAR"
	"$BIN/certrenew" init >>"$VAR/log/init.log" 2>&1 || { tail -n 20 "$VAR/log/init.log" >&2; die "certrenew init failed"; }
	holders=$(sqlite3 "$VAR/certrenew.db" 'SELECT count(DISTINCT holder_id) FROM certificates;' 2>/dev/null || echo "?")
	;;
esac
if [ "$holders" != "0" ] && [ "$holders" != "?" ]; then
	: # demo data (or real holders) already there
else
	# No holders (or no way to tell): demo-data is idempotent.
	say "loading demo data"
	"$BIN/certrenew" demo-data || die "certrenew demo-data failed"
fi

mkdir -p "$VAR/log" "$VAR/run"

# govsim's DSI API key (docs/internals/dsi.md): 32 random bytes in hex, made once, 0600.
if [ ! -s "$DSI_KEY_FILE" ]; then
	mkdir -p "$(dirname "$DSI_KEY_FILE")"
	(
		umask 077
		head -c 32 /dev/urandom | od -An -v -tx1 | tr -d ' \n' >"$DSI_KEY_FILE.tmp"
		printf '\n' >>"$DSI_KEY_FILE.tmp"
	)
	mv "$DSI_KEY_FILE.tmp" "$DSI_KEY_FILE"
	say "created the DSI API key $DSI_KEY_FILE"
fi

# start NAME CMD...: in the background, detached from the terminal, output to var/log/NAME.log.
start() {
	name=$1
	shift
	nohup "$@" </dev/null >>"$VAR/log/$name.log" 2>&1 &
	echo $! >"$VAR/run/$name.pid"
}

# wait_healthy NAME URL
wait_healthy() {
	i=0
	while [ $i -lt $((HEALTH_WAIT * 10)) ]; do
		if curl -fsS -o /dev/null --max-time 1 "$2/healthz" 2>/dev/null; then return 0; fi
		pid=$(cat "$VAR/run/$1.pid")
		if ! kill -0 "$pid" 2>/dev/null; then
			tail -n 30 "$VAR/log/$1.log" >&2
			stop_all
			die "$1 exited; log: $VAR/log/$1.log"
		fi
		sleep 0.1
		i=$((i + 1))
	done
	tail -n 30 "$VAR/log/$1.log" >&2
	stop_all
	die "$1 not healthy at $2/healthz after $HEALTH_WAIT s; log: $VAR/log/$1.log"
}

start govsim "$BIN/govsim" --listen "127.0.0.1:$SIM_PORT" --issuer "$SIM" --data-dir "$VAR/govsim" \
	--people demo/people.json --client-id "$CERTRENEW_GOVID_CLIENT_ID" \
	--client-secret-file "$SECRET_FILE" --redirect-uri "$CERTRENEW_BASE_URL/auth/callback" \
	--redirect-uri "$CERTRENEW_BASE_URL/ecmp/certrenewal/eid/callback" \
	--dsi-api-key-file "$DSI_KEY_FILE" --faces-dir sim/faces
wait_healthy govsim "$SIM"
start serve "$BIN/certrenew" serve
wait_healthy serve "$BASE"
start jobs "$BIN/certrenew" jobs
sleep 0.3
kill -0 "$(cat "$VAR/run/jobs.pid")" 2>/dev/null || {
	tail -n 30 "$VAR/log/jobs.log" >&2
	stop_all
	die "certrenew jobs exited; log: $VAR/log/jobs.log"
}

say ""
say "certrenew (DEV) is running:"
say "  portal:  $BASE/"
say "  govsim:  $SIM/   (GovID login simulator: pick a demo account)"
say "  DSI:     $SIM/dsi/v1/   (govsim; Authorization: Bearer \$(cat $DSI_KEY_FILE))"
say "  logs:    $VAR/log/   pids: $VAR/run/"
say "stop with: make stop   (or: sh scripts/run.sh stop)"
