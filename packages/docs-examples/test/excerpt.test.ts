import { describe, expect, it } from "vitest";
import { checkExcerpt } from "../src/block-runners.js";
import type { CodeBlock } from "../src/markdown-blocks.js";

const path = "packages/docs-examples/test/worked-provider/options.ts";
const block = (code: string): CodeBlock => ({ file: "docs/x.md", line: 3, lang: "ts", code });

describe("an excerpt block", () => {
  it("passes when its lines appear in the file as they are", async () => {
    await expect(
      checkExcerpt(block("export const miniDockerOptionsSchema = z.strictObject({\n"), path),
    ).resolves.toBeDefined();
  });

  it("fails, naming the doc's line and the file, once the file no longer has them", async () => {
    await expect(
      checkExcerpt(block("export const miniDockerOptionsSchema = z.object({\n"), path),
    ).rejects.toThrow(
      "docs/x.md:3 is not a verbatim excerpt of packages/docs-examples/test/worked-provider/options.ts",
    );
  });
});
