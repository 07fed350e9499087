import { defineConfig } from "tsup";
import { packageBuild } from "../../tsup.base.js";

export default defineConfig({
  ...packageBuild,
  entry: {
    cli: "src/cli.ts",
    // What `sessions start` leaves behind as the owner of the session it started: beside cli.js,
    // where sessions/start-kept-session.ts finds it.
    "session-keeper": "src/session-keeper.ts",
    // Shipped for `cadre-runtime conformance`: the test file vitest runs, and the module the
    // suite's owner-crash test imports in a child process.
    "conformance/host-suite": "src/conformance/host-suite.ts",
    "conformance/provider-module": "src/conformance/provider-module.ts",
    // docs/capability-matrix.md, for scripts/capability-matrix.mjs.
    matrix: "src/matrix/render-matrix.ts",
  },
  // A command, not a library: nothing imports it, so there are no type declarations.
  dts: false,
});
