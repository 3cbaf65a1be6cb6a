#!/usr/bin/env bash
# Copies hls.js, at the version rtc/web/package-lock.json pins (integrity-checked by npm ci),
# into rtc/web, where go:embed bundles it into podium-server's listener page. Run by
# `go generate ./rtc` after a change of version; the copy is committed, so building Podium
# needs no npm.
set -euo pipefail
cd "$(dirname "$0")/../rtc/web"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp package.json package-lock.json "$tmp/"
(cd "$tmp" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
# The light build: no subtitles, alternate audio, DRM or CMCD, none of which an audio
# stream uses; a third smaller than the full one.
cp "$tmp/node_modules/hls.js/dist/hls.light.min.js" hls.light.min.js
cp "$tmp/node_modules/hls.js/LICENSE" hls.js.LICENSE
echo "hls.js $(node -p 'require(process.argv[1]).version' "$tmp/node_modules/hls.js/package.json") -> rtc/web/hls.light.min.js"
