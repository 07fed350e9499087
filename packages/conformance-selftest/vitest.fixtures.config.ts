import { defineConfig } from "vitest/config";

// Only for the child runs of test/fixtures.test.ts: each fixture runs the conformance suite
// against one deliberately broken provider, and is expected to fail.
export default defineConfig({
  test: {
    include: ["fixtures/**/*.conformance.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
