import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { CommandError } from "../cli/command-error.js";
import type { KeeperReply, KeeperRequest } from "./keeper-protocol.js";

/** The keeper's entry point, built beside the command's (dist/session-keeper.js). */
const keeperScript = fileURLToPath(new URL("./session-keeper.js", import.meta.url));

export interface KeptSession {
  id: string;
  /** The keeper's pid: the session's owner. */
  keeperPid: number;
}

/**
 * Starts a session through a new session keeper (sessions/keeper.ts) and resolves with its id
 * once it runs; the keeper stays behind as its owner, detached from this process. The request
 * travels over the keeper's stdin. When `signal` aborts first, the keeper is told to stop, and
 * removes what it had begun.
 */
export async function startKeptSession(
  request: KeeperRequest,
  signal: AbortSignal,
): Promise<KeptSession> {
  const keeper = spawn(process.execPath, [keeperScript], {
    cwd: "/",
    detached: true,
    stdio: ["pipe", "pipe", "ignore"],
  });
  const stdin = keeper.stdin as NonNullable<typeof keeper.stdin>;
  const stdout = keeper.stdout as NonNullable<typeof keeper.stdout>;
  const stop = () => keeper.kill("SIGTERM");
  signal.addEventListener("abort", stop, { once: true });
  try {
    const failed = new Promise<never>((_, reject) => keeper.once("error", reject));
    failed.catch(() => {});
    const exited = new Promise<string>((resolve) => {
      keeper.once("exit", (code, sig) => resolve(sig ? `signal ${sig}` : `code ${code}`));
    });
    stdin.on("error", () => {});
    stdin.end(`${JSON.stringify(request)}\n`);
    let text = "";
    stdout.setEncoding("utf8").on("data", (chunk: string) => {
      text += chunk;
    });
    // The keeper closes its stdout after its reply, or by exiting.
    await Promise.race([new Promise((resolve) => stdout.once("close", resolve)), failed]);
    const reply = parseReply(text);
    if (!reply) {
      signal.throwIfAborted();
      throw new CommandError(
        `the session keeper exited (${await exited}) before it said whether the session started; "cadre-runtime sessions list" shows whether one did`,
      );
    }
    if ("error" in reply) throw new CommandError(reply.error.message, reply.error.code);
    return { id: reply.id, keeperPid: keeper.pid as number };
  } finally {
    signal.removeEventListener("abort", stop);
    stdout.destroy();
    stdin.destroy();
    keeper.unref();
  }
}

function parseReply(text: string): KeeperReply | undefined {
  try {
    const reply = JSON.parse(text) as KeeperReply;
    return typeof reply === "object" && reply !== null ? reply : undefined;
  } catch {
    return undefined;
  }
}
