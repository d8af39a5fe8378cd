#!/usr/bin/env bash
# Builds Skypatrol's one native addon: services/adapters/raster/native/inflate.c, a binding to
# libdeflate's zlib decompressor (Debian: libdeflate-dev). Plain gcc against Node's own headers;
# no node-gyp, no download. Rebuilds only when the source is newer than the addon.
# Without it the readers fall back to Node's zlib (slower; `CI=true` tests require the addon).
set -euo pipefail
cd "$(dirname "$0")/.."
src=services/adapters/raster/native/inflate.c
out=services/adapters/raster/native/build/inflate.node
if [ -f "$out" ] && [ "$out" -nt "$src" ]; then exit 0; fi
inc=""
for d in "$(dirname "$(dirname "$(readlink -f "$(command -v node)")")")/include/node" "$(npm config get nodedir 2>/dev/null)/include/node" /usr/include/node; do
  if [ -f "$d/node_api.h" ]; then inc="$d"; break; fi
done
[ -n "$inc" ] || { echo "[build-native] Node's headers (node_api.h) not found" >&2; exit 1; }
mkdir -p "$(dirname "$out")"
cc="${CC:-$(command -v gcc || command -v cc)}"
"$cc" -O2 -fPIC -shared -Wall -Wextra -Wno-unused-parameter -I"$inc" -o "$out.tmp" "$src" -ldeflate
mv "$out.tmp" "$out"
echo "[build-native] built $out"
