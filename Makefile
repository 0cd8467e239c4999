# Sluice: `make run` and `make test` do all set-up on a fresh Debian 12 machine.
SWIFT ?= swift
PREFIX ?= $(CURDIR)
DEBIAN_PACKAGES = libevent-dev libssl-dev libpcre2-dev pkg-config
# What `make test` needs besides: a real etcd (etcd provider tests), nginx (a second real server),
# curl and openssl (TLS tests), python3 (the lifecycle load), python3-venv (the virtualenv below).
# A test that misses one fails.
TEST_PACKAGES = etcd-server nginx-light curl openssl python3 python3-venv
# The APISIX clients from PyPI that Tests/clients/ drives (apisix-client, mcp-apisix), pinned with
# every dependency in Tests/clients/requirements.txt, in a virtualenv of Debian's python3.
PY_VENV = .build-py/venv
PY_REQUIREMENTS = Tests/clients/requirements.txt
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# Release builds link the Swift runtime statically: a worker then maps only the runtime code it
# uses (measured: 15 MiB RSS per worker at 200 connections instead of 17-18 MiB).
RELEASE = -c release --static-swift-stdlib

.PHONY: deps test-deps build build-debug install run run-etcd test bench bench-peers lifecycle clean

# Installs the Debian packages the build needs, only when missing.
deps:
	@missing=""; for p in $(DEBIAN_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi

# Installs TEST_PACKAGES, only when missing; then PY_REQUIREMENTS into PY_VENV, only when the
# venv lacks them (the copy of the file it was installed from differs).
test-deps:
	@missing=""; for p in $(TEST_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi
	@if ! cmp -s $(PY_REQUIREMENTS) $(PY_VENV)/requirements.txt; then \
	  echo "installing into $(PY_VENV): $(PY_REQUIREMENTS)"; \
	  { [ -x $(PY_VENV)/bin/python ] || /usr/bin/python3 -m venv $(PY_VENV); } && \
	  $(PY_VENV)/bin/pip install -q --disable-pip-version-check -r $(PY_REQUIREMENTS) && \
	  cp $(PY_REQUIREMENTS) $(PY_VENV)/requirements.txt; \
	fi

build: deps
	$(SWIFT) build $(RELEASE) --product sluice
	$(SWIFT) build $(RELEASE) --product sluice-function

build-debug: deps
	$(SWIFT) build --build-tests

# Installs Sluice as a service: $(PREFIX)/bin/sluice, its prefix $(PREFIX)/sluice with conf/ (an
# existing config.yaml or apisix.yaml is kept), logs/ and data/ (the binary finds that prefix by
# itself: `sluice -t`, `sluice -s reload` need no -p), a systemd unit and a logrotate snippet.
# DESTDIR stages the whole tree; SLUICE_BIN installs that binary instead of building one.
# `make install PREFIX=/usr/local` (the default; for root); PREFIX=$$HOME/.local works without.
INSTALL_PREFIX ?= $(if $(filter command line environment,$(origin PREFIX)),$(PREFIX),/usr/local)
SYSTEMD_UNIT_DIR ?= /etc/systemd/system
LOGROTATE_DIR ?= /etc/logrotate.d
install: $(if $(SLUICE_BIN),,build)
	@bin="$(SLUICE_BIN)"; [ -n "$$bin" ] || bin=$$($(SWIFT) build $(RELEASE) --show-bin-path)/sluice; \
	root="$(DESTDIR)$(INSTALL_PREFIX)"; home="$(INSTALL_PREFIX)/sluice"; \
	install -d "$$root/bin" "$$root/sluice/conf" "$$root/sluice/logs" "$$root/sluice/data" \
	  "$(DESTDIR)$(SYSTEMD_UNIT_DIR)" "$(DESTDIR)$(LOGROTATE_DIR)"; \
	install -m 755 "$$bin" "$$root/bin/sluice"; \
	for f in config.yaml apisix.yaml; do \
	  [ -e "$$root/sluice/conf/$$f" ] || install -m 644 "conf/$$f" "$$root/sluice/conf/$$f"; \
	done; \
	for t in service:$(SYSTEMD_UNIT_DIR)/sluice.service logrotate:$(LOGROTATE_DIR)/sluice; do \
	  sed -e "s|@BINDIR@|$(INSTALL_PREFIX)/bin|g" -e "s|@SLUICE_PREFIX@|$$home|g" "conf/sluice.$${t%%:*}.in" \
	    > "$(DESTDIR)$${t#*:}"; \
	done; \
	echo "installed $$root/bin/sluice, prefix $$home, $(SYSTEMD_UNIT_DIR)/sluice.service, $(LOGROTATE_DIR)/sluice"

# Starts Sluice in the foreground with the shipped conf/ (Ctrl-C stops it), and the stand-in
# OpenFunction gateway on 127.0.0.1:3233 (--basic test:test) that the README's walkthrough calls;
# the stand-in stops with Sluice.
run: build
	mkdir -p $(PREFIX)/logs $(PREFIX)/data
	@bin=$$($(SWIFT) build $(RELEASE) --show-bin-path); \
	$$bin/sluice-function --mode gateway --port 3233 --basic test:test > $(PREFIX)/logs/function.log 2>&1 & \
	fn=$$!; trap 'kill $$fn 2>/dev/null; wait $$fn 2>/dev/null' EXIT INT TERM; \
	$$bin/sluice -p $(PREFIX)

# Like `run`, with `config_provider: etcd` against a throwaway etcd on 127.0.0.1:$(ETCD_PORT)
# (data in a temp directory, stopped by pid and removed when Sluice stops). The node's prefix
# is a temp directory too (printed). More nodes: start sluice with other ports on the same etcd.
ETCD_PORT ?= 2379
ETCD_PEER_PORT ?= 2380
run-etcd: build test-deps
	@data=$$(mktemp -d); prefix=$$(mktemp -d); mkdir -p $$prefix/conf $$prefix/logs $$prefix/data; \
	sed 's|^\(    config_provider:\).*|\1 etcd\n  etcd:\n    host: ["http://127.0.0.1:$(ETCD_PORT)"]\n    prefix: /apisix|' \
	  conf/config.yaml > $$prefix/conf/config.yaml; \
	etcd --data-dir $$data/etcd --listen-client-urls http://127.0.0.1:$(ETCD_PORT) \
	  --advertise-client-urls http://127.0.0.1:$(ETCD_PORT) --listen-peer-urls http://127.0.0.1:$(ETCD_PEER_PORT) \
	  --initial-advertise-peer-urls http://127.0.0.1:$(ETCD_PEER_PORT) \
	  --initial-cluster default=http://127.0.0.1:$(ETCD_PEER_PORT) > $$prefix/logs/etcd.log 2>&1 & \
	etcd_pid=$$!; trap 'kill $$etcd_pid 2>/dev/null; wait $$etcd_pid 2>/dev/null; rm -rf $$data' EXIT INT TERM; \
	sleep 1; kill -0 $$etcd_pid 2>/dev/null || { echo "etcd did not start (port $(ETCD_PORT) taken? set ETCD_PORT):"; \
	  tail -5 $$prefix/logs/etcd.log; exit 1; }; \
	echo "etcd pid $$etcd_pid on 127.0.0.1:$(ETCD_PORT); sluice prefix $$prefix"; \
	bin=$$($(SWIFT) build $(RELEASE) --show-bin-path); \
	$$bin/sluice -p $$prefix

test: build-debug test-deps
	bin=$$($(SWIFT) build --show-bin-path); \
	SLUICE_BIN=$$bin/sluice SLUICE_FUNCTION_BIN=$$bin/sluice-function $(SWIFT) test --skip-build

# Sluice against nginx side by side on this machine (ratios); `make bench ARGS=--quick` for a
# smoke run. Never part of `make test`.
bench: deps
	bash benchmarks/run.sh $(ARGS)

# The pinned peer layout: each proxy (Sluice, nginx, HAProxy, h2o) alone on CPU 0, wrk and the
# origin on CPU 1; GET, POST 1 KiB and the openfunction route; CPU per request and syscalls.
bench-peers: deps
	bash benchmarks/peers.sh --syscalls $(ARGS)

# Reloads, Admin API route changes and worker kills under constant load, failures attributed
# per phase; `make lifecycle ARGS=--short` for the few-seconds variant.
lifecycle: deps
	SWIFT=$(SWIFT) bash benchmarks/lifecycle.sh $(ARGS)

clean:
	rm -rf .build logs data
