// Writes docs/config-schema.md from the built zod schema: `pnpm --filter @cadre/agent-runtime docs:config`.
import { writeFileSync } from "node:fs";
import { renderConfigSchemaDoc } from "../dist/config-doc.js";

const target = new URL("../../../docs/config-schema.md", import.meta.url);
writeFileSync(target, renderConfigSchemaDoc());
process.stdout.write(`wrote ${target.pathname}\n`);
