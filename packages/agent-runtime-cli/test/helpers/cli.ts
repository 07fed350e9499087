import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { constants } from "node:os";
import { fileURLToPath } from "node:url";
import { expect } from "vitest";

export const binPath = fileURLToPath(new URL("../../bin/cadre-runtime.js", import.meta.url));
const builtCli = fileURLToPath(new URL("../../dist/cli.js", import.meta.url));

/** These tests drive the built command as a user would; they need `turbo run build` first. */
export function assertBuilt(): void {
  if (!existsSync(builtCli)) {
    throw new Error(
      `${builtCli} is missing: build first (pnpm turbo run build --filter=@cadre/agent-runtime-cli...)`,
    );
  }
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export function startCli(
  args: string[],
  env: NodeJS.ProcessEnv = {},
  stdin: "ignore" | "pipe" = "ignore",
): ChildProcess {
  return spawn(process.execPath, [binPath, ...args], {
    env: { ...process.env, ...env },
    stdio: [stdin, "pipe", "pipe"],
  });
}

export function finished(child: ChildProcess): Promise<CliResult> {
  let stdout = "";
  let stderr = "";
  child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
    stdout += chunk;
  });
  child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
    stderr += chunk;
  });
  return new Promise((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

export function runCli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return finished(startCli(args, env));
}

/** Runs the command with `input` as its stdin (a pipe that ends after it). */
export function runCliWithStdin(
  args: string[],
  input: Uint8Array | string,
  env: NodeJS.ProcessEnv = {},
): Promise<CliResult> {
  const child = startCli(args, env, "pipe");
  const done = finished(child);
  child.stdin?.on("error", () => {});
  child.stdin?.end(input);
  return done;
}

/** Resolves when the child's stdout contains `text`: the event a test waits for, not a delay. */
export function outputContains(child: ChildProcess, text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let seen = "";
    const onData = (chunk: Buffer) => {
      seen += chunk.toString("utf8");
      if (seen.includes(text)) {
        child.stdout?.off("data", onData);
        resolve();
      }
    };
    child.stdout?.on("data", onData);
    child.on("close", (code) =>
      reject(
        new Error(
          `exited with ${code} before printing ${JSON.stringify(text)}; saw ${JSON.stringify(seen)}`,
        ),
      ),
    );
  });
}

/**
 * Runs `cadre-runtime ARGS -- sh -c "echo started; sleep 120"` (ARGS: `run` and its options), sends `signal` once the
 * command has printed (the event, not a delay), and checks what the user sees and what is left:
 * exit 128 + n, one session while the command ran, none after.
 */
export async function expectInterruptDestroysSession(
  args: string[],
  sessions: () => Promise<unknown[]>,
  { signal = "SIGINT", env = {} }: { signal?: NodeJS.Signals; env?: NodeJS.ProcessEnv } = {},
): Promise<void> {
  const child = startCli([...args, "--", "sh", "-c", "echo started; sleep 120"], env);
  const done = finished(child);
  await outputContains(child, "started");
  expect(await sessions()).toHaveLength(1);
  child.kill(signal);
  expect((await done).code).toBe(128 + (constants.signals[signal] ?? 0));
  expect(await sessions()).toEqual([]);
}

/** `text` as one word of a POSIX shell command line. */
export function shellQuote(text: string): string {
  return `'${text.replaceAll("'", "'\\''")}'`;
}

/** The command line that runs this package's built `cadre-runtime ARGS`, for a shell. */
export function cliCommandLine(args: string[]): string {
  return [process.execPath, binPath, ...args].map(shellQuote).join(" ");
}

/**
 * Runs the shell command `script` on a pseudo-terminal of its own, as a user at a terminal would
 * run it: util-linux's `script` (bsdutils, an essential package of Debian) starts `sh -c
 * script` on a new PTY whose other side is this child's stdio: what the child's stdin gets is
 * typed at that terminal, and its stdout is everything the terminal shows (stdout and stderr
 * together). `-e`: the child exits with the shell's status.
 */
export function startInTerminal(script: string, env: NodeJS.ProcessEnv = {}): ChildProcess {
  const child = spawn("script", ["-qefc", script, "/dev/null"], {
    env: { ...process.env, ...env },
    stdio: ["pipe", "pipe", "pipe"],
  });
  child.stdin?.on("error", () => {});
  return child;
}

/** What a child printed on stdout so far, and a wait for what it has yet to print. */
export interface Transcript {
  text(): string;
  /** Resolves once stdout, from offset `from` on, contains `text`; rejects if it closes first. */
  until(text: string, from?: number): Promise<void>;
}

export function transcript(child: ChildProcess): Transcript {
  let seen = "";
  let closed = false;
  const waiters = new Set<() => void>();
  child.stdout?.on("data", (chunk: Buffer | string) => {
    seen += String(chunk);
    for (const check of waiters) check();
  });
  child.on("close", () => {
    closed = true;
    for (const check of waiters) check();
  });
  return {
    text: () => seen,
    until: (text, from = 0) =>
      new Promise((resolve, reject) => {
        const check = () => {
          if (seen.indexOf(text, from) !== -1) {
            waiters.delete(check);
            resolve();
          } else if (closed) {
            waiters.delete(check);
            reject(
              new Error(
                `closed before printing ${JSON.stringify(text)}; saw ${JSON.stringify(seen)}`,
              ),
            );
          }
        };
        waiters.add(check);
        check();
      }),
  };
}
