import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    // Each file drives an engine of its own (Podman, a dockerd the file starts): one at a time.
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
