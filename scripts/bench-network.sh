#!/usr/bin/env bash
# Protocol overhead of the local network: time from CrynuxClient.run to the result of a 1-token chat (relay on
# loopback with real sockets, one node with the real engine), minus the engine's own time for the same task.
# Runs `crynux bench network` RUNS times (default 5; 20 chats each) and prints every report.
# Usage: scripts/bench-network.sh [RUNS] [extra options for crynux bench network]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
shift || true
swift build -c release -Xswiftc -enable-testing >/dev/null
crynux="$(swift build -c release -Xswiftc -enable-testing --show-bin-path)/crynux"
"$crynux" model fetch --quiet >/dev/null
for i in $(seq "$runs"); do "$crynux" bench network "$@" 2>/dev/null; done
