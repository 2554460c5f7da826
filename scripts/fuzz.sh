#!/usr/bin/env bash
# Coverage-guided fuzzing (libFuzzer) of the parsers that read untrusted bytes: scripts/fuzz.sh [SECONDS] [TARGET…]
# Builds the Fuzz/ package with -sanitize=fuzzer, runs each target for SECONDS (default 300) from its seed corpus in
# Fuzz/Corpus/<target> (new inputs go to .build-fuzz/corpus/<target>, crashes to .build-fuzz/crashes/<target>/),
# prints executions and crashes per target, and exits 1 if any target crashed. `make test` runs it for a few
# seconds per target as a smoke test; `make fuzz` for the full time.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
seconds=${1:-300}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(FuzzJSON FuzzGGUF FuzzPNG FuzzKeystore FuzzJinja FuzzForms FuzzTaskArgs)
case "$seconds" in ''|*[!0-9]*) echo "fuzz: SECONDS must be a whole number" >&2; exit 2 ;; esac

work="$root/.build-fuzz"
mkdir -p "$work"
# One product at a time: a whole-package build would also compile the Bridge's asset plugin tool with
# -parse-as-library. Swift's own crash handler is off so that libFuzzer records each crashing input.
export SWIFT_BACKTRACE=enable=no
for t in "${targets[@]}"; do
  echo "fuzz: building $t (-sanitize=fuzzer)" >&2
  if ! (cd Fuzz && swift build -c release --sanitize fuzzer -Xswiftc -parse-as-library -Xswiftc -enable-testing --product "$t") >"$work/build-$t.log" 2>&1; then
    echo "fuzz: building $t failed:" >&2
    grep -E "error" "$work/build-$t.log" | head -n 20 >&2
    exit 1
  fi
done
bin=$(cd Fuzz && swift build -c release --sanitize fuzzer -Xswiftc -parse-as-library -Xswiftc -enable-testing --show-bin-path)
failed=0
printf '%-14s %12s %10s %8s\n' target executions exec/s crashes
for t in "${targets[@]}"; do
  mkdir -p "$work/corpus/$t" "$work/crashes/$t"
  log="$work/$t.log"
  set +e
  "$bin/$t" -max_total_time="$seconds" -print_final_stats=1 -rss_limit_mb=3072 -timeout=10 -max_len=65536 \
    -artifact_prefix="$work/crashes/$t/" "$work/corpus/$t" "$root/Fuzz/Corpus/$t" >"$log" 2>&1
  rc=$?
  set -e
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
  crashes=$(find "$work/crashes/$t" -type f | wc -l)
  printf '%-14s %12s %10s %8s\n' "$t" "${runs:-?}" "${rate:-?}" "$crashes"
  if [ "$rc" -ne 0 ] || [ "$crashes" -gt 0 ]; then
    failed=1
    echo "fuzz: $t failed (exit $rc); the end of its log ($log):" >&2
    tail -n 30 "$log" >&2
  fi
done
exit "$failed"
