import { randomUUID } from "node:crypto";
import type { IsolationPolicy } from "@cadre/agent-runtime-contract";
import { afterAll, afterEach, expect } from "vitest";
import { createDockerProvider, type DockerProvider } from "../src/index.js";
import type { DockerRuntime } from "../src/options.js";
import { containersWithLabels, testImage } from "./docker-test-env.js";

/**
 * A provider for one test file whose sessions all carry this file's run label: each test's
 * sessions are destroyed after it, and the file ends by removing their end records and checking
 * that the daemon holds no container of this run (never counting other runs' containers on the shared daemon).
 */
export function useDockerSessions(runtime: DockerRuntime = "runc") {
  const runLabels = { "cadre.test/provider-docker-run": randomUUID() };
  const provider: DockerProvider = createDockerProvider({ runtime });
  const started = new Set<string>();

  afterEach(async () => {
    await Promise.all([...started].map((id) => provider.destroySession(id)));
    started.clear();
  });
  afterAll(async () => {
    // The sessions' end records go too: nothing of this run stays on the daemon.
    await provider.reap({ labels: runLabels, endedOlderThanMs: 0 });
    await provider.close();
    expect(await containersWithLabels(runLabels)).toEqual([]);
  });

  return {
    provider,
    runLabels,
    async start(policy: IsolationPolicy = {}): Promise<string> {
      const id = await provider.startSession({
        image: testImage,
        ...policy,
        labels: { ...policy.labels, ...runLabels },
      });
      started.add(id);
      return id;
    },
  };
}
