import type { IsolationProvider } from "@cadre/agent-runtime-contract";
import { createDockerProvider } from "@cadre/agent-runtime-provider-docker";
import { createKataProvider } from "@cadre/agent-runtime-provider-kata";
import { createStubProvider, defaultStateDir } from "@cadre/agent-runtime-provider-stub";
import { afterAll, describe, expect, it } from "vitest";
import {
  checkExcerpt,
  type Outcome,
  root,
  runConfig,
  runShell,
  runTypeScript,
} from "../src/block-runners.js";
import { type CodeBlock, documentedBlocks } from "../src/markdown-blocks.js";

const blocks = documentedBlocks(root);

/** A block's directive `not run: why`: a fragment or a file of another program. */
function notRunReason(block: CodeBlock): string | undefined {
  return /^not run:\s*(.+)$/.exec(block.directive ?? "")?.[1];
}

/** A block's directive `excerpt of PATH`: lines of a file that a test runs. */
function excerptOf(block: CodeBlock): string | undefined {
  return /^excerpt of\s+(\S+)$/.exec(block.directive ?? "")?.[1];
}

function runnerFor(block: CodeBlock): ((block: CodeBlock) => Promise<Outcome[]>) | undefined {
  if (notRunReason(block)) return undefined;
  const excerpt = excerptOf(block);
  if (excerpt) return async (b) => [await checkExcerpt(b, excerpt)];
  if (block.lang === "ts") return async (b) => [await runTypeScript(b)];
  if (block.lang === "sh") return runShell;
  if (block.lang === "json" && block.directive === "config")
    return async (b) => [await runConfig(b)];
  return undefined;
}

// Where the examples' sessions would be left: the engines' and the stub state directories the
// docs name. Owner labels carry the pid of the process that started a session.
const leftoverSources: IsolationProvider[] = [
  createDockerProvider(),
  createKataProvider({
    address: "/run/cadre-test/containerd.sock",
    namespace: "cadre",
    fifoDir: "/run/cadre-test/kata-fifo",
    runtime: "io.containerd.runc.v2",
  }),
  createStubProvider({ stateDir: defaultStateDir() }),
  createStubProvider({ stateDir: "/tmp/my-test-state" }),
];
afterAll(async () => {
  for (const provider of leftoverSources) await provider.close?.();
});

async function sessionsOwnedBy(pid: number): Promise<string[]> {
  const ids: string[] = [];
  for (const provider of leftoverSources) {
    for (const session of await provider.listSessions()) {
      if (session.owner.split("/")[3] === String(pid))
        ids.push(`${session.providerId} ${session.id}`);
    }
  }
  return ids;
}

describe("the code blocks of README.md and docs/", () => {
  it("are each run below, or say why they cannot be", () => {
    const neither = blocks.filter((b) => !runnerFor(b) && !notRunReason(b));
    expect(
      neither.map((b) => `${b.file}:${b.line} (${b.lang || "no language"})`),
      "give each a language this runner knows, or above it <!-- docs-run: excerpt of PATH --> (lines of a file a test runs) or <!-- docs-run: not run: why -->",
    ).toEqual([]);
  });

  for (const block of blocks) {
    const runner = runnerFor(block);
    if (!runner) continue;
    it(`${block.file}:${block.line} (${block.lang}) runs as written and leaves no session`, async () => {
      const outcomes = await runner(block);
      for (const { pid } of outcomes) {
        if (pid !== undefined) expect(await sessionsOwnedBy(pid)).toEqual([]);
      }
    });
  }
});
