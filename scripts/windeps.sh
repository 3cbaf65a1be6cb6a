#!/usr/bin/env bash
# The Windows build's C side: installs the mingw-w64 cross toolchain (only the packages
# missing), then builds Opus, LAME, SpeexDSP and libebur128 as static mingw libraries from
# Debian 12's own source packages (apt-get source checks their signatures), pinned to the
# versions bookworm ships, into a cache folder that outlives the clone:
#   scripts/windeps.sh          prints the prefix (the folder with include/, lib/, lib/pkgconfig/;
#                               LAME has no .pc: -I prefix/include -L prefix/lib)
# PODIUM_CACHE (default ~/.cache/podium) is the cache's parent. A prefix is only used once a
# build of every library in it has finished (its .done file), so an interrupted build is redone,
# and a second run takes well under a second.
set -euo pipefail

# Debian 12's versions. A new version is a new prefix: the old one stays until removed.
opus_v=1.3.1-3
lame_v=3.100-6
speexdsp_v=1.2.1-1
ebur128_v=1.2.6-1
host=x86_64-w64-mingw32

cache=${PODIUM_CACHE:-$HOME/.cache/podium}
prefix=$cache/mingw_opus-${opus_v}_lame-${lame_v}_speexdsp-${speexdsp_v}_libebur128-${ebur128_v}
if [ -f "$prefix/.done" ]; then
  echo "$prefix"
  exit 0
fi

sudo=""
[ "$(id -u)" -ne 0 ] && sudo=sudo

# deb-src for bookworm, the same mirror and key as the binary packages. A plain apt-get
# update afterwards: one that overrides the source list would drop the binary lists.
src_list=/etc/apt/sources.list.d/podium-deb-src.sources
need_update=""
if [ ! -f "$src_list" ]; then
  $sudo tee "$src_list" >/dev/null <<'EOF'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  need_update=1
fi

pkgs=(gcc-mingw-w64-x86-64 cmake autoconf automake libtool nsis wine wine64 dpkg-dev curl)
missing=()
for p in "${pkgs[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ -n "$need_update" ] || [ ${#missing[@]} -gt 0 ]; then
  $sudo apt-get update -qq
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "windeps: installing ${missing[*]}" >&2
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

# Build in a scratch folder beside the prefix, so a half-built prefix is never taken for done.
rm -rf "$prefix" "$prefix.src"
mkdir -p "$prefix.src" "$prefix"
cd "$prefix.src"
jobs=$(nproc)
# fetch_source unpacks a source package. apt-get source checks every file against the signed
# Sources index; if the mirror lacks Debian's packaging tarball (libebur128's answers 404 here)
# the upstream tarball alone is used, checked against the same index's SHA256, and said so.
fetch_source() {
  local pkg=$1 v=$2 uri name sum
  # asked first: once apt-get source has fetched a file, --print-uris leaves it out
  read -r uri name _ sum < <(apt-get source --print-uris -qq "$pkg=$v" | grep "\.orig\.tar")
  if apt-get source -qq "$pkg=$v" >&2; then
    return
  fi
  echo "windeps: $pkg $v: Debian's packaging cannot be fetched; building the upstream tarball it is made from" >&2
  [ -f "$name" ] || curl -fsS -o "$name" "${uri//\'/}"
  echo "${sum#SHA256:}  $name" | sha256sum -c --quiet - >&2
  tar xf "$name"
}
echo "windeps: fetching sources" >&2
fetch_source opus "$opus_v"
fetch_source lame "$lame_v"
fetch_source speexdsp "$speexdsp_v"
fetch_source libebur128 "$ebur128_v"

# Debian's patches are applied by apt-get source (dpkg-source -x); each library's own build
# then runs with the cross compiler. _FORTIFY_SOURCE would pull __memcpy_chk, which mingw's
# static C runtime lacks.
conf=(--host=$host --prefix="$prefix" --enable-static --disable-shared)
build_opus() {
  cd "$prefix.src"/opus-*/
  [ -x configure ] || autoreconf -fi >&2
  ./configure "${conf[@]}" --disable-doc --disable-extra-programs --disable-stack-protector \
    CFLAGS="-O2 -D_FORTIFY_SOURCE=0" >&2
  make -j"$jobs" install >&2
}
build_lame() {
  cd "$prefix.src"/lame-*/
  ./configure "${conf[@]}" --disable-frontend --disable-decoder CFLAGS="-O2 -D_FORTIFY_SOURCE=0" >&2
  make -j"$jobs" install >&2
}
build_speexdsp() {
  cd "$prefix.src"/speexdsp-*/
  [ -x configure ] || autoreconf -fi >&2
  ./configure "${conf[@]}" --disable-examples CFLAGS="-O2 -D_FORTIFY_SOURCE=0" >&2
  make -j"$jobs" install >&2
}
build_ebur128() {
  cd "$prefix.src"/libebur128-*/
  cmake -S . -B build-mingw -DCMAKE_SYSTEM_NAME=Windows -DCMAKE_C_COMPILER=$host-gcc \
    -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX="$prefix" -DBUILD_SHARED_LIBS=OFF \
    -DENABLE_INTERNAL_QUEUE_H=ON >&2
  cmake --build build-mingw -j"$jobs" >&2
  cmake --install build-mingw >&2
}
for lib in opus lame speexdsp ebur128; do
  start=$SECONDS
  (build_$lib)
  echo "windeps: $lib built in $((SECONDS - start)) s" >&2
done
rm -rf "$prefix.src"
touch "$prefix/.done"
echo "$prefix"
