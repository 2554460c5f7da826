#!/usr/bin/env bash
# The conformance suite (Tests/conformance): starts a fresh `crynux serve` on free loopback ports with a throwaway
# data directory, then runs the official `openai` and `anthropic` Python packages, `langchain-crynux`, jsonschema,
# Prometheus's text parser, a headless Chromium and the examples of Examples/ (their binaries beside CRYNUX_BIN)
# against it.
# Usage: scripts/conformance.sh CRYNUX_BIN [extra pytest arguments]
set -euo pipefail

if [ $# -lt 1 ]; then
  echo "usage: $0 CRYNUX_BIN [pytest arguments]" >&2
  exit 2
fi
bin="$1"
shift
case "$bin" in /*) ;; *) bin="$PWD/$bin" ;; esac
if [ ! -x "$bin" ]; then
  echo "conformance: $bin is not an executable (build it first: swift build -c release)" >&2
  exit 2
fi
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

# --- The virtualenv, rebuilt only when the pins (or the Python) change. ---
pins=(openai==3.54.0 anthropic==2.17.0 langchain-crynux==0.2.0 langchain-openai==1.8.1 langchain-core==1.8.3 pytest==9.0.3 jsonschema==4.26.0
  playwright==1.65.2 prometheus-client==0.26.0 openapi-spec-validator==0.9.0)
venv="$root/.venv-conformance"
py="$venv/bin/python"
stamp="$venv/.conformance-pins"
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1   # the tests drive Debian's /usr/bin/chromium
want="$(printf '%s\n' "${pins[@]}" "$(python3 -c 'import sys; print(sys.version)')")"
if [ ! -x "$py" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ] || ! "$py" -c '' 2>/dev/null; then
  echo "conformance: preparing $venv (${pins[*]})" >&2
  rm -rf "$venv"
  if ! python3 -m venv "$venv"; then
    echo "conformance: python3 -m venv failed (on Debian the python3-venv package provides it)" >&2
    exit 1
  fi
  "$py" -m pip install -q --disable-pip-version-check "${pins[@]}"
  printf '%s\n' "$want" >"$stamp"
fi

# --- A fresh Bridge on two free loopback ports. ---
read -r port relay_port < <("$py" -c '
import socket
a, b = socket.socket(), socket.socket()
a.bind(("127.0.0.1", 0)); b.bind(("127.0.0.1", 0))
print(a.getsockname()[1], b.getsockname()[1])')
dir="$(mktemp -d "${TMPDIR:-/tmp}/crynux-conformance.XXXXXX")"
server_pid=""
tests_pid=""

cleanup() {
  local status=$?
  if [ -n "$tests_pid" ]; then
    kill "$tests_pid" 2>/dev/null || true
    wait "$tests_pid" 2>/dev/null || true
  fi
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill "$server_pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  if [ "$status" -ne 0 ] && [ -f "$dir/stderr.log" ]; then
    echo "conformance: failed ($status); last lines of crynux serve's stderr:" >&2
    tail -n 60 "$dir/stderr.log" >&2 || true
  fi
  rm -rf "$dir"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Loopback never goes through a proxy.
export NO_PROXY="127.0.0.1,localhost${NO_PROXY:+,$NO_PROXY}"
export no_proxy="$NO_PROXY"

"$bin" serve --data-dir "$dir" --port "$port" --relay-port "$relay_port" >"$dir/stdout.log" 2>"$dir/stderr.log" &
server_pid=$!

# Up to 120 s for GET /health to answer 200 (the node loads the model first).
"$py" - "$port" "$server_pid" <<'EOF'
import os, sys, time, urllib.request
port, pid = sys.argv[1], int(sys.argv[2])
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
deadline = time.monotonic() + 120
while time.monotonic() < deadline:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        sys.exit("conformance: crynux serve exited before it answered /health")
    try:
        with opener.open(f"http://127.0.0.1:{port}/health", timeout=2) as response:
            if response.status == 200:
                sys.exit(0)
    except Exception:
        pass
    time.sleep(0.2)
sys.exit("conformance: GET /health did not answer 200 within 120 s")
EOF

# The first API key and the admin token are in 0600 files; stdout (not a terminal here) names only the files.
api_key="$(cat "$dir/first-api-key" 2>/dev/null || true)"
admin_token="$(cat "$dir/admin-token" 2>/dev/null || true)"
if [ -z "$api_key" ] || [ -z "$admin_token" ]; then
  echo "conformance: crynux serve did not write $dir/first-api-key and $dir/admin-token; it printed:" >&2
  cat "$dir/stdout.log" >&2
  exit 1
fi
if grep -q 'sk-crynux-\|adm-crynux-' "$dir/stdout.log" "$dir/stderr.log"; then
  echo "conformance: a secret reached crynux serve's output (it is not a terminal):" >&2
  exit 1
fi
[ "$(stat -c %a "$dir/first-api-key")" = 600 ] && [ "$(stat -c %a "$dir/admin-token")" = 600 ] && [ "$(stat -c %a "$dir")" = 700 ] || {
  echo "conformance: the secrets must be 0600 in a 0700 folder" >&2
  exit 1
}

export CRYNUX_BASE_URL="http://127.0.0.1:$port/v1"
export CRYNUX_ROOT_URL="http://127.0.0.1:$port"
export CRYNUX_RELAY_URL="http://127.0.0.1:$relay_port"
export CRYNUX_API_KEY="$api_key"
export CRYNUX_ADMIN_TOKEN="$admin_token"
export CRYNUX_BIN="$bin"
export CRYNUX_DATA_DIR="$dir"

# In the background, so that an interrupt reaches the traps at once (they stop the tests and the server).
"$py" -m pytest -q -p no:cacheprovider Tests/conformance "$@" &
tests_pid=$!
status=0
wait "$tests_pid" || status=$?
tests_pid=""
exit "$status"
