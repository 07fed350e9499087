import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { isAbsolute, resolve } from "node:path";
import { pathToFileURL } from "node:url";

// Runs in a separate node process: builds the provider from the module's default export (a
// factory or an instance), starts one session, prints its id as JSON, then waits to be killed.
const ownerScript = `
const [specifier, policyJson] = process.argv.slice(1);
const mod = await import(specifier);
const exported = mod.default;
const provider = typeof exported === "function" ? await exported() : exported;
const id = await provider.startSession(JSON.parse(policyJson));
process.stdout.write(JSON.stringify({ id }) + "\\n");
setInterval(() => {}, 1 << 30);
`;

export interface OrphanOwner {
  sessionId: string;
  /** Kills the owner with SIGKILL and resolves once it has exited (and been reaped by node). */
  kill(): Promise<void>;
}

/** A file URL for `providerModule`, which may be a path relative to the working directory. */
export function moduleUrl(providerModule: string): string {
  if (providerModule.startsWith("file:")) return providerModule;
  const path = isAbsolute(providerModule) ? providerModule : resolve(providerModule);
  return pathToFileURL(path).href;
}

/**
 * Runs the owner in a PID namespace of its own (util-linux unshare; a user namespace too when not
 * root), as a sibling container of one pod would: its pid means nothing from here.
 */
function inOwnPidNamespace(argv: string[]): string[] {
  const asRoot = process.getuid?.() === 0;
  return [
    "unshare",
    ...(asRoot ? [] : ["--user", "--map-root-user"]),
    "--pid",
    "--fork",
    "--kill-child",
    "--mount-proc",
    ...argv,
  ];
}

/** Starts a node process that owns one session, as a cadre process that is about to crash. */
export async function startOrphanOwner(
  providerModule: string,
  policy: unknown,
  timeoutMs: number,
  options: { ownPidNamespace?: boolean } = {},
): Promise<OrphanOwner> {
  const node = [
    process.execPath,
    "--input-type=module",
    "-e",
    ownerScript,
    moduleUrl(providerModule),
    JSON.stringify(policy),
  ];
  const [command, ...args] = options.ownPidNamespace ? inOwnPidNamespace(node) : node;
  const child = spawn(command as string, args, { stdio: ["ignore", "pipe", "pipe"] });
  const exited = once(child, "exit");
  try {
    const sessionId = await readSessionId(child, timeoutMs);
    return {
      sessionId,
      async kill() {
        if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
        await exited;
      },
    };
  } catch (error) {
    child.kill("SIGKILL");
    await exited;
    throw error;
  }
}

function readSessionId(child: ChildProcess, timeoutMs: number): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    let stdout = "";
    let stderr = "";
    const timer = setTimeout(
      () => fail(new Error(`the owner process printed no session id within ${timeoutMs} ms`)),
      timeoutMs,
    );
    const fail = (error: Error) => {
      clearTimeout(timer);
      reject(error);
    };
    child.stderr?.on("data", (chunk: Buffer) => {
      stderr += chunk.toString("utf8");
    });
    child.stdout?.on("data", (chunk: Buffer) => {
      stdout += chunk.toString("utf8");
      const line = stdout.split("\n")[0];
      if (stdout.includes("\n") && line) {
        clearTimeout(timer);
        try {
          resolvePromise((JSON.parse(line) as { id: string }).id);
        } catch (error) {
          reject(new Error(`the owner process printed ${JSON.stringify(line)}`, { cause: error }));
        }
      }
    });
    child.once("exit", (code, signal) => {
      fail(
        new Error(
          `the owner process exited (${code ?? signal}) before starting a session: ${stderr}`,
        ),
      );
    });
  });
}
