# Nectar — the commands. DEVELOPMENT.md explains each.
SHELL := /bin/bash
GO ?= go
SERVICES := infra/local/services.sh
DINGO := infra/local/dingo.sh
SQS := infra/local/sqs.sh
LAMBDA := infra/local/lambda.sh
QEMU := infra/local/qemu.sh
# Every service the tests use, started on loopback: TiDB and MariaDB, the dingo node, fauxqs, the
# Lambda runtime emulator.
ENV := source "$$($(SERVICES) env)" && source "$$($(DINGO) env)" && source "$$($(SQS) env)" && source "$$($(LAMBDA) env)"
# How long the fuzz targets run inside `make test`.
FUZZTIME ?= 20s
TEST_TIMEOUT ?= 25m

# How many seeded schedules `make sim` runs, from SEED_FIRST; SEED=N replays one.
SEEDS ?= 200
SEED_FIRST ?= 1
SEED ?= 0

.PHONY: run test unit fuzz sim services services-down bench vet build build-IngestFunction build-MigrateFunction build-VerifyFunction

# The one-machine mode: local TiDB, the follower over the chain data in testdata/.
run:
	infra/local/run.sh

# The whole suite against real TiDB and MariaDB (started on loopback with TLS).
test: services vet
	$(ENV) && $(GO) test -count=1 -timeout $(TEST_TIMEOUT) ./...
	$(MAKE) fuzz

# Tests that need no database (the database parts skip loudly outside CI).
unit:
	$(GO) test -count=1 ./...

# The deterministic simulation's soak (docs/faults.md): SEEDS schedules of the whole pipeline with
# faults, each checked against a clean load; `make test` runs five. SIMDB=tidb runs it on TiDB.
sim: services
	$(ENV) && $(GO) test -count=1 -timeout 120m -run '^TestSimulation$$' ./sim/ -v -sim.seeds=$(SEEDS) -sim.first=$(SEED_FIRST) -sim.seed=$(SEED) -sim.db=$(SIMDB)

# Every fuzz target, each for FUZZTIME.
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeBlock$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 2s ./shared/chain/
	$(GO) test -run '^$$' -fuzz '^FuzzMetadata$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 2s ./shared/chain/
	$(GO) test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 2s ./shared/batch/

vet:
	$(GO) vet ./...
	@$(GO) mod tidy -diff || { echo "go.mod/go.sum are not tidy: run go mod tidy"; exit 1; }
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt needed"; exit 1; }

services:
	$(SERVICES) up >/dev/null
	$(DINGO) up >/dev/null
	$(SQS) up >/dev/null
	$(LAMBDA) up >/dev/null
	$(QEMU) up >/dev/null

services-down:
	$(LAMBDA) down
	$(SQS) down
	$(DINGO) down
	$(SERVICES) down

# Every benchmark, each printing its rates next to a baseline measured in the same run and their
# ratio (docs/benchmarks.md lists them with their figures).
bench: services
	$(ENV) && $(GO) test -run '^$$' -bench . -benchtime 1x -timeout 60m ./...

# The Lambda functions, as SAM builds them (BuildMethod: makefile runs
# `make build-<LogicalId>` with ARTIFACTS_DIR set): static arm64 `bootstrap`s.
# `make build` puts them in dist/<function>/bootstrap.
LAMBDA_BUILD = CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build -trimpath -tags lambda.norpc -ldflags='-s -w'
ARTIFACTS_DIR ?= dist

build-IngestFunction:
	$(LAMBDA_BUILD) -o $(ARTIFACTS_DIR)/bootstrap ./functions/ingest

build-MigrateFunction:
	$(LAMBDA_BUILD) -o $(ARTIFACTS_DIR)/bootstrap ./functions/migrate

build-VerifyFunction:
	$(LAMBDA_BUILD) -o $(ARTIFACTS_DIR)/bootstrap ./functions/verify

build:
	$(MAKE) build-IngestFunction ARTIFACTS_DIR=dist/ingest
	$(MAKE) build-MigrateFunction ARTIFACTS_DIR=dist/migrate
	$(MAKE) build-VerifyFunction ARTIFACTS_DIR=dist/verify
	$(GO) build -o bin/nectar ./follower/cmd/nectar
