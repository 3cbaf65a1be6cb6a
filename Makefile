# Podium: two commands do all set-up on a fresh Debian machine.
#   make run    install what the app needs, build it, start it
#   make test   install what the tests need, run every test
SHELL := /bin/bash
GO ?= go
export LANG ?= C.UTF-8

.PHONY: run test build deps faults fuzz bench vet clean

run: deps
	$(GO) build -o bin/podium ./cmd/podium
	./bin/podium

build: deps
	$(GO) build -o bin/ ./cmd/...

deps:
	@bash scripts/deps.sh run

test:
	@bash scripts/test.sh

vet:
	$(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); exit 1; }

fuzz:
	@bash scripts/fuzz.sh

bench:
	@bash scripts/bench.sh

faults:
	@bash scripts/faults.sh

clean:
	rm -rf bin dist testdata/gen
