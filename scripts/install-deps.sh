#!/usr/bin/env bash
# Installs the Debian packages modelmux needs to build, test, demo and
# benchmark, but only those that are missing. Called by `make test`,
# `make demo` and `make bench`; safe to run again (it does nothing then).
# Needs root (or sudo) only when something is missing.
set -euo pipefail

pkgs=(
  build-essential cmake pkg-config
  libmicrohttpd-dev libcurl4-openssl-dev libsqlite3-dev libjansson-dev
  libyaml-dev libhiredis-dev libssl-dev libgnutls28-dev openssl
  sqlite3 redis-server curl jq python3 python3-jsonschema python3-yaml python3-pytest
  chromium
)
# Node.js may come from Debian or from NodeSource (whose nodejs conflicts
# with Debian's npm): ask for it only when there is no node at all.
command -v node >/dev/null && command -v npm >/dev/null || pkgs+=(nodejs npm)
if [ "${1:-}" = "--bench" ]; then
  pkgs+=(wrk nginx-light strace openssl)
fi

missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "install-deps: installing ${missing[*]}" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: need root to install: ${missing[*]}" >&2; exit 1; }
  SUDO=sudo
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
