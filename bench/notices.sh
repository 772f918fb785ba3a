#!/bin/sh
# Notice benchmark (see bench/README.md, "Notice benchmark"): a database of 1,000,000 certificates of which
# 10,000 are due and confirmed; times (1) `certrenew jobs --once --only notices` (scan + outbox enqueue) and
# (2) `certrenew jobs --once --only deliver` into a local aiosmtpd over one reused SMTP connection.
# On SQLite and on PostgreSQL (BENCH_BACKENDS, default both), side by side. PostgreSQL: BENCH_DATABASE_URL /
# CERTRENEW_DATABASE_URL (an existing, empty database), or a throw-away server (bench/pg.sh).
# Prints seconds and messages/s. Exit 0 when the bar is met (scan+enqueue < 1 s, delivery >= 200 msg/s) on
# every backend, 1 when it is missed, 2 when the setup failed. Throw-away var dirs; loopback only; every run
# is bounded. POSIX sh.
set -eu

SELF=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")
cd "$(dirname "$0")/.."
BIN=${CR_BIN_DIR:-build}
CERTS=${BENCH_CERTS:-1000000}
DUE=${BENCH_DUE:-10000}
PEOPLE=${BENCH_PEOPLE:-250000}
MAX_SCAN_S=${BENCH_MAX_SCAN_S:-1}
MIN_RATE=${BENCH_MIN_RATE:-200}
PY=${BENCH_PYTHON:-/usr/bin/python3}
HANDLER=${BENCH_SMTP_HANDLER:-mailbox}   # mailbox (stores every message, counted) or sink (discards)
BACKENDS=${BENCH_BACKENDS:-sqlite postgres}

for tool in sqlite3 "$PY" awk; do
	command -v "$tool" >/dev/null 2>&1 || { echo "bench: $tool is missing" >&2; exit 2; }
done
[ -x "$BIN/certrenew" ] || { echo "bench: $BIN/certrenew is missing (make)" >&2; exit 2; }
"$PY" -c 'import aiosmtpd' 2>/dev/null || { echo "bench: python3-aiosmtpd is missing" >&2; exit 2; }
[ "$DUE" -le "$PEOPLE" ] && [ "$PEOPLE" -le "$CERTS" ] || { echo "bench: need DUE <= PEOPLE <= CERTS" >&2; exit 2; }
. bench/pg.sh
bench_pg_setup "$@"
case " $BACKENDS " in *" postgres "*) command -v psql >/dev/null 2>&1 || { echo "bench: psql is missing" >&2; exit 2; } ;; esac

WORK=$(mktemp -d "${TMPDIR:-/tmp}/certrenew-bench-notices.XXXXXX")
SMTP_PID=""

stop_smtp() {
	if [ -n "$SMTP_PID" ]; then
		kill "$SMTP_PID" 2>/dev/null || true
		i=0
		while kill -0 "$SMTP_PID" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
		kill -9 "$SMTP_PID" 2>/dev/null || true
	fi
	SMTP_PID=""
}
cleanup() {
	stop_smtp
	[ -n "${BENCH_KEEP:-}" ] && echo "bench: kept $WORK" || rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 2' INT TERM HUP

fail() {
	echo "bench: $*" >&2
	for f in "$WORK"/*.log; do [ -f "$f" ] && { echo "--- $f" >&2; tail -n 20 "$f" >&2; }; done
	exit 2
}
now_ns() { date +%s%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", (b - a) / 1e9 }'; }

free_port() {
	"$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

CERTRENEW_MODE=dev
# DEV accepts loopback base URLs only (cr_config_check_mode); the notices link it.
CERTRENEW_BASE_URL=https://localhost:8443
export CERTRENEW_MODE CERTRENEW_BASE_URL
unset CERTRENEW_SMTP_URL CERTRENEW_TEST_CRASH_AFTER 2>/dev/null || true

# q SQL: the backend's answer to one query (one value).
q() {
	case $BACKEND in
	sqlite) sqlite3 "$DB" "$1" ;;
	postgres) psql -X -q -A -t -v ON_ERROR_STOP=1 -d "$BENCH_PG_URL" -c "$1" ;;
	esac
}

# ---- the database: PEOPLE holders in 50 organisations; certificate i (0-based) belongs to holder
# i % PEOPLE + 1, so the first DUE certificates belong to DUE different holders. Those expire within the
# notice window (1..29 days) and are confirmed; all others expire in 40..940 days, half of them confirmed.
build_sqlite() {
	timeout 900 sqlite3 "$DB" >"$WORK/build-sqlite.log" 2>&1 <<SQL || fail "building the database failed"
PRAGMA synchronous = OFF;
PRAGMA cache_size = -400000;
PRAGMA temp_store = MEMORY;
BEGIN;
WITH RECURSIVE o(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM o WHERE i < 50)
INSERT INTO organisations (id, code, name) SELECT i, 'ORG' || i, 'Organisation ' || i FROM o;
WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < $PEOPLE)
INSERT INTO people (id, govid_sub, name, name_zh, email, id_number, org_id, department, position, created_at)
  SELECT i, 'bench-' || i, 'Holder ' || i || ' BENCH', '', 'holder' || i || '@bench.gov.mo', printf('%07d(0)', i),
    1 + i % 50, 'n/a', 'Tecnico', unixepoch() FROM s;
WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i < $CERTS - 1)
INSERT INTO certificates (id, serial_hex, type, status, not_before, not_after, holder_id, email, org_id,
    department, position, tx_limit, proxy_qualification, signing_account, der, created_at)
  SELECT i + 1, printf('%032x', 1000000007 * (i + 1)), CASE i % 3 WHEN 0 THEN 'qualified' WHEN 1 THEN 'encryption'
    ELSE 'cloudsign' END, 'issued', unixepoch() - 3 * 365 * 86400,
    CASE WHEN i < $DUE THEN unixepoch() + 86400 + (i * 7919) % (28 * 86400)
         ELSE unixepoch() + 40 * 86400 + (i * 7919) % (900 * 86400) END,
    i % $PEOPLE + 1, 'holder' || (i % $PEOPLE + 1) || '@bench.gov.mo', 1 + (i % $PEOPLE + 1) % 50,
    'n/a', 'Tecnico', '', '', '', NULL, unixepoch() FROM s;
INSERT INTO confirmations (cert_id, decision, decided_by, decided_at)
  SELECT id, 'confirmed', 'bench', unixepoch() FROM certificates WHERE id <= $DUE OR id % 2 = 0;
COMMIT;
PRAGMA wal_checkpoint(TRUNCATE);
SQL
}

# The same rows on PostgreSQL (generate_series), then the id sequences moved past them, and ANALYZE of the
# filled tables so the planner knows them (as autovacuum would some time later). Not of the empty ones:
# statistics saying "notices has no rows" would make the notice pass plan a sequential scan of notices per
# certificate, which grows as the pass fills the table (measured: 47 s instead of about 3 s).
build_postgres() {
	now=$(date +%s)
	timeout 900 psql -X -q -v ON_ERROR_STOP=1 -d "$BENCH_PG_URL" >"$WORK/build-postgres.log" 2>&1 <<SQL || fail "building the database failed"
SET synchronous_commit = off;
BEGIN;
INSERT INTO organisations (id, code, name) SELECT i, 'ORG' || i, 'Organisation ' || i FROM generate_series(1, 50) i;
INSERT INTO people (id, govid_sub, name, name_zh, email, id_number, org_id, department, position, created_at)
  SELECT i, 'bench-' || i, 'Holder ' || i || ' BENCH', '', 'holder' || i || '@bench.gov.mo',
    lpad(i::text, 7, '0') || '(0)', 1 + i % 50, 'n/a', 'Tecnico', $now FROM generate_series(1, $PEOPLE) i;
INSERT INTO certificates (id, serial_hex, type, status, not_before, not_after, holder_id, email, org_id,
    department, position, tx_limit, proxy_qualification, signing_account, der, created_at)
  SELECT i + 1, lpad(to_hex(1000000007 * (i + 1)), 32, '0'), CASE i % 3 WHEN 0 THEN 'qualified'
    WHEN 1 THEN 'encryption' ELSE 'cloudsign' END, 'issued', $now - 3 * 365 * 86400,
    CASE WHEN i < $DUE THEN $now + 86400 + (i * 7919) % (28 * 86400)
         ELSE $now + 40 * 86400 + (i * 7919) % (900 * 86400) END,
    i % $PEOPLE + 1, 'holder' || (i % $PEOPLE + 1) || '@bench.gov.mo', 1 + (i % $PEOPLE + 1) % 50,
    'n/a', 'Tecnico', '', '', '', NULL, $now FROM generate_series(0::bigint, $CERTS - 1) i;
INSERT INTO confirmations (cert_id, decision, decided_by, decided_at)
  SELECT id, 'confirmed', 'bench', $now FROM certificates WHERE id <= $DUE OR id % 2 = 0;
SELECT setval(pg_get_serial_sequence('organisations', 'id'), 51, false);
SELECT setval(pg_get_serial_sequence('people', 'id'), $PEOPLE + 1, false);
SELECT setval(pg_get_serial_sequence('certificates', 'id'), $CERTS + 1, false);
COMMIT;
ANALYZE organisations, people, certificates, confirmations;
SQL
}

RESULTS="$WORK/results.txt"
: >"$RESULTS"
for BACKEND in $BACKENDS; do
	VAR="$WORK/var-$BACKEND"
	DB="$VAR/certrenew.db"
	CERTRENEW_VAR_DIR=$VAR
	case $BACKEND in
	sqlite) CERTRENEW_DATABASE_URL="sqlite:$DB" ;;
	postgres) CERTRENEW_DATABASE_URL=$BENCH_PG_URL ;;
	*) fail "unknown backend $BACKEND (BENCH_BACKENDS: sqlite postgres)" ;;
	esac
	export CERTRENEW_VAR_DIR CERTRENEW_DATABASE_URL
	echo ""
	echo "==== $BACKEND"
	"$BIN/certrenew" init >"$WORK/init-$BACKEND.log" 2>&1 || fail "certrenew init failed"
	[ "$(q 'SELECT count(*) FROM certificates')" -eq 0 ] || fail "the $BACKEND database is not empty"

	echo "building $CERTS certificates ($DUE due) for $PEOPLE holders..."
	t0=$(now_ns)
	"build_$BACKEND"
	t1=$(now_ns)
	n=$(q 'SELECT count(*) FROM certificates') || fail "cannot read the database"
	echo "built in $(secs "$t0" "$t1") s: $n certificates"

	# ---- (1) scan + enqueue
	t0=$(now_ns)
	timeout 600 "$BIN/certrenew" jobs --once --only notices >"$WORK/notices-$BACKEND.log" 2>&1 ||
		fail "jobs --only notices failed"
	t1=$(now_ns)
	SCAN_WALL=$(secs "$t0" "$t1")
	SCAN_IN=$(sed -n 's/.*notices: \([0-9]*\) mails queued for \([0-9]*\) certificates in \([0-9.]*\) s.*/\3/p' \
		"$WORK/notices-$BACKEND.log" | tail -n 1)
	QUEUED=$(q "SELECT count(*) FROM outbox WHERE state = 'queued'")
	[ "$QUEUED" -eq "$DUE" ] || fail "expected $DUE queued mails, found $QUEUED"

	# ---- (2) delivery into aiosmtpd over one connection
	PORT=$(free_port)
	MAILDIR="$WORK/Maildir-$BACKEND"
	case "$HANDLER" in
	sink) "$PY" -m aiosmtpd -n -l "127.0.0.1:$PORT" -c aiosmtpd.handlers.Sink </dev/null >"$WORK/smtp.log" 2>&1 & ;;
	*) "$PY" -m aiosmtpd -n -l "127.0.0.1:$PORT" -c aiosmtpd.handlers.Mailbox "$MAILDIR" </dev/null >"$WORK/smtp.log" 2>&1 & ;;
	esac
	SMTP_PID=$!
	i=0
	until "$PY" -c "import socket,sys; socket.create_connection(('127.0.0.1', $PORT), 0.5)" 2>/dev/null; do
		i=$((i + 1))
		[ $i -lt 150 ] || fail "aiosmtpd did not start on port $PORT"
		sleep 0.1
	done
	t0=$(now_ns)
	CERTRENEW_SMTP_URL="smtp://127.0.0.1:$PORT" timeout 900 "$BIN/certrenew" jobs --once --only deliver \
		>"$WORK/deliver-$BACKEND.log" 2>&1 || fail "jobs --only deliver failed"
	t1=$(now_ns)
	DELIVER_WALL=$(secs "$t0" "$t1")
	DELIVER_IN=$(sed -n 's/.*delivery: \([0-9]*\) sent, .* in \([0-9.]*\) s.*/\2/p' "$WORK/deliver-$BACKEND.log" | tail -n 1)
	SENT=$(q "SELECT count(*) FROM outbox WHERE state = 'sent'")
	[ "$SENT" -eq "$DUE" ] || fail "expected $DUE sent mails, found $SENT"
	CONNS="n/a"
	if [ "$HANDLER" != sink ]; then
		RECEIVED=$(find "$MAILDIR/new" -type f | wc -l)
		[ "$RECEIVED" -eq "$DUE" ] || fail "aiosmtpd stored $RECEIVED messages, expected $DUE"
		# aiosmtpd records the client's address in X-Peer: one client port = one connection.
		CONNS=$(find "$MAILDIR/new" -type f -exec grep -h -m1 '^X-Peer:' {} + | sort -u | wc -l)
	fi
	stop_smtp
	echo "$BACKEND $SCAN_WALL ${SCAN_IN:-0} $DELIVER_WALL ${DELIVER_IN:-0} $CONNS" >>"$RESULTS"
	echo "scan + enqueue $SCAN_WALL s, delivery $DELIVER_WALL s"
done

echo ""
[ -z "${BENCH_PG_KIND:-}" ] || echo "PostgreSQL: $BENCH_PG_KIND"
awk -v due="$DUE" -v certs="$CERTS" -v maxs="$MAX_SCAN_S" -v minr="$MIN_RATE" -v handler="$HANDLER" '
BEGIN {
	printf "%d due among %d certificates; delivery into aiosmtpd (%s handler), process wall time\n", due, certs, handler
	printf "%-9s %16s %12s %12s %10s %6s\n", "backend", "scan+enqueue s", "(in job) s", "delivery s", "msg/s", "conns"
	ok = 1
}
{
	rate = ($4 > 0) ? due / $4 : 0
	printf "%-9s %16.3f %12.3f %12.3f %10.0f %6s\n", $1, $2, $3, $4, rate, $6
	if (!($2 < maxs && rate >= minr && ($6 == "n/a" || $6 == 1))) ok = 0
}
END {
	printf "bar: scan + enqueue < %s s, delivery >= %s msg/s over one connection\n", maxs, minr
	print (ok ? "bar: MET" : "bar: MISSED")
	exit (ok ? 0 : 1)
}' "$RESULTS"
