#!/usr/bin/env bash
# The Bridge from the shell: the models a key may use, one answer, then a streamed one (Server-Sent Events).
#   CRYNUX_API_KEY=sk-crynux-... Examples/frontend/curl.sh [BASE_URL]
set -euo pipefail
base=${1:-http://127.0.0.1:8080/v1}
auth="Authorization: Bearer ${CRYNUX_API_KEY:?set CRYNUX_API_KEY}"
body='{"model":"HuggingFaceTB/SmolLM2-135M-Instruct","messages":[{"role":"user","content":"What is 2+2?"}],"max_tokens":32,"temperature":0}'

curl -s "$base/models" -H "$auth"; echo
curl -s "$base/chat/completions" -H "$auth" -H 'Content-Type: application/json' -d "$body"; echo
# -N: print each event as it arrives. A retry with the same Idempotency-Key joins the run it already paid for.
curl -sN "$base/chat/completions" -H "$auth" -H 'Content-Type: application/json' -H "Idempotency-Key: demo-$(date +%s)" \
  -d "${body%\}},\"stream\":true}"
