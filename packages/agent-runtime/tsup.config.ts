import { defineConfig } from "tsup";
import { packageBuild } from "../../tsup.base.js";

export default defineConfig({
  ...packageBuild,
  entry: {
    index: "src/index.ts",
    cli: "src/cli.ts",
    // Shipped for `cadre-runtime conformance`: the test file vitest runs, and the module the
    // suite's owner-crash test imports in a child process.
    "conformance/host-suite": "src/conformance/host-suite.ts",
    "conformance/provider-module": "src/conformance/provider-module.ts",
    "config-doc": "src/config/render-doc.ts",
  },
  dts: { entry: { index: "src/index.ts" } },
});
