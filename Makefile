# bokujo — `make run` starts everything, `make test` runs every test.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

BIN_DIR ?= $(CURDIR)/bin
export BOKUJO_BIN_DIR := $(BIN_DIR)
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS := -X bokujo.io/bokujo/internal/version.Version=$(VERSION) -X bokujo.io/bokujo/internal/version.Commit=$(COMMIT)
GO_TEST_FLAGS ?=
RUN_ARGS ?=

.PHONY: help
help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

.PHONY: deps
deps: ## install the system packages bokujo's build and tests need
	@hack/install-deps.sh

.PHONY: binaries
binaries: ## build etcd, kube-apiserver, controller-manager, scheduler, kubectl, kwok, helm from source
	@BIN_DIR=$(BIN_DIR) hack/build-binaries.sh

.PHONY: web
web: ## build the web UI into web/dist (npm ci and vite build, each only when its inputs changed)
	@hack/web.sh build

.PHONY: build
build: web ## build the bokujo binary into bin/ (the web UI embedded)
	@mkdir -p $(BIN_DIR)
	go build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN_DIR)/bokujo ./cmd/bokujo

.PHONY: run
run: deps binaries build ## build everything and run `bokujo up` (URL and admin password are printed)
	$(BIN_DIR)/bokujo up $(RUN_ARGS)

.PHONY: test
test: deps binaries build verify ## vet, unit tests with -race, integration and browser tests, web unit tests
	hack/web.sh test
	hack/test.sh $(GO_TEST_FLAGS)

.PHONY: generate
generate: ## generate deepcopy functions and CRD manifests from the API types
	hack/generate.sh

.PHONY: verify
verify: web ## formatting, vet, generated code up to date (vet compiles the embedded web UI)
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed on:"; gofmt -l $$(git ls-files '*.go'); exit 1; }
	go vet ./...
	hack/verify-generate.sh

.PHONY: bench
bench: deps binaries build ## run the benchmarks in bench/ and print their figures
	hack/bench.sh

.PHONY: clean
clean: ## remove built binaries (the Go build cache is kept)
	rm -rf $(BIN_DIR)
