#!/bin/sh
# Page benchmark (see bench/README.md): a static file vs. the logged-in pending page, with wrk on loopback.
# Starts its own govsim + portal on free ports with a throw-away var dir, logs in as WONG with curl,
# runs wrk for BENCH_SECONDS (default 10) per URL at 64 connections / 2 threads, prints req/s, p99 and
# the ratio, stops everything. Exit 0 when the bar is met (ratio >= 0.7, p99 < 20 ms, no errors), 1 otherwise,
# 2 when the system could not be set up. POSIX sh: `make bench` runs it with sh.
set -eu

cd "$(dirname "$0")/.."
BIN=${CR_BIN_DIR:-build}
SECONDS_EACH=${BENCH_SECONDS:-10}
CONNS=${BENCH_CONNECTIONS:-64}
THREADS=${BENCH_THREADS:-2}
MIN_RATIO=${BENCH_MIN_RATIO:-0.7}
MAX_P99_MS=${BENCH_MAX_P99_MS:-20}

for tool in wrk curl python3; do
	command -v "$tool" >/dev/null 2>&1 || { echo "bench: $tool is missing (make deps)" >&2; exit 2; }
done
for b in certrenew govsim; do
	[ -x "$BIN/$b" ] || { echo "bench: $BIN/$b is missing (make)" >&2; exit 2; }
done

free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

WORK=$(mktemp -d "${TMPDIR:-/tmp}/certrenew-bench.XXXXXX")
VAR="$WORK/var"
PORT=$(free_port)
SIM_PORT=$(free_port)
while [ "$SIM_PORT" = "$PORT" ]; do SIM_PORT=$(free_port); done
BASE="http://127.0.0.1:$PORT"
SIM="http://127.0.0.1:$SIM_PORT"
PIDS=""

cleanup() {
	for pid in $PIDS; do kill "$pid" 2>/dev/null || true; done
	for pid in $PIDS; do
		i=0
		while kill -0 "$pid" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
		kill -9 "$pid" 2>/dev/null || true
	done
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

"$BIN/certrenew" init >"$WORK/init.log" 2>&1 || fail "certrenew init failed"
"$BIN/certrenew" demo-data >>"$WORK/init.log" 2>&1 || fail "certrenew demo-data failed"

"$BIN/govsim" --listen "127.0.0.1:$SIM_PORT" --issuer "$SIM" --data-dir "$VAR/govsim" \
	--people demo/people.json --client-id certrenew --client-secret-file "$CERTRENEW_GOVID_CLIENT_SECRET_FILE" \
	--redirect-uri "$BASE/auth/callback" </dev/null >"$WORK/govsim.log" 2>&1 &
PIDS="$PIDS $!"
"$BIN/certrenew" serve </dev/null >"$WORK/serve.log" 2>&1 &
PIDS="$PIDS $!"

for url in "$SIM" "$BASE"; do
	i=0
	until curl -fsS -o /dev/null --max-time 1 "$url/healthz" 2>/dev/null; do
		i=$((i + 1))
		[ $i -lt 150 ] || fail "$url/healthz not up after 15 s"
		sleep 0.1
	done
done

# ---- log in as WONG with curl: landing -> /login -> govsim /authorize -> POST /login -> callback
JAR="$WORK/cookies.txt"
C="curl -sS --max-time 10 -b $JAR -c $JAR"
$C -o /dev/null "$BASE/" || fail "GET / failed"
AUTHORIZE=$($C -o /dev/null -w '%{redirect_url}' "$BASE/login") || fail "GET /login failed"
[ -n "$AUTHORIZE" ] || fail "/login did not redirect"
$C -o "$WORK/authorize.html" "$AUTHORIZE" || fail "govsim authorize failed"
FORM=$(python3 - "$WORK/authorize.html" "$AUTHORIZE" <<'EOF'
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

# ---- wrk
# bench_one NAME URL [HEADER]: runs wrk, leaves its output in $WORK/NAME.wrk
bench_one() {
	echo "wrk: $2 (${SECONDS_EACH}s, $CONNS connections, $THREADS threads)"
	if [ $# -ge 3 ]; then
		timeout $((SECONDS_EACH + 30)) wrk -t"$THREADS" -c"$CONNS" -d"${SECONDS_EACH}s" --timeout 5s --latency -H "$3" "$2" >"$WORK/$1.wrk" 2>&1
	else
		timeout $((SECONDS_EACH + 30)) wrk -t"$THREADS" -c"$CONNS" -d"${SECONDS_EACH}s" --timeout 5s --latency "$2" >"$WORK/$1.wrk" 2>&1
	fi || fail "wrk failed: $(cat "$WORK/$1.wrk")"
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

bench_one static "$BASE/static/style.css"
bench_one pending "$BASE/ecmp/certrenewal" "Cookie: $COOKIE"

# The session must still be valid after the run (not rate-limited away or expired).
code=$(curl -sS --max-time 10 -o /dev/null -w '%{http_code}' -H "Cookie: $COOKIE" "$BASE/ecmp/certrenewal")
[ "$code" = "200" ] || echo "warning: after the run the pending page answered $code"

RA=$(rps static); RB=$(rps pending)
PA=$(p99 static); PB=$(p99 pending)
EA=$(errors static); EB=$(errors pending)
[ -n "$RA" ] && [ -n "$RB" ] && [ -n "$PA" ] && [ -n "$PB" ] || fail "could not read wrk's output"

echo ""
echo "--- wrk output: (a) static"; cat "$WORK/static.wrk"
echo "--- wrk output: (b) pending"; cat "$WORK/pending.wrk"
echo ""
awk -v ra="$RA" -v rb="$RB" -v pa="$PA" -v pb="$PB" -v ea="$EA" -v eb="$EB" \
	-v minr="$MIN_RATIO" -v maxp="$MAX_P99_MS" -v c="$CONNS" 'BEGIN {
	ratio = (ra > 0) ? rb / ra : 0
	printf "(a) /static/style.css         %10.0f req/s   p99 %7.2f ms   errors %d\n", ra, pa, ea
	printf "(b) /ecmp/certrenewal (login) %10.0f req/s   p99 %7.2f ms   errors %d\n", rb, pb, eb
	printf "ratio b/a: %.2f   (bar: ratio >= %s, p99 < %s ms at %d connections, no errors)\n", ratio, minr, maxp, c
	ok = (ratio >= minr && pa < maxp && pb < maxp && ea == 0 && eb == 0)
	print (ok ? "bar: MET" : "bar: MISSED")
	exit (ok ? 0 : 1)
}'
