#!/bin/sh
# The whole test suite, as `make test` runs it (after scripts/install-deps.sh):
#   1. npm ci when node_modules is missing or older than package-lock.json
#   2. make all
#   3. cmocka unit tests (build/tests/test_*), and the store's (steps 1-4) and the flows' (steps 1-3) again against a
#      throw-away PostgreSQL
#   4. node:test suites against build/: integration (SQLite, then again with CR_TEST_DB=postgres on
#      throw-away PostgreSQL 15 servers), interop (oidc-provider), e2e (chromium). Two integration files
#      always use their own PostgreSQL whatever CR_TEST_DB says (nginx.test.mjs: two instances behind nginx;
#      migrate.test.mjs: SQLite -> PostgreSQL); they run in the plain pass and skip themselves in the
#      CR_TEST_DB=postgres pass, which would only repeat them
#   5. make asan; unit tests from build-asan/tests (the store's also on PostgreSQL); the integration
#      suite against build-asan/
# Prints each suite's result as it goes; full logs are in tests/out/. Then one line per configuration
# (unit on SQLite and PostgreSQL, integration on SQLite and PostgreSQL, interop, browser, the same under
# ASan+UBSan, fuzz): the distinct tests that passed, failed and were skipped there; a fuzz target that
# ran an unknown or zero number of times fails. The last line is exactly `N passed, N failed` (sums
# over all configurations: a test counts once per configuration it ran in). Exits non-zero when anything failed or could not run
# (a suite that crashes or prints no summary counts as at least one failure).
# POSIX sh: `make test` runs it with sh.
set -u

cd "$(dirname "$0")/.." || exit 1
OUT=tests/out
mkdir -p "$OUT"
PASSED=0
FAILED=0
START=$(date +%s)
JOBS=$(nproc 2>/dev/null || echo 2)

# Per-suite wall-clock bounds (seconds); the whole run stays well under 30 minutes on 2 cores.
T_NPM=${T_NPM:-300}
T_MAKE=${T_MAKE:-900}
T_UNIT=${T_UNIT:-300}
T_NODE=${T_NODE:-600}
T_FUZZ=${T_FUZZ:-600}

SANITIZER_RE='ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:|SUMMARY: (Address|Leak|Undefined)'

say() { printf '%s\n' "$*"; }

# The configuration the next suites count under (conf NAME "label"); the closing summary prints one
# line per configuration, in the order they ran.
CONF=none
CONFS=""
CP_none=0
CF_none=0
CS_none=0
conf() {
	CONF=$1
	CONFS="$CONFS $1"
	eval "LABEL_$1=\$2; CP_$1=0; CF_$1=0; CS_$1=0"
}

# add SUITE PASSED FAILED SECONDS [SKIPPED]
add() {
	PASSED=$((PASSED + $2))
	FAILED=$((FAILED + $3))
	eval "CP_$CONF=\$((CP_$CONF + $2)); CF_$CONF=\$((CF_$CONF + $3)); CS_$CONF=\$((CS_$CONF + ${5:-0}))"
	if [ "${5:-0}" -ne 0 ]; then
		say "-- $1: pass $2, fail $3, skipped $5 ($4 s)"
	else
		say "-- $1: pass $2, fail $3 ($4 s)"
	fi
}

# One line per configuration: the distinct tests that passed there, failed and were skipped (each
# configuration runs the same tests again on another database or build, so the closing sum counts
# a test once per configuration it ran in).
summary() {
	say ""
	for c in $CONFS; do
		eval "l=\$LABEL_$c; p=\$CP_$c; f=\$CF_$c; k=\$CS_$c"
		say "$(printf '%-34s' "$l") $p passed, $f failed, $k skipped"
	done
}

finish() {
	summary
	say ""
	say "total time: $(($(date +%s) - START)) s; logs in $OUT/"
	say "$PASSED passed, $FAILED failed"
	if [ "$FAILED" -ne 0 ]; then exit 1; fi
	exit 0
}

# show_failure LOG: the interesting part of a failed suite's log, bounded.
show_failure() {
	if grep -Eq '^[[:space:]]*not ok' "$1"; then
		grep -E -A 40 '^[[:space:]]*not ok' "$1" | head -n 200
	else
		tail -n 60 "$1"
	fi
	say "   (full log: $1)"
}

# ---------------------------------------------------------------- 1. node modules
NODE_OK=1
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
	say "== node/npm missing: browser, integration and interop suites cannot run"
	NODE_OK=0
elif [ ! -f node_modules/.package-lock.json ] || [ -n "$(find package-lock.json -newer node_modules/.package-lock.json 2>/dev/null)" ]; then
	say "== npm ci"
	if ! timeout "$T_NPM" npm ci --no-audit --no-fund >"$OUT/npm-ci.log" 2>&1; then
		tail -n 30 "$OUT/npm-ci.log"
		say "== npm ci failed: node suites cannot run"
		NODE_OK=0
	fi
fi

# ---------------------------------------------------------------- 2. build
say "== make all"
t0=$(date +%s)
if ! timeout "$T_MAKE" make -j"$JOBS" all >"$OUT/make.log" 2>&1; then
	tail -n 40 "$OUT/make.log"
	add "build (make all)" 0 1 $(($(date +%s) - t0))
	finish
fi
say "   built in $(($(date +%s) - t0)) s"

# ---------------------------------------------------------------- helpers for suites
# run_unit BUILD_DIR: every cmocka binary BUILD_DIR/tests/test_*.
run_unit() {
	found=0
	for t in "$1"/tests/test_*; do
		[ -f "$t" ] && [ -x "$t" ] || continue
		found=1
		name=$(basename "$t")
		log="$OUT/unit-$(basename "$1")-$name.log"
		t0=$(date +%s)
		timeout "$T_UNIT" "$t" >"$log" 2>&1
		rc=$?
		p=$(sed -n 's/^\[  PASSED  \] \([0-9][0-9]*\) test.*/\1/p' "$log" | awk '{s += $1} END {print s + 0}')
		f=$(sed -n 's/^\[  FAILED  \] \([0-9][0-9]*\) test.*/\1/p' "$log" | awk '{s += $1} END {print s + 0}')
		sk=$(sed -n 's/^\[  SKIPPED \] \([0-9][0-9]*\) test.*/\1/p' "$log" | awk '{s += $1} END {print s + 0}')
		why=""
		if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; why=" (exit $rc)"; fi
		if grep -Eq "$SANITIZER_RE" "$log" && [ "$f" -eq 0 ]; then f=1; why=" (sanitizer report)"; fi
		if [ "$p" -eq 0 ] && [ "$f" -eq 0 ]; then f=1; why=" (no cmocka summary)"; fi
		add "unit $t$why" "$p" "$f" $(($(date +%s) - t0)) "$sk"
		if [ "$f" -ne 0 ]; then show_failure "$log"; fi
	done
	if [ "$found" -eq 0 ]; then
		if ls tests/unit/test_*.c >/dev/null 2>&1; then
			add "unit $1/tests: no test binaries built" 0 1 0
		else
			say "-- unit $1/tests: no unit tests in tests/unit/"
		fi
	fi
}

# run_unit_pg BUILD_DIR: the unit tests that need a store (test_store, test_store_activate, test_flow, test_identity_flow,
# test_confirm_flow, test_activate_flow) again against a
# throw-away PostgreSQL (tests/lib/postgres.mjs starts it, sets CR_TEST_DATABASE_URL, stops and removes it).
run_unit_pg() {
	for name in test_store test_store_activate test_flow test_identity_flow test_confirm_flow test_activate_flow; do
		run_unit_pg_one "$1" "$name"
	done
}

run_unit_pg_one() {
	t="$1/tests/$2"
	if [ "$NODE_OK" -ne 1 ]; then
		add "unit $t (postgres): node missing" 0 1 0
		return
	fi
	log="$OUT/unit-$(basename "$1")-$2-pg.log"
	t0=$(date +%s)
	timeout "$T_UNIT" node tests/lib/postgres.mjs run -- "$t" >"$log" 2>&1
	rc=$?
	p=$(sed -n 's/^\[  PASSED  \] \([0-9][0-9]*\) test.*/\1/p' "$log" | awk '{s += $1} END {print s + 0}')
	f=$(sed -n 's/^\[  FAILED  \] \([0-9][0-9]*\) test.*/\1/p' "$log" | awk '{s += $1} END {print s + 0}')
	sk=$(sed -n 's/^\[  SKIPPED \] \([0-9][0-9]*\) test.*/\1/p' "$log" | awk '{s += $1} END {print s + 0}')
	why=""
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; why=" (exit $rc)"; fi
	if grep -Eq "$SANITIZER_RE" "$log" && [ "$f" -eq 0 ]; then f=1; why=" (sanitizer report)"; fi
	if [ "$p" -eq 0 ] && [ "$f" -eq 0 ]; then f=1; why=" (no cmocka summary)"; fi
	# Against PostgreSQL nothing may be skipped (the skips are for SQLite).
	if [ "$sk" -ne 0 ] && [ "$f" -eq 0 ]; then f=$sk; why=" ($sk skipped)"; fi
	add "unit $t (postgres)$why" "$p" "$f" $(($(date +%s) - t0))
	if [ "$f" -ne 0 ]; then show_failure "$log"; fi
}

# run_node LABEL FILE...: a node:test suite with the TAP reporter; counts `# pass` / `# fail` / `# cancelled`.
run_node() {
	label=$1
	shift
	if [ "$NODE_OK" -ne 1 ]; then
		add "$label (node modules missing)" 0 1 0
		return
	fi
	for f in "$@"; do
		if [ ! -f "$f" ]; then
			add "$label (no test files: $*)" 0 1 0
			return
		fi
	done
	log="$OUT/$(echo "$label" | tr ' /' '__').log"
	t0=$(date +%s)
	timeout "$T_NODE" node --test --test-reporter=tap "$@" >"$log" 2>&1
	rc=$?
	p=$(sed -n 's/^# pass \([0-9][0-9]*\)$/\1/p' "$log" | tail -n 1)
	f=$(sed -n 's/^# fail \([0-9][0-9]*\)$/\1/p' "$log" | tail -n 1)
	c=$(sed -n 's/^# cancelled \([0-9][0-9]*\)$/\1/p' "$log" | tail -n 1)
	sk=$(sed -n 's/^# skipped \([0-9][0-9]*\)$/\1/p' "$log" | tail -n 1)
	why=""
	if [ -z "$p" ] || [ -z "$f" ]; then
		p=${p:-0}
		f=$((${f:-0} + 1))
		why=" (no summary: crashed or timed out, exit $rc)"
	fi
	f=$((f + ${c:-0}))
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; why=" (exit $rc)"; fi
	if [ "$p" -eq 0 ] && [ "$f" -eq 0 ]; then f=1; why=" (ran no test)"; fi
	add "$label$why" "$p" "$f" $(($(date +%s) - t0)) "${sk:-0}"
	if [ "$f" -ne 0 ]; then show_failure "$log"; fi
}

# ---------------------------------------------------------------- 3, 4. build/
say "== unit tests (build/)"
conf unit "unit (cmocka, SQLite)"
run_unit build
conf unit_pg "unit (cmocka, PostgreSQL)"
run_unit_pg build

say "== integration (build/)"
conf int "integration on SQLite"
run_node "integration build" tests/integration/*.test.mjs
say "== integration on PostgreSQL (build/)"
CR_TEST_DB=postgres
export CR_TEST_DB
conf int_pg "integration on PostgreSQL"
run_node "integration build postgres" tests/integration/*.test.mjs
unset CR_TEST_DB
say "== interop: oidc-provider (build/)"
conf interop "interop (oidc-provider)"
run_node "interop build" tests/interop/*.test.mjs
say "== e2e: chromium (build/)"
conf e2e "browser (chromium)"
run_node "e2e build" tests/e2e/*.test.mjs

# ---------------------------------------------------------------- 5. build-asan/
say "== make asan"
t0=$(date +%s)
if ! timeout "$T_MAKE" make -j"$JOBS" asan >"$OUT/make-asan.log" 2>&1; then
	tail -n 40 "$OUT/make-asan.log"
	add "build (make asan)" 0 1 $(($(date +%s) - t0))
	finish
fi
say "   built in $(($(date +%s) - t0)) s"

ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
LSAN_OPTIONS=suppressions=$PWD/tests/lsan.supp:print_suppressions=0
UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS

say "== unit tests (build-asan/)"
conf unit_asan "unit under ASan+UBSan (SQLite)"
run_unit build-asan
conf unit_asan_pg "unit under ASan+UBSan (PostgreSQL)"
run_unit_pg build-asan

say "== integration (build-asan/)"
CR_BIN_DIR=build-asan
export CR_BIN_DIR
conf int_asan "integration under ASan+UBSan"
run_node "integration build-asan" tests/integration/*.test.mjs
unset CR_BIN_DIR ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS

# ---------------------------------------------------------------- 6. fuzz (short, bounded)
# Every parser of untrusted input runs under libFuzzer for FUZZ_SECONDS each (make fuzz runs longer).
say "== fuzz: ${FUZZ_SECONDS:-10} s per target"
conf fuzz "fuzz (libFuzzer targets)"
t0=$(date +%s)
log="$OUT/fuzz.log"
timeout "$T_FUZZ" sh scripts/fuzz.sh "${FUZZ_SECONDS:-10}" >"$log" 2>&1
rc=$?
p=$(grep -Ec '^[a-z_]+ +[0-9]+ execs +ok$' "$log")
# A target that ran an unknown number of times (or none) did not run: a failure.
f=$(($(grep -Ec 'CRASH|build FAILED' "$log") + $(grep -Ec '^[a-z_]+ +(\?|0) execs' "$log")))
if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
if [ "$p" -eq 0 ] && [ "$f" -eq 0 ]; then f=1; fi
add "fuzz (libFuzzer)" "$p" "$f" $(($(date +%s) - t0))
grep -E 'execs' "$log" | sed 's/^/   /'
if [ "$f" -ne 0 ]; then show_failure "$log"; fi

finish
