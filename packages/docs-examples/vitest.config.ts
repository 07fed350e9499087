import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Each block runs as its users would run it: installs, soaks and sessions on a loaded
    // machine take minutes. These are limits for hangs, not performance assertions.
    testTimeout: 15 * 60_000,
    hookTimeout: 15 * 60_000,
    // One block at a time: several start sessions on the same engines.
    fileParallelism: false,
  },
});
