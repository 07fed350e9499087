import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    // Two cores, one containerd: the engine suites run one file at a time.
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
