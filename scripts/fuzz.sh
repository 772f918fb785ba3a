#!/bin/sh
# Builds and runs every libFuzzer target, as `make fuzz` runs it:
#   sh scripts/fuzz.sh [SECONDS]        (default 20 seconds per target)
#
# Each fuzz/fuzz_NAME.c is linked with all of src/*/*.c except src/main.c (compiled once into
# build-fuzz/libcertrenew-fuzz.a with -fsanitize=fuzzer-no-link,address,undefined) into
# build-fuzz/fuzz_NAME, then run for SECONDS seconds with a scratch corpus build-fuzz/corpus/NAME/
# (new inputs land there, never in the repository) followed by the seeds in fuzz/corpus/NAME/.
# Crash inputs are written to build-fuzz/crashes/. Prints one line per target with its executions
# and result; exits non-zero when a target fails to build or crashes (any sanitizer report, leak,
# timeout or abort). A library source that does not compile is reported as a warning and left out.
# Needs clang. POSIX sh.
set -u

cd "$(dirname "$0")/.." || exit 1
SECONDS_EACH=${1:-20}
case $SECONDS_EACH in
'' | *[!0-9]*)
	echo "usage: sh scripts/fuzz.sh [SECONDS]" >&2
	exit 2
	;;
esac

CLANG=${CLANG:-clang}
OUT=build-fuzz
PKGS="libmicrohttpd libcurl jansson cjose sqlite3 libpq libsodium openssl libjpeg libpng libtiff-4 pangocairo cairo-pdf libqrencode"
SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined"
CFLAGS_FUZZ="-g -O1 -std=c17 -D_GNU_SOURCE -fno-omit-frame-pointer -Wall -Wextra -Isrc"
JOBS=$(nproc 2>/dev/null || echo 2)

if ! command -v "$CLANG" >/dev/null 2>&1; then
	echo "fuzz: $CLANG not found (libFuzzer needs clang)" >&2
	exit 1
fi
if ! PKG_CFLAGS=$(pkg-config --cflags $PKGS) || ! PKG_LIBS=$(pkg-config --libs $PKGS); then
	echo "fuzz: pkg-config cannot find $PKGS (run make deps)" >&2
	exit 1
fi
mkdir -p "$OUT/obj" "$OUT/corpus" "$OUT/crashes" "$OUT/logs" || exit 1

# ---------------------------------------------------------------- library
# An object is rebuilt when it is missing or older than its source or any header under src/.
# Object names carry the folder (src/web/x.c -> web_x.o) so equal base names do not collide.
newest_h=$(ls -t src/*/*.h 2>/dev/null | head -n 1)
stale=""
objs=""
for c in src/*/*.c; do
	o="$OUT/obj/$(echo "${c#src/}" | tr '/' '_' | sed 's/\.c$/.o/')"
	objs="$objs $o"
	if [ ! -f "$o" ] || [ "$c" -nt "$o" ] || { [ -n "$newest_h" ] && [ "$newest_h" -nt "$o" ]; }; then
		stale="$stale $c"
	fi
done
# Objects whose source is gone (a moved file) must not linger in the archive.
for o in "$OUT"/obj/*.o; do
	[ -f "$o" ] || continue
	case " $objs " in *" $o "*) ;; *) rm -f "$o" ;; esac
done
# A source that does not compile (someone's work in progress) is reported and left out; a target
# that needs it then fails to link and is reported as a build failure.
if [ -n "$stale" ]; then
	echo "fuzz: compiling $(echo "$stale" | wc -w | tr -d ' ') library sources"
	# shellcheck disable=SC2086
	printf '%s\n' $stale | xargs -P "$JOBS" -I{} sh -c '
		c=$1; shift
		o="'"$OUT"'/obj/$(echo "${c#src/}" | tr "/" "_" | sed "s/\.c\$/.o/")"
		"$@" -c "$c" -o "$o" 2>"$o.log" || { rm -f "$o"; exit 0; }
		rm -f "$o.log"' _ {} "$CLANG" $CFLAGS_FUZZ -fsanitize=fuzzer-no-link $SAN $PKG_CFLAGS
fi
built=""
for o in $objs; do
	if [ -f "$o" ]; then
		built="$built $o"
	else
		echo "fuzz: warning: ${o#$OUT/obj/} did not compile (left out of the fuzz library):" >&2
		head -n 5 "$o.log" >&2
	fi
done
rm -f "$OUT/libcertrenew-fuzz.a"
# shellcheck disable=SC2086
ar rcs "$OUT/libcertrenew-fuzz.a" $built || exit 1

# ---------------------------------------------------------------- targets
failed=0
ntargets=0
for src in fuzz/fuzz_*.c; do
	[ -f "$src" ] || continue
	ntargets=$((ntargets + 1))
	base=$(basename "$src" .c)
	name=${base#fuzz_}
	bin="$OUT/$base"
	log="$OUT/logs/$name.log"
	# shellcheck disable=SC2086
	if ! "$CLANG" $CFLAGS_FUZZ -fsanitize=fuzzer $SAN $PKG_CFLAGS "$src" "$OUT/libcertrenew-fuzz.a" \
	    $PKG_LIBS -lzxcvbn -lpthread -lm -o "$bin" >"$log" 2>&1; then
		printf '%-12s build FAILED (see %s)\n' "$name" "$log"
		tail -n 20 "$log"
		failed=1
		continue
	fi
	mkdir -p "$OUT/corpus/$name"
	seeds=""
	[ -d "fuzz/corpus/$name" ] && seeds="fuzz/corpus/$name"
	# shellcheck disable=SC2086
	ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1} \
	    "$bin" -max_total_time="$SECONDS_EACH" -print_final_stats=1 \
	    -artifact_prefix="$OUT/crashes/$name-" "$OUT/corpus/$name" $seeds >"$log" 2>&1
	rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *\([0-9][0-9]*\).*/\1/p' "$log" | tail -n 1)
	[ -n "$execs" ] || execs=$(sed -n 's/^Done \([0-9][0-9]*\) runs.*/\1/p' "$log" | tail -n 1)
	if [ "$rc" -eq 0 ]; then
		printf '%-12s %10s execs  ok\n' "$name" "${execs:-?}"
	else
		artifact=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)
		printf '%-12s %10s execs  CRASH (exit %s)%s; log %s\n' "$name" "${execs:-?}" "$rc" \
		    "${artifact:+, input $artifact}" "$log"
		grep -E -m 5 'ERROR: |runtime error:|SUMMARY: |deadly signal' "$log"
		failed=1
	fi
done

if [ "$ntargets" -eq 0 ]; then
	echo "fuzz: no fuzz/fuzz_*.c targets" >&2
	exit 1
fi
exit "$failed"
