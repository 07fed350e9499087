// Writes docs/config-schema.md from the built zod schemas of the built-in providers' descriptors:
// `pnpm --filter @cadre/agent-runtime docs:config`.
import { writeFileSync } from "node:fs";
import { renderBuiltInConfigSchemaDoc } from "../dist/config-doc.js";

const target = new URL("../../../docs/config-schema.md", import.meta.url);
writeFileSync(target, await renderBuiltInConfigSchemaDoc());
process.stdout.write(`wrote ${target.pathname}\n`);
