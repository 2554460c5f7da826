#!/usr/bin/env bash
# Installs the Debian packages the build and the tests need, only when one is missing.
# Safe to run again: it does nothing once everything is present.
set -euo pipefail
packages=(libsqlite3-dev libcurl4-openssl-dev libsecp256k1-dev zlib1g-dev pkg-config python3 python3-venv chromium)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then exit 0; fi
echo "installing system packages: ${missing[*]}"
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q
$sudo apt-get install -y -q "${missing[@]}"
