# orca — make help lists the targets.
SHELL := /bin/bash
GO ?= go
BIN := bin
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)
GOLANGCI_VERSION := v2.15.0
GOLANGCI := $(BIN)/golangci-lint
IMAGE_ARCH ?= $(shell $(GO) env GOARCH)

.DEFAULT_GOAL := help

.PHONY: help
help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-15s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: build
build: ## Build bin/orca
	@if [ -x $(BIN)/orca ]; then echo "make: building $(BIN)/orca" >&2; else \
		echo "make: building $(BIN)/orca for the first time: Go downloads and compiles its dependencies (SQLite, PostgreSQL, the cloud SDKs), about 3 minutes on 2 cores; later builds take seconds" >&2; fi
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN)/orca ./cmd/orca

.PHONY: image
image: ## Build orca's container image as an OCI archive, bin/orca-image.tar, without a container engine
	CGO_ENABLED=0 GOOS=linux GOARCH=$(IMAGE_ARCH) $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN)/orca-linux-$(IMAGE_ARCH) ./cmd/orca
	$(GO) run ./deploy/mkimage --binary $(BIN)/orca-linux-$(IMAGE_ARCH) --arch $(IMAGE_ARCH) --version $(VERSION) --out $(BIN)/orca-image.tar

.PHONY: chart
chart: ## Lint the Helm chart and package it as bin/orca-VERSION.tgz (helm is built with Go on first use)
	@helm="$$(scripts/tools/helm.sh)" && "$$helm" lint --strict deploy/helm/orca && "$$helm" package deploy/helm/orca --destination $(BIN)

.PHONY: run
run: build ## Run orca dev with a 1,000-item demo run: everything on this machine (API and dashboard on 127.0.0.1:7071)
	$(BIN)/orca dev --demo 1000

.PHONY: demo
demo: ## Run the engine demo: one orchestration with a visible fan-out, no HTTP
	$(GO) run ./cmd/orca demo

TEST_SERVICES := scripts/test-services.sh

.PHONY: test
test: ## Run every test (vet, race detector, crash tests; PostgreSQL, S3 and Azurite started and stopped around them)
	$(GO) vet ./...
	cd examples/hostapp && $(GO) vet ./...
	@status=0; eval "$$($(TEST_SERVICES) start)"; \
		$(GO) test -race -count=1 -timeout 60m ./... || status=$$?; \
		$(TEST_SERVICES) stop; exit $$status

.PHONY: services
services: ## Start the test servers (PostgreSQL, S3, Azurite) and print the variables to export
	@$(TEST_SERVICES) start

.PHONY: services-stop
services-stop: ## Stop the test servers
	@$(TEST_SERVICES) stop

.PHONY: test-deps
test-deps: ## Install what the tests need beyond Go on Debian (gcc, Python, Chromium, curl, Node.js; helm and Kubernetes built with Go)
	scripts/install-test-deps.sh

.PHONY: bench
bench: build ## Run the benchmark scenarios and print BENCH lines
	@echo "machine: $$(uname -srm), $$(nproc) cores, $$($(GO) version | cut -d' ' -f3)"
	@$(BIN)/orca bench --scenario fanout --n 10000
	@$(BIN)/orca bench --scenario fanout --n 100000
	@$(BIN)/orca bench --scenario sequence --n 1000
	@$(BIN)/orca bench --scenario many --n 2000
	@$(BIN)/orca bench --scenario compute-inproc --n 10000
	@$(BIN)/orca bench --scenario compute-dev --n 10000
	@$(BIN)/orca bench --scenario compute-exec --n 10000
	@$(BIN)/orca bench --scenario compute-exec-stream --n 10000
	@$(BIN)/orca bench --scenario cold-start --n 1

.PHONY: bench-postgres
bench-postgres: build ## Run the PostgreSQL benchmark scenarios (test server started, left running) and print BENCH lines
	@eval "$$(scripts/services/postgres.sh start)"; \
	echo "machine: $$(uname -srm), $$(nproc) cores, $$($(GO) version | cut -d' ' -f3)"; \
	echo "postgres: $$(psql "$$ORCA_TEST_POSTGRES_URL" -Atc 'SELECT version()' 2>/dev/null | cut -d' ' -f1-2)," \
		"fsync=$$(psql "$$ORCA_TEST_POSTGRES_URL" -Atc 'SHOW fsync' 2>/dev/null) (scripts/services/postgres.sh, same machine)"; \
	$(BIN)/orca bench --store "$$ORCA_TEST_POSTGRES_URL" --scenario fanout --n 10000 && \
	$(BIN)/orca bench --store "$$ORCA_TEST_POSTGRES_URL" --scenario many --n 2000 && \
	$(BIN)/orca bench --store "$$ORCA_TEST_POSTGRES_URL" --scenario compute-inproc --n 10000 && \
	$(BIN)/orca bench --store "$$ORCA_TEST_POSTGRES_URL" --scenario compute-dev --n 10000

.PHONY: fuzz
fuzz: ## Run each fuzz target for 30s
	$(GO) test ./internal/history -run '^$$' -fuzz FuzzUnmarshal -fuzztime 30s
	$(GO) test ./internal/config -run '^$$' -fuzz FuzzParse -fuzztime 30s
	$(GO) test ./internal/config -run '^$$' -fuzz FuzzSplitCommand -fuzztime 30s
	$(GO) test ./internal/blob -run '^$$' -fuzz FuzzValidateName -fuzztime 30s
	$(GO) test ./internal/queue -run '^$$' -fuzz FuzzValidateName -fuzztime 30s
	for t in $$($(GO) test ./internal/api -list '^Fuzz' | grep '^Fuzz'); do \
		$(GO) test ./internal/api -run '^$$' -fuzz "^$$t$$" -fuzztime 30s || exit 1; done

.PHONY: proto
proto: ## Regenerate the Durable Task protocol's Go code (internal/dtgrpc/dtpb) from internal/dtgrpc/protos
	scripts/tools/protoc.sh

.PHONY: lint
lint: $(GOLANGCI) ## Run golangci-lint (installed into bin/ if missing)
	$(GOLANGCI) run ./...

$(GOLANGCI):
	GOBIN=$(abspath $(BIN)) $(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_VERSION)

.PHONY: clean
clean: ## Remove build output
	rm -rf $(BIN)
