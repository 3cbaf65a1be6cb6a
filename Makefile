# Podium: two commands do all set-up on a fresh Debian machine.
#   make run    install what the app needs, build it, start it
#   make test   install what the tests need, run every test
#   make package  an installable Linux archive of the app: dist/Podium.tar.xz
#   make windows  for 64-bit Windows, in dist/windows/: podium.exe (the window), podium-cli.exe
#                 (the CLI), podium-server.exe, and the installer Podium-Setup.exe
SHELL := /bin/bash
GO ?= go
export LANG ?= en_US.UTF-8
# no_emoji: Fyne embeds a 4 MB colour emoji font and parses it for every text style a window
# draws: about 15 MB resident in Podium's window, whose words, buttons and icons have no emoji.
# An emoji typed into a title still shows: Fyne asks the system's fonts for a glyph its own
# lack. Every build and test made here uses it (the tests run what ships).
TAGS := no_emoji
export GOFLAGS += -tags=$(TAGS)

.PHONY: run test build deps faults fuzz bench vet vet-windows clean package windows windows-exe

run: deps
	$(GO) build -o bin/podium ./cmd/podium
	./bin/podium

build: deps
	$(GO) build -o bin/ ./cmd/...

deps:
	@bash scripts/deps.sh run

test:
	@bash scripts/test.sh

vet: vet-windows
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

# Cross-built with mingw-w64 against static C libraries from Debian's sources (windeps.sh,
# cached outside the clone). -static: no libstdc++/libwinpthread DLL beside the .exe.
# nolibopusfile: Podium never uses opus.Stream, and a static opusfile would need libogg.
# podium.exe is the window: a GUI-subsystem program (-H=windowsgui), so no console opens
# with it. A GUI program started from a terminal has no console: its output goes nowhere and
# the terminal does not wait for it (nor passes it Ctrl+C), so the CLI is podium-cli.exe, the
# same main built for the console subsystem. Both carry Podium's icon, version and manifest:
# scripts/windows/podium.rc compiled by windres into a .syso in cmd/podium, which Go links
# into Windows builds only (the _windows_amd64 suffix), the resources fyne package would add,
# made here so both builds get them with these flags and nothing rewrites cmd/podium mid-build.
# WINOUT and WINGOFLAGS are for scripts/wine.sh's test build (make windows-exe), which goes
# to its own folder and needs no installer.
WINFLAGS = CGO_ENABLED=1 GOOS=windows GOARCH=amd64 CC=x86_64-w64-mingw32-gcc
WINOUT ?= dist/windows
WINGOFLAGS ?=
WINRES = $(WINOUT).res
comma := ,
winversion = $(call toml,Version)
winbuild = $(call toml,Build)

# The installer's LZMA takes a minute or two on 2 cores: it is remade only when what goes
# into it changes (the Go builds are reproducible, so a warm make windows is seconds).
windows: windows-exe
	@set -e; sum=$$(cat scripts/windows/podium.nsi $(WINRES)/podium.ico $(WINOUT)/podium.exe $(WINOUT)/podium-cli.exe | \
		sha256sum; echo "$(winversion) $(winbuild) $$(makensis -VERSION)"); \
	if [ -f $(WINOUT)/Podium-Setup.exe ] && [ "$$sum" = "$$(cat $(WINRES)/setup.sum 2>/dev/null)" ]; then \
		echo "$(WINOUT)/Podium-Setup.exe is up to date"; \
	else \
		rm -f $(WINRES)/setup.sum; \
		makensis -V2 -DVERSION="$(winversion)" -DBUILD="$(winbuild)" -DDIST="$(CURDIR)/$(WINOUT)" \
			-DICON="$(CURDIR)/$(WINRES)/podium.ico" scripts/windows/podium.nsi; \
		echo "$$sum" >$(WINRES)/setup.sum; \
	fi
	@echo "$(WINOUT)/podium.exe, $(WINOUT)/podium-cli.exe, $(WINOUT)/podium-server.exe, $(WINOUT)/Podium-Setup.exe"

# The whole tree type-checked as Windows sees it (its platform files, its cgo with mingw).
vet-windows:
	@set -e; p=$$(bash scripts/windeps.sh); export $(WINFLAGS) PKG_CONFIG_LIBDIR="$$p/lib/pkgconfig" \
		CGO_CFLAGS="-I$$p/include" CGO_LDFLAGS="-L$$p/lib"; $(GO) vet -tags nolibopusfile,$(TAGS) ./...

windows-exe:
	@set -e; p=$$(bash scripts/windeps.sh); mkdir -p $(WINOUT) $(WINRES); \
	[[ "$(winversion)" =~ ^[0-9]+\.[0-9]+\.[0-9]+$$ && "$(winbuild)" =~ ^[0-9]+$$ ]] || \
		{ echo "FyneApp.toml: Version must be X.Y.Z and Build a number for Windows' version resource" >&2; exit 1; }; \
	GOOS= GOARCH= CGO_ENABLED=0 $(GO) run ./scripts/winico $(call toml,Icon) $(WINRES)/podium.ico; \
	x86_64-w64-mingw32-windres -I scripts/windows -DPODIUM_VERSION='\"$(winversion)\"' \
		-DPODIUM_FILEVERSION_STR='\"$(winversion).$(winbuild)\"' \
		-DPODIUM_FILEVERSION=$(subst .,$(comma),$(winversion)),$(winbuild) \
		-DPODIUM_ICON='\"$(CURDIR)/$(WINRES)/podium.ico\"' -O coff -o $(WINRES)/rsrc.syso scripts/windows/podium.rc; \
	syso=cmd/podium/rsrc_windows_amd64.syso; \
	cmp -s $(WINRES)/rsrc.syso $$syso || { cp $(WINRES)/rsrc.syso $$syso.$$$$ && mv -f $$syso.$$$$ $$syso; }; \
	export $(WINFLAGS) PKG_CONFIG_LIBDIR="$$p/lib/pkgconfig" CGO_CFLAGS="-O2 -g -I$$p/include" CGO_LDFLAGS="-L$$p/lib"; \
	$(GO) build $(WINGOFLAGS) -tags nolibopusfile,$(TAGS) -ldflags="-H=windowsgui -extldflags=-static" -o $(WINOUT)/podium.exe ./cmd/podium; \
	$(GO) build $(WINGOFLAGS) -tags nolibopusfile,$(TAGS) -ldflags=-extldflags=-static -o $(WINOUT)/podium-cli.exe ./cmd/podium; \
	$(GO) build $(WINGOFLAGS) -tags nolibopusfile,$(TAGS) -ldflags=-extldflags=-static -o $(WINOUT)/ ./cmd/podium-server
	@echo "$(WINOUT)/podium.exe, $(WINOUT)/podium-cli.exe, $(WINOUT)/podium-server.exe"

clean:
	rm -rf bin dist testdata/gen cmd/podium/rsrc_windows_amd64.syso
