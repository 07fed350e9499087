import { defineConfig } from "vitest/config";

export default defineConfig({
  // Real processes on a shared, busy host: generous limits, never timed assertions.
  test: { testTimeout: 20_000, hookTimeout: 20_000 },
});
