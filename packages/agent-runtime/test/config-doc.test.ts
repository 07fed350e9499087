import { readFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import {
  isolationConfigJsonSchema,
  renderBuiltInConfigSchemaDoc,
  renderConfigSchemaDoc,
} from "../src/config/render-doc.js";
import { loadProviderDescriptors } from "../src/providers/registry.js";

describe("docs/config-schema.md", () => {
  it("is what the generator writes from the zod schema (run docs:config when this fails)", async () => {
    const committed = await readFile(
      new URL("../../../docs/config-schema.md", import.meta.url),
      "utf8",
    );
    expect(committed).toBe(await renderBuiltInConfigSchemaDoc());
  });

  it("documents every key of every section", async () => {
    const descriptors = await loadProviderDescriptors();
    const schema = isolationConfigJsonSchema(descriptors) as {
      properties: Record<string, { properties?: Record<string, unknown> }>;
    };
    const doc = renderConfigSchemaDoc(descriptors);
    for (const [section, sub] of Object.entries(schema.properties)) {
      expect(doc).toContain(`| \`${section}\` |`);
      for (const key of Object.keys(sub.properties ?? {})) expect(doc).toContain(`| \`${key}\` |`);
    }
  });
});
