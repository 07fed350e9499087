import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    // The engine suites are heavy and the machines have two cores: one file at a time.
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
