# Podium: two commands do all set-up on a fresh Debian machine.
#   make run    install what the app needs, build it, start it
#   make test   install what the tests need, run every test
#   make package  an installable Linux archive of the app: dist/Podium.tar.xz
SHELL := /bin/bash
GO ?= go
export LANG ?= en_US.UTF-8

.PHONY: run test build deps faults fuzz bench vet clean package

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

# fyne package reads FyneApp.toml from the main package's folder, and main is in cmd/podium:
# the name, id, version, build and icon are taken from the top-level FyneApp.toml and passed
# as flags instead, so that file stays the one place they are written.
FYNE ?= $(GO) run fyne.io/tools/cmd/fyne@v1.7.4
toml = $(shell sed -n 's/^[[:space:]]*$(1)[[:space:]]*=[[:space:]]*"\{0,1\}\([^"]*\)"\{0,1\}[[:space:]]*$$/\1/p' FyneApp.toml | head -n 1)

package: deps
	@mkdir -p dist
	$(FYNE) package --os linux --release --src cmd/podium \
		--name "$(call toml,Name)" --app-id "$(call toml,ID)" --icon "$(CURDIR)/$(call toml,Icon)" \
		--app-version "$(call toml,Version)" --app-build "$(call toml,Build)"
	mv -f "$(call toml,Name).tar.xz" dist/
	@echo "dist/$(call toml,Name).tar.xz: unpack it, then in its folder run make user-install (or sudo make install)"

clean:
	rm -rf bin dist testdata/gen
