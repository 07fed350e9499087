#!/usr/bin/env bash
# `npm test`: sets up the engines (as root), installs, builds, lints, typechecks and runs every test.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
pnpm() { bash scripts/with-pnpm.sh "$@"; }

if [ "$(id -u)" = 0 ]; then
  bash scripts/services.sh up
else
  echo "test: not root, so the engines are not set up here; tests that need them skip (and fail under CI=true)." >&2
fi

pnpm install --frozen-lockfile --reporter=silent
pnpm biome check .
pnpm turbo run build typecheck --output-logs=errors-only
node scripts/capability-matrix.mjs --check

rm -f packages/*/test-results.json
status=0
# Two at a time: the engine suites are heavy and the machines have two cores.
pnpm turbo run test --concurrency=2 --continue --output-logs=full \
  --filter='!@cadre/agent-runtime-docs-examples' -- \
  --reporter=default --reporter=json --outputFile.json=test-results.json || status=$?
# Then the docs' code blocks, alone: their shell blocks run `npm run ...` as a reader would, which
# installs and builds, and must not do so under the running suites.
pnpm turbo run test --output-logs=full --filter=@cadre/agent-runtime-docs-examples -- \
  --reporter=default --reporter=json --outputFile.json=test-results.json || status=$?
node scripts/test-summary.mjs packages/*/test-results.json || status=1
exit "$status"
