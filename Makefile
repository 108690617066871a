# stsorgsync — developer and CI entry points. `make` lists the targets.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

GO      ?= go
GOPATH  := $(shell $(GO) env GOPATH)
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)
# staticcheck from PATH, else from GOPATH/bin (installed there by `make staticcheck` if missing).
STATICCHECK := $(or $(shell command -v staticcheck 2>/dev/null),$(GOPATH)/bin/staticcheck)
STATICCHECK_VERSION ?= latest
# Compose v1 (docker-compose) or v2 (docker compose), whichever is installed.
COMPOSE := $(shell if command -v docker-compose >/dev/null 2>&1; then echo docker-compose; \
	elif docker compose version >/dev/null 2>&1; then echo docker compose; fi)
SHELL_SCRIPTS := scripts/*.sh .ci/run

.PHONY: help build services test deploy-test chaos operations-check lint fmt-check vet staticcheck shellcheck demo bench bench-full bench-scale compose-config clean

help: ## list the targets
	@echo "Targets:"
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{ printf "  %-15s %s\n", $$1, $$2 }'

build: ## build stsorgsync, fakemo and fakests into bin/
	$(GO) build -trimpath -ldflags "$(LDFLAGS)" -o bin/ ./cmd/...

services: ## make sure RabbitMQ (with management API) and Redis answer; start them if installed
	scripts/services.sh

# CI defaults to true: tests that cannot reach RabbitMQ or Redis fail instead of skipping.
# `CI=false make test` lets them skip. Tests that stop, kill or restart RabbitMQ or Redis (the
# broker-restart test, the fake publisher's and internal/chaosenv's) start a RabbitMQ node or a
# Redis of their own (internal/chaosenv: own node name, ports and data directory; needs
# rabbitmq-server and redis-server installed), so they run with the others and the machine's
# servers are never stopped, restarted or flushed: the other tests get a vhost and a Redis key
# prefix of their own on them. cmd/stsorgsync alone took 8 minutes under -race on a busy two-core
# machine, close to go test's default limit of 10 per package, hence -timeout.
test: services fmt-check vet staticcheck ## services, gofmt, go vet, staticcheck, go test -race with CI=true (and the deploy module's tests)
	CI=$${CI:-true} $(GO) test -race -count=1 -timeout 20m ./...
	cd $(DEPLOY) && $(GO) test -count=1 ./...

# The Kubernetes manifests (deploy/kustomize) are checked by a Go module of their own, deploy/go.mod,
# so that kustomize and the Kubernetes API types stay out of the daemon's dependencies; the root's
# ./... does not reach into it, so vet, staticcheck and test run it separately. Its tests build the
# daemon and ask it for its settings and commands; they run without -race (their only concurrency
# is parallel tests reading shared, immutable data, and -race would add minutes of compiling the
# Kubernetes libraries on a fresh machine).
DEPLOY := deploy
deploy-test: ## go vet, staticcheck and go test of the Kubernetes manifests (deploy/: kustomize build, strict decoding, checks against the daemon)
	cd $(DEPLOY) && $(GO) vet ./... && $(STATICCHECK) ./... && $(GO) test -count=1 ./...

# The chaos scenarios start a RabbitMQ node and a Redis of their own (internal/chaosenv), kill
# them with SIGKILL and restart them; the machine's servers are never touched, so `make services`
# is not needed. They need rabbitmq-server and redis-server installed (CI=true: fail, not skip,
# without them) and take about 7½ minutes here, so `make test` and CI skip them.
CHAOS_REPORT := $(CURDIR)/bench/out/chaos.txt
chaos: ## chaos scenarios against the real binary (own RabbitMQ node and Redis, killed and restarted; fake STS outages): prints the recovery table, writes bench/out/chaos.txt
	@mkdir -p bench/out && rm -f $(CHAOS_REPORT)
	@rc=0; CI=$${CI:-true} STSORGSYNC_CHAOS_TEST=1 STSORGSYNC_CHAOS_REPORT=$(CHAOS_REPORT) \
		$(GO) test -race -count=1 -timeout 30m -run '^TestChaos$$' ./cmd/stsorgsync/ || rc=$$?; \
	if [[ -f $(CHAOS_REPORT) ]]; then echo; cat $(CHAOS_REPORT); fi; exit $$rc

# Every shell command OPERATIONS.md shows, run against a stack like make demo's (the tests'
# RabbitMQ vhost and Redis key prefix, the fakes, the daemon binary): about 30 s, so not part of
# make test. Its RabbitMQ commands need rabbitmqctl and rabbitmqadmin reaching the node (root or
# its Erlang cookie); CI=false lets them skip.
operations-check: services ## run every shell command of OPERATIONS.md against a demo-like stack (TestOperationsCommands)
	CI=$${CI:-true} STSORGSYNC_OPERATIONS_TEST=1 $(GO) test -count=1 -timeout 10m -run '^TestOperationsCommands$$' ./cmd/stsorgsync/

lint: fmt-check vet staticcheck shellcheck ## gofmt, go vet, staticcheck and shellcheck

fmt-check: ## fail if gofmt would change a file
	@files=$$(gofmt -l .); \
	if [[ -n $$files ]]; then echo "gofmt would change these files (run gofmt -w):"; echo "$$files"; exit 1; fi

vet: ## go vet ./... (and of the deploy module)
	$(GO) vet ./...
	cd $(DEPLOY) && $(GO) vet ./...

staticcheck: ## staticcheck ./... (installs it into GOPATH/bin if missing)
	@if [[ ! -x "$(STATICCHECK)" ]]; then \
		echo "installing staticcheck@$(STATICCHECK_VERSION) into $(GOPATH)/bin"; \
		$(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION); fi
	$(STATICCHECK) ./...
	cd $(DEPLOY) && $(STATICCHECK) ./...

shellcheck: ## shellcheck the scripts
	@command -v shellcheck >/dev/null || { echo "shellcheck is not installed (apt-get install shellcheck)"; exit 1; }
	shellcheck $(SHELL_SCRIPTS)

demo: ## run the docker-compose stack natively and show units arriving in the fake STS (DEMO_KEEP=1 keeps it running)
	scripts/demo.sh

# BENCH_FLAGS are passed to the load driver, e.g. BENCH_FLAGS="-only economy,latency -duration 20s";
# `bin/stsbench -h` lists them.
BENCH_FLAGS ?=
bench: services ## load driver (cmd/stsbench: real binary, RabbitMQ, Redis, fakes; initial load and Copenhagen full sync by `stsorgsync sync`) + Go micro-benchmarks; prints one table and issue 21's, writes bench/results.json (keeping make bench-scale's figures)
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/ ./cmd/stsorgsync ./cmd/stsbench
	bin/stsbench -bin bin -out bench/results.json -logs bench/out $(BENCH_FLAGS)

# Issue 21's signed initial load (stsbench's signedload phase): 1,000 units / 15,000 persons by
# `stsorgsync sync`, STS 50 ms × 8, WS-Security on. At least ≈ 72,000 calls × 50 ms ÷ 8 ≈ 7½ min,
# so not part of make bench; its figures are merged into bench/results.json (make bench's are kept,
# each part with its own commit) and it prints issue 21's table and the time it took.
bench-scale: services ## the signed 1,000/15,000 initial load at STS 50 ms × 8 (about 10 min); merges its figures into bench/results.json, prints issue 21's table and the time it took
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/ ./cmd/stsorgsync ./cmd/stsbench
	@start=$$(date +%s); \
	bin/stsbench -bin bin -only signedload -out bench/results.json -logs bench/out $(BENCH_FLAGS); \
	echo "make bench-scale: $$(( $$(date +%s) - start )) s (stsbench, without the build)"

# The main stack at Copenhagen size with the real STS profile (50 ms × 8): its initial load is the
# full sync, so the separate full-sync phase is skipped (only its second sync is added).
bench-full: ## make bench with the main stack at Copenhagen size (3,000 units, 45,000 persons, STS 50 ms × 8); the sync alone needs at least 23 min
	$(MAKE) bench BENCH_FLAGS="-units 3000 -persons 45000 -load-timeout 3h -out bench/results-full.json $(BENCH_FLAGS)"

compose-config: ## validate docker-compose.yml
	@[[ -n "$(COMPOSE)" ]] || { echo "neither docker-compose nor docker compose is installed (apt-get install docker-compose)"; exit 1; }
	$(COMPOSE) config -q
	@echo "docker-compose.yml is valid"

clean: ## remove bin/ and .demo/
	rm -rf bin .demo
