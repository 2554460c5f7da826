#!/usr/bin/env bash
# Runs a build command and fails if the compiler warned about any file of ours (Sources/, Tests/, Examples/, Plugins/).
set -euo pipefail
log=$(mktemp)
trap 'rm -f "$log"' EXIT
"$@" 2>&1 | tee "$log"
if grep -E "/(Sources|Tests|Examples|Plugins)/[^:]+:[0-9]+:[0-9]+: warning:" "$log" >/dev/null; then
  echo "build produced warnings in project code (the project builds warning-free):" >&2
  grep -E "/(Sources|Tests|Examples|Plugins)/[^:]+:[0-9]+:[0-9]+: warning:" "$log" | sort -u >&2
  exit 1
fi
