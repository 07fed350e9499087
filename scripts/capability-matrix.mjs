// Writes docs/capability-matrix.md from the static capability rows of the registered providers' descriptors.
// `--check` fails when the committed page differs from what the rows say.
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const page = join(root, "docs/capability-matrix.md");

// Every registered provider's descriptor, in the registry's order (the command line's renderer).
const { renderRegisteredCapabilityMatrix } = await import(
  join(root, "packages/agent-runtime-cli/dist/matrix.js")
);
const generated = await renderRegisteredCapabilityMatrix();

if (process.argv.includes("--check")) {
  let current = "";
  try {
    current = readFileSync(page, "utf8");
  } catch {}
  if (current !== generated) {
    console.error("docs/capability-matrix.md is stale: run `npm run docs:matrix` and commit it.");
    process.exit(1);
  }
} else {
  writeFileSync(page, generated);
  console.log(`wrote ${page}`);
}
