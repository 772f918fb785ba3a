#!/bin/sh
# Issuance benchmark, step 4 (see bench/README.md, "Issuance (step 4)"): certificates per second from
# cr_pki_issue (build/bench/issue, N = BENCH_ISSUE_N, default 10000), beside, in the same run, the raw
# ECDSA P-256 sign rate (ours, EVP_DigestSign in the same program; and `openssl speed ecdsap256`) and
# `openssl ca` issuing BENCH_CA_N (200) certificates of the same profile from pre-made CSRs, one
# process each, with a throw-away CA. Prints a summary table with the two ratios and their bars:
# certrenew / openssl ca >= BENCH_MIN_CA_RATIO (100) and certrenew / raw sign >= BENCH_MIN_RAW_RATIO
# (0.25, against our own raw sign). Everything is made in a mktemp -d dir removed at exit (BENCH_KEEP=1
# keeps it, to look at openssl ca's certificates).
# Exit 0 when both bars are met, 1 when one is missed, 2 when the setup or a run failed. POSIX sh.
set -eu

cd "$(dirname "$0")/.."
N=${BENCH_ISSUE_N:-10000}
CA_N=${BENCH_CA_N:-200}
SPEED_S=${BENCH_SPEED_SECONDS:-3}
MIN_CA_RATIO=${BENCH_MIN_CA_RATIO:-100}
MIN_RAW_RATIO=${BENCH_MIN_RAW_RATIO:-0.25}

for v in "$N" "$CA_N" "$SPEED_S"; do
	case $v in '' | *[!0-9]*) echo "bench: BENCH_ISSUE_N, BENCH_CA_N, BENCH_SPEED_SECONDS must be numbers" >&2; exit 2 ;; esac
done
if [ "$CA_N" -lt 1 ] || [ "$CA_N" -gt 10000 ]; then echo "bench: BENCH_CA_N must be 1..10000" >&2; exit 2; fi
if [ "$SPEED_S" -lt 1 ] || [ "$SPEED_S" -gt 60 ]; then echo "bench: BENCH_SPEED_SECONDS must be 1..60" >&2; exit 2; fi
for tool in openssl make awk timeout; do
	command -v "$tool" >/dev/null 2>&1 || { echo "bench: $tool is missing" >&2; exit 2; }
done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/certrenew-bench-issue.XXXXXX")
cleanup() {
	if [ -n "${BENCH_KEEP:-}" ]; then echo "bench: kept $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 2' INT TERM HUP

fail() {
	echo "bench: $*" >&2
	exit 2
}

now_ns() { date +%s%N; }

# ---- 1. certrenew: build/bench/issue N ----
make -s bench-issue >"$WORK/make.log" 2>&1 || { cat "$WORK/make.log" >&2; fail "make bench-issue failed"; }
echo "== certrenew: build/bench/issue $N"
rc=0
timeout 600 build/bench/issue "$N" >"$WORK/issue.out" 2>"$WORK/issue.err" || rc=$?
cat "$WORK/issue.out"
[ $rc -eq 0 ] || { cat "$WORK/issue.err" >&2; fail "build/bench/issue exited $rc"; }
ISSUE_RATE=$(awk '/^issue cr_pki_issue:/ {print $3}' "$WORK/issue.out")
ISSUE_MS=$(awk '/^issue cr_pki_issue:/ {print $5}' "$WORK/issue.out")
RAW_RATE=$(awk '/^raw ECDSA P-256 sign/ {for (i = 1; i < NF; i++) if ($(i + 1) == "signs/s,") print $i}' "$WORK/issue.out")
if [ -z "$ISSUE_RATE" ] || [ -z "$RAW_RATE" ]; then fail "cannot read build/bench/issue's figures"; fi

# ---- 2. openssl speed ecdsap256 ----
echo "== openssl speed -seconds $SPEED_S ecdsap256"
timeout $((SPEED_S * 2 + 60)) openssl speed -seconds "$SPEED_S" ecdsap256 >"$WORK/speed.out" 2>"$WORK/speed.err" ||
	{ cat "$WORK/speed.err" >&2; fail "openssl speed failed"; }
SPEED_LINE=$(grep 'bits ecdsa (nistp256)' "$WORK/speed.out" || true)
grep 'sign/s' "$WORK/speed.out" || true
echo "$SPEED_LINE"
SPEED_RATE=$(echo "$SPEED_LINE" | awk '{print $(NF - 1)}')
[ -n "$SPEED_RATE" ] || fail "cannot read openssl speed's sign/s"

# ---- 3. openssl ca, CA_N times, one process per certificate ----
CA="$WORK/ca"
mkdir -p "$CA/newcerts" "$CA/csr" "$CA/certs"
: >"$CA/index.txt"
echo 1000 >"$CA/serial"
cat >"$CA/openssl.cnf" <<EOF
[ ca ]
default_ca = bench_ca

[ bench_ca ]
dir = $CA
database = \$dir/index.txt
serial = \$dir/serial
new_certs_dir = \$dir/newcerts
certificate = \$dir/ca.pem
private_key = \$dir/ca.key
default_md = sha256
default_days = 730
policy = policy_anything
x509_extensions = cloudsign_cert
unique_subject = no
utf8 = yes
string_mask = utf8only

[ policy_anything ]
countryName = optional
organizationName = optional
organizationalUnitName = optional
title = optional
commonName = supplied
emailAddress = optional

[ cloudsign_cert ]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,nonRepudiation
extendedKeyUsage = emailProtection,1.3.6.1.5.5.7.3.36
subjectAltName = email:wong.siuming@example.gov.mo
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
certificatePolicies = 2.999.1.3
crlDistributionPoints = URI:http://127.0.0.1/pki/cloudsign.crl
authorityInfoAccess = caIssuers;URI:http://127.0.0.1/pki/cloudsign.cer

[ req ]
distinguished_name = req_dn
utf8 = yes
string_mask = utf8only
prompt = no

[ req_dn ]
CN = unused

[ v3_ca ]
basicConstraints = critical,CA:TRUE,pathlen:0
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
EOF
SUBJ='/C=MO/O=澳門特別行政區政府/OU=行政公職局/title=高級技術員/CN=黃小明'
timeout 60 openssl req -config "$CA/openssl.cnf" -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-keyout "$CA/ca.key" -out "$CA/ca.pem" -days 3650 -sha256 -extensions v3_ca \
	-subj '/C=MO/O=Bench (throw-away)/CN=Bench openssl ca Issuing CA' >"$WORK/ca.log" 2>&1 ||
	{ cat "$WORK/ca.log" >&2; fail "cannot make the openssl CA"; }
echo "== openssl ca: $CA_N CSRs (P-256), made before the timing"
i=1
while [ $i -le "$CA_N" ]; do
	timeout 60 openssl req -config "$CA/openssl.cnf" -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -utf8 \
		-keyout "$CA/csr/$i.key" -out "$CA/csr/$i.csr" -subj "$SUBJ" >>"$WORK/csr.log" 2>&1 ||
		{ tail -n 5 "$WORK/csr.log" >&2; fail "CSR $i failed"; }
	i=$((i + 1))
done
echo "== openssl ca -batch -notext x $CA_N"
t0=$(now_ns)
i=1
while [ $i -le "$CA_N" ]; do
	timeout 60 openssl ca -config "$CA/openssl.cnf" -batch -notext -utf8 -in "$CA/csr/$i.csr" \
		-out "$CA/certs/$i.pem" >>"$WORK/ca-issue.log" 2>&1 ||
		{ tail -n 10 "$WORK/ca-issue.log" >&2; fail "openssl ca failed at $i"; }
	i=$((i + 1))
done
t1=$(now_ns)
CA_RATE=$(awk -v n="$CA_N" -v ns=$((t1 - t0)) 'BEGIN {printf "%.1f", n / (ns / 1e9)}')
CA_MS=$(awk -v n="$CA_N" -v ns=$((t1 - t0)) 'BEGIN {printf "%.2f", ns / 1e6 / n}')
echo "openssl ca: $CA_RATE certs/s, $CA_MS ms/cert (process start included)"
# The same check as certrenew's sample gets, on openssl ca's last certificate.
timeout 60 openssl verify -x509_strict -CAfile "$CA/ca.pem" "$CA/certs/$CA_N.pem" ||
	fail "openssl ca's certificate does not verify"

# ---- 4. summary ----
awk -v issue="$ISSUE_RATE" -v issue_ms="$ISSUE_MS" -v raw="$RAW_RATE" -v speed="$SPEED_RATE" -v ca="$CA_RATE" \
    -v ca_ms="$CA_MS" -v date="$(date '+%Y-%m-%d %H:%M')" -v host="$(nproc) cores" -v min_ca="$MIN_CA_RATIO" -v min_raw="$MIN_RAW_RATIO" -v n="$N" -v ca_n="$CA_N" 'BEGIN {
	r_ca = issue / ca; r_raw = issue / raw; r_speed = issue / speed
	printf "\n== summary (%s, %s)\n", date, host
	printf "| measure | rate | per op |\n|---|---|---|\n"
	printf "| certrenew cr_pki_issue (N = %d) | %.0f certs/s | %s ms |\n", n, issue, issue_ms
	printf "| raw ECDSA P-256 sign, ours (EVP_DigestSign, SHA-256, 300 B) | %.0f signs/s | %.3f ms |\n", raw, 1e3 / raw
	printf "| raw ECDSA P-256 sign, openssl speed | %.0f signs/s | %.3f ms |\n", speed, 1e3 / speed
	printf "| openssl ca -batch -notext (N = %d, one process each) | %.1f certs/s | %s ms |\n", ca_n, ca, ca_ms
	printf "\n| ratio | value | bar | |\n|---|---|---|---|\n"
	ok_ca = r_ca >= min_ca; ok_raw = r_raw >= min_raw
	printf "| certrenew / openssl ca | %.1fx | >= %sx | %s |\n", r_ca, min_ca, ok_ca ? "met" : "MISSED"
	printf "| certrenew / raw sign (ours) | %.1f%% | >= %.0f%% | %s |\n", r_raw * 100, min_raw * 100, ok_raw ? "met" : "MISSED"
	printf "| certrenew / raw sign (openssl speed) | %.1f%% | (for reference) | |\n", r_speed * 100
	exit (ok_ca && ok_raw) ? 0 : 1
}' || exit 1
