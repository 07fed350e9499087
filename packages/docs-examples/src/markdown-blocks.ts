import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";

/** A fenced code block of a Markdown file. */
export interface CodeBlock {
  /** Path from the repository's root. */
  file: string;
  /** Line of the opening fence, counting from 1. */
  line: number;
  lang: string;
  code: string;
  /**
   * What the `<!-- docs-run: ... -->` comment right above the fence says, if there is one: how
   * to run the block when its language alone does not tell.
   */
  directive?: string;
}

const directivePattern = /^<!--\s*docs-run:\s*(.+?)\s*-->$/;

export function codeBlocksOf(markdown: string, file: string): CodeBlock[] {
  const blocks: CodeBlock[] = [];
  const lines = markdown.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\S*)\s*$/.exec(lines[i] ?? "");
    if (!open) continue;
    const start = i;
    const body: string[] = [];
    for (i += 1; i < lines.length && !/^```\s*$/.test(lines[i] ?? ""); i++)
      body.push(lines[i] ?? "");
    if (i >= lines.length)
      throw new Error(`${file}:${start + 1}: a code fence that is never closed`);
    const above = directivePattern.exec((lines[start - 1] ?? "").trim());
    blocks.push({
      file,
      line: start + 1,
      lang: open[1] ?? "",
      code: `${body.join("\n")}\n`,
      ...(above ? { directive: above[1] } : {}),
    });
  }
  return blocks;
}

/** Every code block of README.md and of every Markdown file under docs/. */
export function documentedBlocks(root: string): CodeBlock[] {
  const files = ["README.md", ...markdownUnder(root, "docs")];
  return files.flatMap((file) => codeBlocksOf(readFileSync(join(root, file), "utf8"), file));
}

function markdownUnder(root: string, dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(join(root, dir), { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...markdownUnder(root, path));
    else if (entry.name.endsWith(".md")) out.push(relative(root, join(root, path)));
  }
  return out.sort();
}
