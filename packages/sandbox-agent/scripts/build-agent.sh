#!/usr/bin/env bash
# Builds cadre-agent for this machine's architecture into bin/cadre-agent-<arch>: a static binary
# with no runtime dependencies, from Debian's musl-tools (scripts/services.sh installs them).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
arch="$(uname -m)"
out="$here/bin/cadre-agent-$arch"
if ! command -v musl-gcc >/dev/null; then
  echo "build-agent: musl-gcc not found: apt-get install musl-tools (scripts/services.sh up does)" >&2
  exit 1
fi
mkdir -p "$here/bin"
# Built into a temporary name and moved, so a running test never sees half a binary.
musl-gcc -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Os -s -static \
  -o "$out.tmp" "$here"/agent/*.c
mv "$out.tmp" "$out"
