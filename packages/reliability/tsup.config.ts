import { defineConfig } from "tsup";

export default defineConfig({
  entry: ["src/index.ts", "src/soak-cli.ts", "src/owner-process.ts"],
  format: ["esm"],
  dts: { entry: "src/index.ts" },
  clean: true,
  sourcemap: true,
  target: "node20",
});
