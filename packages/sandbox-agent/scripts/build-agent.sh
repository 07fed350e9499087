#!/usr/bin/env bash
# Builds cadre-agent for both architectures the package ships, bin/cadre-agent-x86_64 and
# bin/cadre-agent-aarch64: static binaries with no runtime dependencies, linked against musl.
#
# The compilers are the <triplet>-linux-musl-gcc wrappers of Debian's musl-dev: musl-dev of the
# host's own architecture (which musl-tools brings) and, through Debian's multiarch, musl-dev of the
# other one (musl-dev:arm64 on an x86_64 host, musl-dev:amd64 on an aarch64 one), which brings
# Debian's cross gcc with it. scripts/services.sh installs both.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# uname's name, Debian's architecture name, for each binary the package ships.
targets=("x86_64 amd64" "aarch64 arm64")

host="$(uname -m)"
known=no
for target in "${targets[@]}"; do
  [ "${target%% *}" = "$host" ] && known=yes
done
if [ "$known" = no ]; then
  echo "build-agent: this host is $host; cadre-agent is built on x86_64 or aarch64 only" >&2
  exit 1
fi

missing=()
for target in "${targets[@]}"; do
  arch="${target%% *}"
  command -v "$arch-linux-musl-gcc" >/dev/null && continue
  if [ "$arch" = "$host" ]; then
    missing+=("$arch-linux-musl-gcc (Debian's musl-tools)")
  else
    missing+=("$arch-linux-musl-gcc (Debian's musl-dev:${target##* }, after dpkg --add-architecture ${target##* })")
  fi
done
if [ ${#missing[@]} -gt 0 ]; then
  for what in "${missing[@]}"; do echo "build-agent: not found: $what" >&2; done
  echo "build-agent: as root, scripts/services.sh up installs them" >&2
  exit 1
fi

mkdir -p "$here/bin"
for target in "${targets[@]}"; do
  arch="${target%% *}"
  out="$here/bin/cadre-agent-$arch"
  # Built into a temporary name and moved, so a running test never sees half a binary.
  "$arch-linux-musl-gcc" -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Os -s -static \
    -o "$out.tmp" "$here"/agent/*.c
  mv "$out.tmp" "$out"
done
