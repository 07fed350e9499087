import { defineConfig } from "tsup";
import { packageBuild } from "../../tsup.base.js";

export default defineConfig({
  ...packageBuild,
  entry: ["src/index.ts", "src/soak-cli.ts", "src/owner-process.ts"],
  dts: { entry: "src/index.ts" },
});
