import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // The pool's tests run the whole conformance suite on the stub and spawn owner processes; on
    // a loaded machine that takes a while. These are limits for hangs, not performance assertions.
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
