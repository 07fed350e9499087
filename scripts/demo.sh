#!/usr/bin/env bash
# `npm run demo [-- CMD ARGS...]`: runs a command in a session on the best isolating provider this
# host has and says which isolation it got. With no engine reachable it runs on the stub, with no
# isolation, because it passes --allow-no-isolation (cadre-runtime itself never falls back silently).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/ready.sh --filter=@cadre/agent-runtime-cli...
if [ $# -eq 0 ]; then
  set -- sh -c 'echo "hello from a cadre session: $(uname -sr), uid $(id -u)"'
fi
echo "demo: using the best provider here; if none isolates, the stub runs the command with no isolation (--allow-no-isolation)" >&2
exec node packages/agent-runtime-cli/bin/cadre-runtime.js run --allow-no-isolation -- "$@"
