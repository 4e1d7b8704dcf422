# Parley: every target installs what it needs first (`deps`), so a fresh Debian
# machine goes from clone to passing tests with `make test` alone.

SHELL := /bin/bash
.DEFAULT_GOAL := test

# Debian packages the build and the tests need (checked one by one; only missing
# ones are installed).
APT_PACKAGES := pkg-config libsodium-dev libnice-dev libwebsockets-dev libwebsockets-evlib-ev libev-dev libssl-dev coturn libopus-dev tmux
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
FUZZ_SECONDS ?= 60
SMOKE_FUZZ_SECONDS ?= 10

# A crash must not hang on the interactive backtracer (CI has no terminal).
export SWIFT_BACKTRACE ?= enable=no

.PHONY: deps build test unit-tests fuzz-smoke bench fuzz vectors run demo clean

deps:
	@missing=""; \
	for package in $(APT_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' "$$package" 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$package"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "make deps: installing$$missing"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi

build: deps
	swift build

## Every test suite: a short fuzz smoke run, then the unit and vector tests
## (XCTest; its "Executed N tests" line closes the output).
test: fuzz-smoke
	$(MAKE) --no-print-directory unit-tests

unit-tests: deps
	swift build --build-tests
	swift test --skip-build --disable-swift-testing

fuzz-smoke: deps
	FUZZ_SECONDS=$(SMOKE_FUZZ_SECONDS) bash Tests/Fuzz/run.sh

## Benchmarks print their figures beside the baseline measured in the same run.
## relay and connections start the parley-signal built beside parley-bench; connections
## holds 19000 connections if the hard open-file limit allows, fewer (with a note) if not.
bench: deps
	swift run -c release parley-bench crypto
	swift run -c release parley-bench signalling-core
	swift build -c release --product parley-signal
	swift run -c release parley-bench relay
	swift run -c release parley-bench connections
	swift run -c release parley-bench call
	swift run -c release parley-bench link

## Longer fuzzing: make fuzz FUZZ_SECONDS=600
fuzz: deps
	FUZZ_SECONDS=$(FUZZ_SECONDS) bash Tests/Fuzz/run.sh

## Regenerates the protocol test vectors (checked by ProtocolVectorTests).
vectors: deps
	swift run parley-vectors > Tests/ParleyCryptoTests/Resources/protocol-vectors.json

## The demo: parley-signal on loopback and two parley-agents; one calls the other with a
## security code, they exchange messages, Opus audio and a file, and a report follows.
## `make demo CODE_MISMATCH=1` gives the caller another code and shows the mismatch.
run demo: deps
	swift build --product parley-signal
	swift build --product parley-agent
	swift build --product parley-demo
	"$$(swift build --show-bin-path)/parley-demo" $(if $(CODE_MISMATCH),--code-mismatch,)

clean:
	rm -rf .build .build-* .build_*
