import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // The tests spawn the built command against real engines; on a loaded machine one run of
    // a container can take seconds. These are limits for hangs, not performance assertions.
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
