#!/usr/bin/env bash
# Makes a clone ready to run something: installs (pnpm bootstrapped by npm), with --services also
# sets up the engines when run as root, then builds what the remaining turbo arguments select.
#   scripts/ready.sh [--services] [turbo filter args...]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
if [ "${1:-}" = "--services" ]; then
  shift
  if [ "$(id -u)" = 0 ]; then bash scripts/services.sh up; fi
fi
bash scripts/with-pnpm.sh install --frozen-lockfile --reporter=silent
bash scripts/with-pnpm.sh turbo run build --output-logs=errors-only "$@" >&2
