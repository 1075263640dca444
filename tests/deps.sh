#!/usr/bin/env bash
# Install what tcbscope needs to build and test on Debian 12 (run as root).
# Both README quick-start commands call this; it does nothing when all is there.
set -euo pipefail
pkgs=(meson ninja-build pkg-config gcc clang libclang-rt-14-dev libpcap-dev libjson-c-dev
      libsqlite3-dev nettle-dev libcmocka-dev python3 python3-jsonschema sqlite3 jq valgrind
      chromium fonts-dejavu-core)
missing=()
pkgs+=(zlib1g-dev libzstd-dev) # compressed captures (dissectors/reader.c)
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
    echo "tcbscope: installing ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
