# rwkvbench — see README.md. `make demo` runs the main job; `make test` runs the tests.
GO      ?= go
BIN     ?= bin
PKGS    := ./...
LDFLAGS := -s -w

.PHONY: all build test vet demo bench fuzz cross agents android-qnn clean

all: build

build:
	$(GO) build -o $(BIN)/ ./cmd/...

vet:
	$(GO) vet $(PKGS)

# The whole suite; then the thread pool and the engine's parallel paths under the race
# detector, and the engine with its NEON kernels under qemu-aarch64 when it is
# installed (apt-get install qemu-user).
# Fixtures come from testdata/; tests that need ../shared/data say so when they skip.
test: vet
	$(GO) test -count=1 -timeout 14m $(PKGS)
	$(GO) test -count=1 -race ./model/kernel/
	$(GO) test -count=1 -race -run 'ThreadsAgree|SequenceMatchesTokenMode|ForwardTail' ./model/
	@if command -v qemu-aarch64 >/dev/null 2>&1; then \
	  echo "GOARCH=arm64 go test -exec qemu-aarch64 ./model/kernel/... ./model/"; \
	  GOARCH=arm64 $(GO) test -count=1 -exec qemu-aarch64 ./model/kernel/... ./model/; \
	else echo "(qemu-aarch64 not installed: the arm64 NEON kernels were not run; apt-get install qemu-user)"; fi

# A short run of every fuzz target, each for FUZZTIME.
FUZZTIME ?= 20s
fuzz:
	@set -e; for pkg in $$($(GO) list $(PKGS)); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "fuzz $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; done

# The main job on the embedded default: a small plan over the bundled tiny trained
# model on this host's CPU (and two emulated adb phones when the adb client is
# installed), ending in the Markdown report, the recommendation and the plots.
demo: build
	@if command -v adb >/dev/null 2>&1; then plan=testdata/demo/plan.toml; else \
	  echo "(adb not installed: the demo runs on this host only; 'apt-get install adb' adds two emulated phones)"; \
	  plan=testdata/demo/plan-local.toml; fi; \
	./$(BIN)/rwkvbench run --plan $$plan

# Engine speed (issue #8): tg128 and pp512 on the synthetic v7-0.1b shape (random
# weights of the real shapes), 2 threads, for fp32/fp16/int8 weight storage, plus the
# kernels' GB/s and GFLOP/s. RWKVBENCH_SYNTHETIC=v7-0.1b,v7-0.4b measures more shapes.
bench:
	$(GO) test -run '^$$' -bench 'Engine(TG128|PP512)' -benchtime 2x ./model/
	$(GO) test -run '^$$' -bench 'Mul|WKV' -benchtime 20x ./model/kernel/simd/

# Cross builds of the CLI and the device agent. CGO is off: the QNN bindings use purego.
cross: agents
	GOOS=linux   GOARCH=arm64 CGO_ENABLED=0 $(GO) build -ldflags '$(LDFLAGS)' -o $(BIN)/linux-arm64/   ./cmd/...
	GOOS=windows GOARCH=arm64 CGO_ENABLED=0 $(GO) build -ldflags '$(LDFLAGS)' -o $(BIN)/windows-arm64/ ./cmd/...

agents:
	GOOS=linux   GOARCH=arm64 CGO_ENABLED=0 $(GO) build -ldflags '$(LDFLAGS)' -o $(BIN)/agent/linux-arm64/rwkvbench-agent ./cmd/rwkvbench-agent
	GOOS=android GOARCH=arm64 CGO_ENABLED=0 $(GO) build -ldflags '$(LDFLAGS)' -o $(BIN)/agent/android-arm64/rwkvbench-agent ./cmd/rwkvbench-agent
	GOOS=windows GOARCH=arm64 CGO_ENABLED=0 $(GO) build -ldflags '$(LDFLAGS)' -o $(BIN)/agent/windows-arm64/rwkvbench-agent.exe ./cmd/rwkvbench-agent
	CGO_ENABLED=0 $(GO) build -ldflags '$(LDFLAGS)' -o $(BIN)/agent/host/rwkvbench-agent ./cmd/rwkvbench-agent

# Android agent with the QNN runtime: purego needs cgo on Android, hence the NDK's clang.
# 'make agents' builds the CPU-only Android agent without an NDK.
ANDROID_API ?= 24
NDK_HOST    ?= linux-x86_64
NDK_CC       = $(ANDROID_NDK_ROOT)/toolchains/llvm/prebuilt/$(NDK_HOST)/bin/aarch64-linux-android$(ANDROID_API)-clang

android-qnn:
	@test -n "$(ANDROID_NDK_ROOT)" || { echo "android-qnn: ANDROID_NDK_ROOT is not set. The QNN runtime on Android needs cgo (purego) and an Android NDK: export ANDROID_NDK_ROOT=/path/to/android-ndk. 'make agents' builds the CPU-only Android agent without it." >&2; exit 1; }
	@test -x "$(NDK_CC)" || { echo "android-qnn: $(NDK_CC) not found; check ANDROID_NDK_ROOT, NDK_HOST ($(NDK_HOST)) and ANDROID_API ($(ANDROID_API))" >&2; exit 1; }
	GOOS=android GOARCH=arm64 CGO_ENABLED=1 CC="$(NDK_CC)" $(GO) build -ldflags '$(LDFLAGS)' -o $(BIN)/agent/android-arm64-qnn/rwkvbench-agent ./cmd/rwkvbench-agent

clean:
	rm -rf $(BIN)
