# PushFleet — the two commands a newcomer needs: `make run` and `make test`.
# Each installs the missing system packages first (Debian/Ubuntu, apt; root or sudo).

SWIFT ?= swift
# What the build links (make run needs no more).
RUN_APT_PACKAGES := librdkafka-dev libnghttp2-dev pkg-config
# What the tests run: kcat, the schema checker, the reference router of ops/kamailio and the SIPp
# phones of KamailioTests.
APT_PACKAGES := $(RUN_APT_PACKAGES) kcat python3-pip \
	kamailio kamailio-python3-modules sip-tester python3-confluent-kafka
# The benchmark's (make test runs it once in short mode): nghttpd is its HTTP/2 server, h2load its reference client.
BENCH_APT_PACKAGES := nghttp2-server nghttp2-client
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: deps run-deps bench-deps apt-install run test build bench bench-senders bench-quick chaos chaos-short fuzz clean

## run-deps: install the system packages the build links (only those missing).
run-deps:
	@$(MAKE) --no-print-directory apt-install PACKAGES="$(RUN_APT_PACKAGES)"

## deps: install the system packages PushFleet builds and tests with (only those missing).
deps:
	@$(MAKE) --no-print-directory apt-install PACKAGES="$(APT_PACKAGES)"
	@command -v check-jsonschema >/dev/null 2>&1 || python3 -m pip install -q check-jsonschema

## bench-deps: deps plus the benchmark's HTTP/2 server and reference client.
bench-deps: deps
	@$(MAKE) --no-print-directory apt-install PACKAGES="$(BENCH_APT_PACKAGES)"

apt-install:
	@missing=""; for p in $(PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing >/dev/null; \
	fi

## run: the whole stack on this machine: embedded Kafka, workers, sandbox APNs/FCM, router simulator.
run: run-deps
	$(SWIFT) build --product pushfleet
	$$($(SWIFT) build --show-bin-path)/pushfleet dev

## test: schema examples, a warning-free build, the deployment artifacts, every test, the benchmark in short mode.
test: deps bench-deps
	scripts/check-schemas.sh
	@mkdir -p .build
	$(SWIFT) build --build-tests 2>&1 | tee .build/build.log
	@! grep -E "^/.*/(Sources|Tests)/.*: warning:" .build/build.log || { echo "warnings in PushFleet code: fix them"; exit 1; }
	PUSHFLEET_BIN=$$($(SWIFT) build --show-bin-path)/pushfleet scripts/check-deploy.sh
	@# A bound on the whole run: a stuck test must fail CI, not hang it.
	timeout --kill-after=30 1500 $(SWIFT) test --skip-build
	@# The benchmark once in its short mode (debug build: keeps it working, judges no timing).
	timeout --kill-after=30 300 $$($(SWIFT) build --show-bin-path)/pushfleet-bench --quick --output .build/bench-quick.json

## bench: release build, every benchmark, results in bench/results.json.
bench: bench-deps
	$(SWIFT) build -c release --product pushfleet
	$(SWIFT) build -c release --product pushfleet-bench
	$$($(SWIFT) build -c release --show-bin-path)/pushfleet-bench --output bench/results.json

## bench-senders: the HTTP/2 senders against nghttpd, h2load as the reference, 3 runs, medians.
bench-senders: bench-deps
	$(SWIFT) build -c release --product pushfleet-bench
	$$($(SWIFT) build -c release --show-bin-path)/pushfleet-bench --senders-only --repetitions 3 --output bench/senders.json

## bench-quick: the benchmark command in its short mode (keeps it working; no timings judged).
bench-quick: bench-deps
	$(SWIFT) build -c release --product pushfleet
	$(SWIFT) build -c release --product pushfleet-bench
	$$($(SWIFT) build -c release --show-bin-path)/pushfleet-bench --quick --output .build/bench-quick.json

## chaos-short: the chaos test (90 s short mode, seed 16 or CHAOS_SEED) on its own (`make test` runs it too).
chaos-short: deps
	$(SWIFT) build --build-tests
	$(if $(CHAOS_SEED),PUSHFLEET_CHAOS_SEED=$(CHAOS_SEED)) $(SWIFT) test --skip-build --filter ChaosTests

## chaos: the fleet under seeded faults for CHAOS_DURATION seconds (default 20 min), then its
## invariants; writes bench/chaos.json (docs/chaos.md). CHAOS_SEED=N replays a seed.
CHAOS_DURATION ?= 1200
CHAOS_SEED ?=
chaos: deps
	$(SWIFT) build --product pushfleet
	$(SWIFT) build --product pushfleet-chaos
	$$($(SWIFT) build --show-bin-path)/pushfleet-chaos --duration $(CHAOS_DURATION) $(if $(CHAOS_SEED),--seed $(CHAOS_SEED)) --output bench/chaos.json

## fuzz: run the filter-language fuzzer for 60 s (libFuzzer).
fuzz:
	fuzz/filter/run.sh 60

clean:
	rm -rf .build
