import type { ContainerdClient } from "../containerd/client.js";
import { type OciProcess, processTypeUrl } from "../spec/oci-types.js";
import { newExecId } from "./exec-id.js";

const SIGKILL = 9;
const noStdio = { stdin: "", stdout: "", stderr: "" };

export interface HelperTarget {
  client: ContainerdClient;
  containerId: string;
  /** The process spec the helper runs with (user, env, cwd); args are the helper's. */
  base: OciProcess;
}

/** `promise`'s value, or undefined when `ms` pass first. */
async function within<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<undefined>((resolve) => {
        timer = setTimeout(() => resolve(undefined), Math.max(0, ms));
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Runs a helper inside the sandbox, where the tenant controls every binary: no stdio at all (so
 * nothing it prints is buffered), and killed when it is not done within `timeLimitMs`. Resolves
 * with its exit status, or undefined when it did not finish in time.
 */
export async function runHelper(
  target: HelperTarget,
  args: string[],
  timeLimitMs: number,
): Promise<number | undefined> {
  const { client, containerId, base } = target;
  const execId = newExecId();
  await client.exec(containerId, execId, noStdio, {
    type_url: processTypeUrl,
    value: Buffer.from(JSON.stringify({ ...base, args })),
  });
  const exited = client.wait(containerId, execId);
  // Rejects when the start fails or the task goes; nobody may be left awaiting it unhandled.
  exited.catch(() => {});
  const started = performance.now();
  try {
    await client.startProcess(containerId, execId);
    const status = await within(exited, timeLimitMs - (performance.now() - started));
    if (status !== undefined) return status;
    await client.kill(containerId, SIGKILL, { execId }).catch(() => {});
    await within(
      exited.catch(() => undefined),
      1000,
    );
    return undefined;
  } finally {
    await client.deleteProcess(containerId, execId).catch(() => {});
  }
}
