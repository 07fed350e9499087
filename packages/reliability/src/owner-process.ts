#!/usr/bin/env node
/**
 * A cadre process of its own, for the crash tests:
 *   own  <target> <endpoints-json> <policy-json>  starts a session, prints {"id"}, then runs a long
 *        command in it and prints {"execRunning":true} once its first output arrived; it then
 *        waits to be killed (SIGKILL in the tests, in the middle of that exec).
 *   reap <target> <endpoints-json>  reaps from a fresh process and prints {"reaped":[...]}.
 */
import type { IsolationPolicy } from "@cadre/agent-runtime-contract";
import { createTarget, isTargetName } from "./targets.js";
import type { TargetEndpoints } from "./test-host.js";

function say(message: object): void {
  process.stdout.write(`${JSON.stringify(message)}\n`);
}

async function main([command, name, endpointsJson, policyJson]: string[]): Promise<void> {
  if (!name || !isTargetName(name)) throw new Error(`unknown target ${name}`);
  const target = createTarget(name, JSON.parse(endpointsJson ?? "{}") as TargetEndpoints);
  const provider = target.createProvider();
  if (command === "reap") {
    say({ reaped: await provider.reap() });
    await provider.close?.();
    return;
  }
  if (command !== "own") throw new Error(`unknown command ${command}`);
  const policy = JSON.parse(policyJson ?? "{}") as IsolationPolicy;
  const id = await provider.startSession({ ...target.basePolicy, ...policy });
  say({ id });
  let told = false;
  // Never awaited: the process is killed while this exec runs.
  provider
    .exec(id, ["sh", "-c", "echo running; exec sleep 600"], {
      onStdout: () => {
        if (told) return;
        told = true;
        say({ execRunning: true });
      },
    })
    .catch((error: unknown) => say({ execFailed: String(error) }));
  setInterval(() => {}, 1 << 30);
}

main(process.argv.slice(2)).catch((error: unknown) => {
  process.stderr.write(`owner-process: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
