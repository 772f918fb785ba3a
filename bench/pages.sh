#!/bin/sh
# Page benchmark (see bench/README.md): a static file vs. the logged-in pending page, with wrk on loopback,
# on SQLite and on PostgreSQL, with one portal instance and with two over the same database.
# Starts its own govsim + portal instances on free ports with a throw-away var dir, logs in as WONG with curl,
# runs wrk for BENCH_SECONDS (default 10) per URL at 64 connections / 2 threads, prints req/s, p99 and the
# ratio per configuration, stops everything. Two instances: wrk's connections are split across the two
# ports (two wrk processes at once, each half the connections and threads; req/s added, p99 the worse).
# PostgreSQL: BENCH_DATABASE_URL / CERTRENEW_DATABASE_URL, or a throw-away server (bench/pg.sh).
# Exit 0 when the bar is met on the one-instance rows (ratio >= 0.7, p99 < 20 ms, no errors), 1 otherwise,
# 2 when the system could not be set up. POSIX sh: `make bench` runs it with sh.
set -eu

SELF=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")
cd "$(dirname "$0")/.."
BIN=${CR_BIN_DIR:-build}
SECONDS_EACH=${BENCH_SECONDS:-10}
CONNS=${BENCH_CONNECTIONS:-64}
THREADS=${BENCH_THREADS:-2}
MIN_RATIO=${BENCH_MIN_RATIO:-0.7}
MAX_P99_MS=${BENCH_MAX_P99_MS:-20}
BACKENDS=${BENCH_BACKENDS:-sqlite postgres}
INSTANCES=${BENCH_INSTANCES:-1 2}

for tool in wrk curl python3; do
	command -v "$tool" >/dev/null 2>&1 || { echo "bench: $tool is missing (make deps)" >&2; exit 2; }
done
for b in certrenew govsim; do
	[ -x "$BIN/$b" ] || { echo "bench: $BIN/$b is missing (make)" >&2; exit 2; }
done
. bench/pg.sh
bench_pg_setup "$@"

free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

WORK=$(mktemp -d "${TMPDIR:-/tmp}/certrenew-bench.XXXXXX")
VAR="$WORK/var"
PORT=$(free_port)
PORT_B=$(free_port)
SIM_PORT=$(free_port)
while [ "$PORT_B" = "$PORT" ]; do PORT_B=$(free_port); done
while [ "$SIM_PORT" = "$PORT" ] || [ "$SIM_PORT" = "$PORT_B" ]; do SIM_PORT=$(free_port); done
BASE="http://127.0.0.1:$PORT"
BASE_B="http://127.0.0.1:$PORT_B"
SIM="http://127.0.0.1:$SIM_PORT"
PIDS=""
PORTAL_PIDS=""

stop_pids() {
	for pid in $1; do kill "$pid" 2>/dev/null || true; done
	for pid in $1; do
		i=0
		while kill -0 "$pid" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
		kill -9 "$pid" 2>/dev/null || true
	done
}
cleanup() {
	stop_pids "$PORTAL_PIDS $PIDS"
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 2' INT TERM HUP

fail() {
	echo "bench: $*" >&2
	for f in "$WORK"/*.log; do [ -f "$f" ] && { echo "--- $f" >&2; tail -n 20 "$f" >&2; }; done
	exit 2
}

CERTRENEW_MODE=dev
CERTRENEW_VAR_DIR=$VAR
CERTRENEW_LISTEN="127.0.0.1:$PORT"
CERTRENEW_BASE_URL=$BASE
CERTRENEW_GOVID_ISSUER=$SIM
CERTRENEW_GOVID_CLIENT_ID=certrenew
CERTRENEW_GOVID_CLIENT_SECRET_FILE="$VAR/secrets/govid_client_secret"
export CERTRENEW_MODE CERTRENEW_VAR_DIR CERTRENEW_LISTEN CERTRENEW_BASE_URL CERTRENEW_GOVID_ISSUER \
	CERTRENEW_GOVID_CLIENT_ID CERTRENEW_GOVID_CLIENT_SECRET_FILE

# db_url BACKEND
db_url() {
	case $1 in
	sqlite) echo "sqlite:$VAR/certrenew.db" ;;
	postgres) echo "$BENCH_PG_URL" ;;
	*) fail "unknown backend $1 (BENCH_BACKENDS: sqlite postgres)" ;;
	esac
}

# The var dir (secrets, DEV CAs) is shared by both backends, so one govsim serves every run.
CERTRENEW_DATABASE_URL=$(db_url "$(echo "$BACKENDS" | awk '{ print $1 }')")
export CERTRENEW_DATABASE_URL
"$BIN/certrenew" init >"$WORK/init.log" 2>&1 || fail "certrenew init failed"
"$BIN/govsim" --listen "127.0.0.1:$SIM_PORT" --issuer "$SIM" --data-dir "$VAR/govsim" \
	--people demo/people.json --client-id certrenew --client-secret-file "$CERTRENEW_GOVID_CLIENT_SECRET_FILE" \
	--redirect-uri "$BASE/auth/callback" </dev/null >"$WORK/govsim.log" 2>&1 &
PIDS="$PIDS $!"

wait_up() {
	i=0
	until curl -fsS -o /dev/null --max-time 1 "$1/healthz" 2>/dev/null; do
		i=$((i + 1))
		[ $i -lt 150 ] || fail "$1/healthz not up after 15 s"
		sleep 0.1
	done
}
wait_up "$SIM"

# ---- wrk
# bench_one NAME URL CONNS THREADS [HEADER]: runs wrk, leaves its output in $WORK/NAME.wrk
bench_one() {
	name=$1 url=$2 c=$3 t=$4
	shift 4
	if [ $# -ge 1 ]; then
		timeout $((SECONDS_EACH + 30)) wrk -t"$t" -c"$c" -d"${SECONDS_EACH}s" --timeout 5s --latency -H "$1" "$url" >"$WORK/$name.wrk" 2>&1
	else
		timeout $((SECONDS_EACH + 30)) wrk -t"$t" -c"$c" -d"${SECONDS_EACH}s" --timeout 5s --latency "$url" >"$WORK/$name.wrk" 2>&1
	fi || fail "wrk failed: $(cat "$WORK/$name.wrk")"
}
rps() { awk '/^Requests\/sec:/ { print $2 }' "$WORK/$1.wrk"; }
# p99 in ms, from wrk's latency distribution ("99%   1.23ms", units us/ms/s).
p99() {
	awk '$1 == "99%" { v = $2; u = v; sub(/[0-9.]+/, "", u); sub(/[a-z]+$/, "", v);
		m = (u == "us") ? v / 1000 : (u == "s") ? v * 1000 : (u == "m") ? v * 60000 : v; printf "%.2f", m }' "$WORK/$1.wrk"
}
errors() {
	awk '/Socket errors:/ { gsub(/,/, ""); e += $4 + $6 + $8 + $10 } /Non-2xx or 3xx responses:/ { e += $5 } END { print e + 0 }' "$WORK/$1.wrk"
}

# measure TAG URLPATH [HEADER] with one or two instances ($N): sets R_TAG, P_TAG, E_TAG
measure() {
	tag=$1 path=$2
	shift 2
	if [ "$N" = 1 ]; then
		echo "wrk: $BASE$path (${SECONDS_EACH}s, $CONNS connections, $THREADS threads)"
		bench_one "$RUN-$tag" "$BASE$path" "$CONNS" "$THREADS" "$@"
		r=$(rps "$RUN-$tag") p=$(p99 "$RUN-$tag") e=$(errors "$RUN-$tag")
	else
		hc=$((CONNS / 2)) ht=$((THREADS / 2))
		[ "$ht" -ge 1 ] || ht=1
		echo "wrk: $BASE$path + $BASE_B$path at once (${SECONDS_EACH}s, $hc connections and $ht threads each)"
		bench_one "$RUN-$tag-a" "$BASE$path" "$hc" "$ht" "$@" &
		wa=$!
		bench_one "$RUN-$tag-b" "$BASE_B$path" "$hc" "$ht" "$@" &
		wb=$!
		wait "$wa" || fail "wrk against instance A failed"
		wait "$wb" || fail "wrk against instance B failed"
		r=$(awk -v a="$(rps "$RUN-$tag-a")" -v b="$(rps "$RUN-$tag-b")" 'BEGIN { printf "%.2f", a + b }')
		p=$(awk -v a="$(p99 "$RUN-$tag-a")" -v b="$(p99 "$RUN-$tag-b")" 'BEGIN { printf "%.2f", (a > b) ? a : b }')
		e=$(($(errors "$RUN-$tag-a") + $(errors "$RUN-$tag-b")))
	fi
	[ -n "$r" ] && [ -n "$p" ] || fail "could not read wrk's output"
	eval "R_$tag=\$r; P_$tag=\$p; E_$tag=\$e"
}

RESULTS="$WORK/results.txt"
: >"$RESULTS"
for BACKEND in $BACKENDS; do
	CERTRENEW_DATABASE_URL=$(db_url "$BACKEND")
	export CERTRENEW_DATABASE_URL
	echo ""
	echo "==== $BACKEND"
	"$BIN/certrenew" init >>"$WORK/init.log" 2>&1 || fail "certrenew init ($BACKEND) failed"
	"$BIN/certrenew" demo-data >>"$WORK/init.log" 2>&1 || fail "certrenew demo-data ($BACKEND) failed"
	PORTAL_PIDS=""
	CERTRENEW_LISTEN="127.0.0.1:$PORT" "$BIN/certrenew" serve </dev/null >"$WORK/serve-$BACKEND-a.log" 2>&1 &
	PORTAL_PIDS="$PORTAL_PIDS $!"
	CERTRENEW_LISTEN="127.0.0.1:$PORT_B" "$BIN/certrenew" serve </dev/null >"$WORK/serve-$BACKEND-b.log" 2>&1 &
	PORTAL_PIDS="$PORTAL_PIDS $!"
	wait_up "$BASE"
	wait_up "$BASE_B"

	# ---- log in as WONG with curl: landing -> /login -> govsim /authorize -> POST /login -> callback
	JAR="$WORK/cookies-$BACKEND.txt"
	C="curl -sS --max-time 10 -b $JAR -c $JAR"
	$C -o /dev/null "$BASE/" || fail "GET / failed"
	AUTHORIZE=$($C -o /dev/null -w '%{redirect_url}' "$BASE/login") || fail "GET /login failed"
	[ -n "$AUTHORIZE" ] || fail "/login did not redirect"
	$C -o "$WORK/authorize.html" "$AUTHORIZE" || fail "govsim authorize failed"
	FORM=$(python3 - "$WORK/authorize.html" "$AUTHORIZE" <<-'EOF'
	import html, re, sys, urllib.parse
	page = open(sys.argv[1], encoding="utf-8").read()
	form = re.search(r'<form[^>]*action="([^"]*)"[^>]*>(.*?)</form>', page, re.S)
	if not form:
	    sys.exit("no form on the govsim page")
	fields = {}
	for tag in re.findall(r"<input[^>]*>", form.group(2)):
	    name = re.search(r'name="([^"]*)"', tag)
	    value = re.search(r'value="([^"]*)"', tag)
	    if name:
	        fields[html.unescape(name.group(1))] = html.unescape(value.group(1)) if value else ""
	fields["sub"] = "govid-1000001"
	print(urllib.parse.urljoin(sys.argv[2], html.unescape(form.group(1))))
	print(urllib.parse.urlencode(fields))
	EOF
	) || fail "could not read the govsim login form"
	ACTION=$(echo "$FORM" | sed -n 1p)
	BODY=$(echo "$FORM" | sed -n 2p)
	CALLBACK=$($C -o /dev/null -w '%{redirect_url}' --data "$BODY" "$ACTION") || fail "govsim POST /login failed"
	[ -n "$CALLBACK" ] || fail "govsim did not redirect to the portal"
	$C -o /dev/null "$CALLBACK" || fail "callback failed"
	SESSION=$(awk '$6 == "cr_session" { print $7 }' "$JAR" | tail -n 1)
	[ -n "$SESSION" ] || fail "no cr_session cookie after login"
	COOKIE="cr_session=$SESSION"
	code=$(curl -sS --max-time 10 -o "$WORK/pending.html" -w '%{http_code}' -H "Cookie: $COOKIE" "$BASE/ecmp/certrenewal")
	[ "$code" = "200" ] || fail "logged-in GET /ecmp/certrenewal answered $code"
	grep -q 'group-verify' "$WORK/pending.html" || fail "the pending page does not look right"
	code=$(curl -sS --max-time 10 -o /dev/null -w '%{http_code}' "$BASE/static/style.css")
	[ "$code" = "200" ] || fail "GET /static/style.css answered $code"

	# The session lives in the database: instance B takes the same cookie.
	code=$(curl -sS --max-time 10 -o /dev/null -w '%{http_code}' -H "Cookie: $COOKIE" "$BASE_B/ecmp/certrenewal")
	[ "$code" = "200" ] || fail "instance B answered $code for the session made on A"

	for N in $INSTANCES; do
		RUN="$BACKEND-$N"
		measure static /static/style.css
		measure pending /ecmp/certrenewal "Cookie: $COOKIE"
		echo "$BACKEND $N $R_static $P_static $E_static $R_pending $P_pending $E_pending" >>"$RESULTS"
	done
	# The session must still be valid after the runs (not rate-limited away or expired).
	code=$(curl -sS --max-time 10 -o /dev/null -w '%{http_code}' -H "Cookie: $COOKIE" "$BASE/ecmp/certrenewal")
	[ "$code" = "200" ] || echo "warning: after the runs the pending page answered $code"
	stop_pids "$PORTAL_PIDS"
	PORTAL_PIDS=""
done

echo ""
echo "PostgreSQL: ${BENCH_PG_KIND:-not run}"
echo "two instances: wrk's connections split across the two ports (two wrk processes, $((CONNS / 2)) connections each)"
awk -v minr="$MIN_RATIO" -v maxp="$MAX_P99_MS" -v c="$CONNS" '
BEGIN {
	printf "%-9s %9s %12s %9s %14s %9s %7s %7s\n", "backend", "instances", "static r/s", "p99 ms", "pending r/s", "p99 ms", "ratio", "errors"
	ok = 1
}
{
	ratio = ($3 > 0) ? $6 / $3 : 0
	printf "%-9s %9d %12.0f %9.2f %14.0f %9.2f %7.2f %7d\n", $1, $2, $3, $4, $6, $7, ratio, $5 + $8
	if ($2 == 1 && !(ratio >= minr && $4 < maxp && $7 < maxp && $5 + $8 == 0)) ok = 0
}
END {
	printf "bar (one instance): ratio >= %s, p99 < %s ms at %d connections, no errors\n", minr, maxp, c
	print (ok ? "bar: MET" : "bar: MISSED")
	exit (ok ? 0 : 1)
}' "$RESULTS"
