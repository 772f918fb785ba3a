# Sourced by bench/pages.sh and bench/notices.sh: the PostgreSQL database the benchmarks use.
#   BENCH_DATABASE_URL, or else CERTRENEW_DATABASE_URL when it is a postgresql:// URL: an existing database.
#   Neither: the script re-runs itself under `node tests/lib/postgres.mjs run --`, which starts a throw-away
#   PostgreSQL 15 (initdb in a temp dir, loopback port, fsync off) and removes it at the end; a fresh
#   database is created there.
# Sets BENCH_PG_URL. Needs BACKENDS (the backends to run), SELF (the script, absolute) and its arguments ("$@").
# POSIX sh.
bench_pg_setup() {
	case " $BACKENDS " in *" postgres "*) ;; *) return 0 ;; esac
	if [ -n "${BENCH_DATABASE_URL:-}" ]; then
		BENCH_PG_URL=$BENCH_DATABASE_URL
		BENCH_PG_KIND="given (BENCH_DATABASE_URL)"
	elif [ -n "${CERTRENEW_DATABASE_URL:-}" ] && case $CERTRENEW_DATABASE_URL in postgres://* | postgresql://*) true ;; *) false ;; esac; then
		BENCH_PG_URL=$CERTRENEW_DATABASE_URL
		BENCH_PG_KIND="given (CERTRENEW_DATABASE_URL)"
	elif [ -n "${CR_TEST_DATABASE_URL:-}" ]; then
		# Inside postgres.mjs run: a fresh database on the throw-away server.
		db="crbench_$$"
		psql -X -q -d "$CR_TEST_DATABASE_URL" -c "CREATE DATABASE $db" >/dev/null || { echo "bench: createdb failed" >&2; exit 2; }
		BENCH_PG_URL="${CR_TEST_DATABASE_URL%/*}/$db"
		BENCH_PG_KIND="throw-away PostgreSQL 15 (tests/lib/postgres.mjs: fsync=off, synchronous_commit=off)"
	else
		command -v node >/dev/null 2>&1 || { echo "bench: node is needed to start a throw-away PostgreSQL (or set BENCH_DATABASE_URL)" >&2; exit 2; }
		CR_PG_RUN_TIMEOUT_MS=${CR_PG_RUN_TIMEOUT_MS:-5400000}
		export CR_PG_RUN_TIMEOUT_MS
		exec node tests/lib/postgres.mjs run -- sh "$SELF" "$@"
	fi
	export BENCH_PG_URL BENCH_PG_KIND
}
