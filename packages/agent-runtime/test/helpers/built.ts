import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const builtIndex = fileURLToPath(new URL("../../dist/index.js", import.meta.url));

/** The pool's owner processes (test/fixtures) import the built package; build it first. */
export function assertBuilt(): void {
  if (!existsSync(builtIndex)) {
    throw new Error(
      `${builtIndex} is missing: build first (pnpm turbo run build --filter=@cadre/agent-runtime...)`,
    );
  }
}
