#!/usr/bin/env bash
# `npm run demo [-- CMD ARGS...]`: runs a command in a session on the best provider this host has
# (the stub, with no isolation, when no engine is reachable) and says which isolation it got.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/ready.sh --filter=@cadre/agent-runtime...
if [ $# -eq 0 ]; then
  set -- sh -c 'echo "hello from a cadre session: $(uname -sr), uid $(id -u)"'
fi
exec node packages/agent-runtime/bin/cadre-runtime.js run -- "$@"
