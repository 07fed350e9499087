import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";

export const distFile = (name: string) =>
  fileURLToPath(new URL(`../../dist/${name}`, import.meta.url));

/** Runs a node script of dist/ to its end and returns its exit code and stdout. */
export async function runNode(
  args: string[],
  nodeFlags: string[] = [],
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [...nodeFlags, ...args], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (c: Buffer) => {
    stdout += c.toString();
  });
  child.stderr.on("data", (c: Buffer) => {
    stderr += c.toString();
  });
  const [code] = (await once(child, "exit")) as [number | null];
  return { code, stdout, stderr };
}

/** JSON lines a child prints, each resolved by the first line that has `key`. */
export function jsonLines(child: ChildProcess) {
  const seen: Record<string, unknown>[] = [];
  const waiters: { key: string; resolve: (v: Record<string, unknown>) => void }[] = [];
  let buffer = "";
  let stderr = "";
  child.stderr?.on("data", (c: Buffer) => {
    stderr += c.toString();
  });
  child.stdout?.on("data", (c: Buffer) => {
    buffer += c.toString();
    let newline = buffer.indexOf("\n");
    while (newline >= 0) {
      const line = JSON.parse(buffer.slice(0, newline)) as Record<string, unknown>;
      buffer = buffer.slice(newline + 1);
      seen.push(line);
      for (const w of waiters.filter((w) => w.key in line)) w.resolve(line);
      newline = buffer.indexOf("\n");
    }
  });
  const exited = once(child, "exit");
  return {
    /** The first line with `key`; rejects when the child exits before printing one. */
    next(key: string): Promise<Record<string, unknown>> {
      const found = seen.find((l) => key in l);
      if (found) return Promise.resolve(found);
      return Promise.race([
        new Promise<Record<string, unknown>>((resolve) => waiters.push({ key, resolve })),
        exited.then(() => {
          throw new Error(`the child exited before printing "${key}": ${stderr}`);
        }),
      ]);
    },
  };
}
