import { defineConfig } from "tsup";
import { packageBuild } from "../../tsup.base.js";

export default defineConfig({
  ...packageBuild,
  entry: {
    index: "src/index.ts",
    "config-doc": "src/config/render-doc.ts",
  },
  dts: { entry: { index: "src/index.ts" } },
});
