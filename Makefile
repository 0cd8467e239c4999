# Sluice: `make run` and `make test` do all set-up on a fresh Debian 12 machine.
SWIFT ?= swift
PREFIX ?= $(CURDIR)
DEBIAN_PACKAGES = libevent-dev libssl-dev pkg-config
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# Release builds link the Swift runtime statically: a worker then maps only the runtime code it
# uses (measured: 15 MiB RSS per worker at 200 connections instead of 17-18 MiB).
RELEASE = -c release --static-swift-stdlib

.PHONY: deps build build-debug run test bench clean

# Installs the Debian packages the build needs, only when missing.
deps:
	@missing=""; for p in $(DEBIAN_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi

build: deps
	$(SWIFT) build $(RELEASE) --product sluice
	$(SWIFT) build $(RELEASE) --product sluice-function

build-debug: deps
	$(SWIFT) build --build-tests

# Starts Sluice in the foreground with the shipped conf/ (Ctrl-C stops it), and the stand-in
# OpenFunction gateway on 127.0.0.1:3233 (--basic test:test) that the README's walkthrough calls;
# the stand-in stops with Sluice.
run: build
	mkdir -p $(PREFIX)/logs $(PREFIX)/data
	@bin=$$($(SWIFT) build $(RELEASE) --show-bin-path); \
	$$bin/sluice-function --mode gateway --port 3233 --basic test:test > $(PREFIX)/logs/function.log 2>&1 & \
	fn=$$!; trap 'kill $$fn 2>/dev/null; wait $$fn 2>/dev/null' EXIT INT TERM; \
	$$bin/sluice -p $(PREFIX)

test: build-debug
	bin=$$($(SWIFT) build --show-bin-path); \
	SLUICE_BIN=$$bin/sluice SLUICE_FUNCTION_BIN=$$bin/sluice-function $(SWIFT) test --skip-build

# Sluice against nginx side by side on this machine (ratios); `make bench ARGS=--quick` for a
# smoke run. Never part of `make test`.
bench: deps
	bash benchmarks/run.sh $(ARGS)

clean:
	rm -rf .build logs data
