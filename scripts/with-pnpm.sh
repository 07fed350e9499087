#!/usr/bin/env bash
# Runs pnpm (pinned by package.json's packageManager) on a machine that has only Node and npm.
# corepack is not used: its registry signature check fails on some hosts.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
version="$(node -p "require('$root/package.json').packageManager.split('@')[1]")"
tools="$root/.tools"
pnpm_bin="$tools/node_modules/.bin/pnpm"
if [ ! -x "$pnpm_bin" ] || [ "$("$pnpm_bin" --version 2>/dev/null)" != "$version" ]; then
  echo "bootstrapping pnpm@$version into .tools/ (one time)" >&2
  npm install --silent --no-audit --no-fund --prefix "$tools" "pnpm@$version" >&2
fi
cd "$root"
# turbo looks the package manager up on PATH.
export PATH="$tools/node_modules/.bin:$PATH"
exec "$pnpm_bin" "$@"
