import { setTimeout as sleep } from "node:timers/promises";
import { createProvider } from "@cadre/agent-runtime";
import {
  AgentRuntimeError,
  type IsolationProvider,
  SessionNotFoundError,
} from "@cadre/agent-runtime-contract";
import { type KeeperReply, type KeeperRequest, keeperPollMs } from "./keeper-protocol.js";

/**
 * A session keeper: a detached process (a session of its own, no terminal, stdio its parent's
 * pipes then nothing) that starts one session and then stays its owner, so that `reap` judges
 * the owner alive and leaves the session to the user, until one of these ends it:
 *
 * - the session is gone (`sessions destroy`, a reap with --older-than, anyone's destroySession):
 *   the keeper sees it within keeperPollMs and exits;
 * - its TTL runs out: this instance's TTL timer destroys it, then the keeper exits;
 * - the keeper is killed, or the host reboots: the owner is gone, and the next `reap` removes the
 *   session as it would any orphan.
 *
 * It reads the request from stdin and writes the reply (the id, or the error) to stdout, then
 * closes both; it writes nothing anywhere after that.
 */
export async function runKeeper(): Promise<number> {
  process.title = "cadre-runtime-session-keeper";
  const controller = new AbortController();
  let started = false;
  const stop = () => {
    // Before the start: abort it (what it made is removed). After: leave the session to reap.
    if (!started) controller.abort(new Error("the session keeper was stopped"));
    else process.exit(0);
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
  process.on("SIGHUP", () => {});

  let provider: IsolationProvider | undefined;
  let id: string;
  try {
    const request = JSON.parse(await readAll(process.stdin)) as KeeperRequest;
    provider = await createProvider(request.config);
    id = await provider.startSession(request.policy, { signal: controller.signal });
    started = true;
  } catch (error) {
    await reply({ error: errorOf(error) });
    await provider?.close?.();
    return 1;
  }
  await reply({ id });
  await keep(provider, id);
  await provider.close?.();
  return 0;
}

/** Until the session is gone. An engine that does not answer for a while changes nothing. */
async function keep(provider: IsolationProvider, id: string): Promise<void> {
  for (;;) {
    await sleep(keeperPollMs);
    try {
      // A removed session may still be listed for a while as "ended", with how it ended.
      if ((await provider.getSession(id)).state === "ended") return;
    } catch (error) {
      if (SessionNotFoundError.isInstance(error)) return;
    }
  }
}

async function readAll(input: NodeJS.ReadableStream): Promise<string> {
  let text = "";
  for await (const chunk of input) text += chunk.toString();
  return text;
}

async function reply(message: KeeperReply): Promise<void> {
  await new Promise<void>((resolve) => process.stdout.end(`${JSON.stringify(message)}\n`, resolve));
  process.stdin.destroy();
}

function errorOf(error: unknown): { code?: string; message: string } {
  if (AgentRuntimeError.isInstance(error)) {
    const err = error as AgentRuntimeError;
    return { code: err.code, message: err.message };
  }
  return { message: error instanceof Error ? error.message : String(error) };
}
