# Hindsight build and test entry points. CI runs `make test` as is
# (through .ci/run), so everything the tests need is installed from here.

GO        ?= go
BIN       ?= hindsight
PKG       := github.com/hindsight-ops/hindsight
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
REVISION  ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
BRANCH    ?= $(shell git rev-parse --abbrev-ref HEAD 2>/dev/null || echo unknown)
LDFLAGS   := -s -w \
	-X github.com/prometheus/common/version.Version=$(VERSION) \
	-X github.com/prometheus/common/version.Revision=$(REVISION) \
	-X github.com/prometheus/common/version.Branch=$(BRANCH) \
	-X github.com/prometheus/common/version.BuildUser=$(shell whoami)@$(shell hostname) \
	-X github.com/prometheus/common/version.BuildDate=$(shell date -u +%Y%m%dT%H:%M:%S)
SUDO      := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# Debian packages the integration tests start for real.
TEST_PKGS := prometheus-alertmanager nats-server prometheus chromium

.PHONY: all build run test test-short test-deps vet fmt fuzz bench contract clean

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/hindsight

run: build
	./$(BIN)

# test installs what the tests need, checks formatting and vet, runs every
# test with the race detector, then runs each fuzz target briefly.
test: test-deps vet
	$(GO) test -race -count=1 -timeout 30m ./...
	$(MAKE) mixin
	$(MAKE) fuzz FUZZTIME=50000x

test-short: vet
	$(GO) test -race -short -count=1 ./...

test-deps:
	@missing=""; for p in $(TEST_PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing test dependencies:$$missing"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi

vet:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

fmt:
	gofmt -w $$(git ls-files '*.go')

# FUZZTIME is a number of inputs (Nx), not a duration: with a duration,
# Go 1.26's fuzz coordinator can report a spurious "context deadline
# exceeded" failure when the time runs out on a busy machine
# (golang/go#75804, fixed in Go 1.27). A count has no deadline to race.
FUZZTIME ?= 100000x
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzLoad$$' -fuzztime $(FUZZTIME) -timeout 10m ./config/
	$(GO) test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZTIME) -timeout 10m ./collector/alertmanager/
	$(GO) test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZTIME) -timeout 10m ./collector/pagerduty/
	$(GO) test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZTIME) -timeout 10m ./collector/deploy/
	$(GO) test -run '^$$' -fuzz '^FuzzCheckJSONText$$' -fuzztime $(FUZZTIME) -timeout 10m ./collector/

# mixin checks the self-monitoring alerting rules and runs their unit
# tests (export/mixin); TestMixinMetricsExist checks the metric names.
.PHONY: mixin
mixin:
	promtool check rules export/mixin/alerts/*.yaml
	promtool test rules export/mixin/tests/*.yaml

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

# contract runs the shared contract checks against a fresh build.
contract: build
	../shared/tools/contract-check ./$(BIN) --only foundation,pagerduty,deploys

clean:
	rm -f $(BIN)

# bench-ingest measures Alertmanager ingestion against a no-op receiver
# (same bodies, same decode, no store) in the same run, then resident
# memory, size on disk and restart-to-ready with 1M stored events. See
# BENCHMARKS.md.
.PHONY: bench-ingest
bench-ingest: build
	$(GO) build -o hindsight-load ./cmd/hindsight-load
	./hindsight-load compare --hindsight ./$(BIN) --concurrency 64 --duration 20s --fill 1000000
