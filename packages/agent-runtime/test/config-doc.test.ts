import { readFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { isolationConfigJsonSchema, renderConfigSchemaDoc } from "../src/config/render-doc.js";

describe("docs/config-schema.md", () => {
  it("is what the generator writes from the zod schema (run docs:config when this fails)", async () => {
    const committed = await readFile(
      new URL("../../../docs/config-schema.md", import.meta.url),
      "utf8",
    );
    expect(committed).toBe(renderConfigSchemaDoc());
  });

  it("documents every key of every section", () => {
    const schema = isolationConfigJsonSchema() as {
      properties: Record<string, { properties?: Record<string, unknown> }>;
    };
    const doc = renderConfigSchemaDoc();
    for (const [section, sub] of Object.entries(schema.properties)) {
      expect(doc).toContain(`| \`${section}\` |`);
      for (const key of Object.keys(sub.properties ?? {})) expect(doc).toContain(`| \`${key}\` |`);
    }
  });
});
