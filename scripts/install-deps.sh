#!/bin/sh
# Installs the Debian 12 packages certrenew needs to build, run and test.
# Idempotent: asks apt only for what is missing, so a second run is quick and offline.
set -eu

PKGS="build-essential pkg-config clang \
libmicrohttpd-dev libcurl4-openssl-dev libjansson-dev libcjose-dev \
libsqlite3-dev sqlite3 libpq-dev postgresql libsodium-dev libssl-dev openssl libcmocka-dev \
libjpeg62-turbo-dev libpng-dev libtiff-dev libcairo2-dev libpango1.0-dev libqrencode-dev libzxcvbn-dev poppler-utils zbar-tools \
nodejs npm chromium fonts-noto-cjk curl wrk nginx python3 python3-aiosmtpd ca-certificates"

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
		missing="$missing $p"
	fi
done
# Node may come from elsewhere than Debian (a newer one on some images); accept it.
if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
	missing=$(echo "$missing" | sed -e 's/\bnodejs\b//' -e 's/\bnpm\b//')
fi
missing=$(echo $missing)
if [ -n "$missing" ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "install-deps: missing packages: $missing (run as root, or install them)" >&2
		exit 1
	fi
	echo "install-deps: installing $missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q >/dev/null
	apt-get install -y -q --no-install-recommends $missing >/dev/null
fi
