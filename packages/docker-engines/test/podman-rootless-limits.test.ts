import { randomUUID } from "node:crypto";
import {
  createDockerProvider,
  dockerUnavailableReason,
} from "@cadre/agent-runtime-provider-docker";
import Docker from "dockerode";
import { afterAll, describe, expect, it } from "vitest";
import { testImage } from "./engine-conformance.js";
import { podmanRootful, podmanRootless } from "./test-engines.js";

/**
 * The measurement behind the rootless Podman row of the capability matrix: on this cgroup v1
 * host, a container that rootless Podman's Docker API creates with Memory, NanoCpus and PidsLimit
 * gets no cgroup of its own and none of the limits, where rootful Podman applies them. So the
 * provider must (and does) report memory, cpu and pids as not enforced there.
 */
const engines = [
  { engine: podmanRootful, limited: true },
  { engine: podmanRootless, limited: false },
];
const runLabel = { "cadre.test/podman-limits-run": randomUUID() };
const memory = 64 * 1024 * 1024;
const pids = 16;

/** What a container with the three limits sees of its cgroups: its memory cgroup and the limits. */
const probe = [
  "sh",
  "-c",
  [
    "grep -E ':memory:' /proc/self/cgroup | cut -d: -f3",
    "cat /sys/fs/cgroup/memory/memory.limit_in_bytes",
    "cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us",
    "cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || echo none",
  ].join("; "),
];

/** The stdout of a container's log stream without a TTY: frames of an 8-byte header, then data. */
function stdoutOf(logs: Buffer): string {
  const parts: Buffer[] = [];
  for (let at = 0; at + 8 <= logs.length; ) {
    const length = logs.readUInt32BE(at + 4);
    if (logs[at] === 1) parts.push(logs.subarray(at + 8, at + 8 + length));
    at += 8 + length;
  }
  return Buffer.concat(parts).toString("utf8");
}

for (const { engine, limited } of engines) {
  const options = { ...engine.options, image: testImage };
  const unavailable = await dockerUnavailableReason(options);
  describe.skipIf(unavailable !== undefined && process.env.CI !== "true")(
    `${engine.name}: cgroup limits on this host`,
    () => {
      const docker = new Docker({ socketPath: engine.options.socketPath });
      afterAll(async () => {
        const left = await docker.listContainers({
          all: true,
          filters: { label: Object.entries(runLabel).map(([k, v]) => `${k}=${v}`) },
        });
        await Promise.all(left.map((c) => docker.getContainer(c.Id).remove({ force: true })));
        const after = await docker.listContainers({
          all: true,
          filters: { label: Object.entries(runLabel).map(([k, v]) => `${k}=${v}`) },
        });
        expect(after).toEqual([]);
      });

      it(`${limited ? "applies" : "ignores"} Memory, NanoCpus and PidsLimit, and the provider reports it`, async () => {
        expect(unavailable, "the engine is up").toBeUndefined();
        const container = await docker.createContainer({
          Image: testImage,
          Cmd: probe,
          Labels: runLabel,
          HostConfig: {
            NetworkMode: "none",
            Memory: memory,
            MemorySwap: memory,
            NanoCpus: 500_000_000,
            PidsLimit: pids,
            // Within the hard limits Podman runs under, as the provider's requests are.
            Ulimits: [
              { Name: "nofile", Soft: 4096, Hard: 4096 },
              { Name: "nproc", Soft: 32768, Hard: 32768 },
            ],
          },
        });
        await container.start();
        await container.wait();
        const logs = (await container.logs({ stdout: true, stderr: true })) as Buffer;
        const [group, memoryLimit, cpuQuota, pidsMax] = stdoutOf(logs).trim().split("\n");
        if (limited) {
          expect(group, "a memory cgroup of its own").toContain(container.id);
          expect(Number(memoryLimit)).toBe(memory);
          expect(Number(cpuQuota)).toBe(50_000);
          expect(pidsMax).toBe(String(pids));
        } else {
          expect(group, "no memory cgroup of its own").not.toContain(container.id);
          expect(Number(memoryLimit), "no memory limit").toBeGreaterThan(memory);
          expect(cpuQuota, "no CPU quota").toBe("-1");
          expect(["max", "none"], "no pids limit").toContain(pidsMax);
        }
        const provider = createDockerProvider(options);
        try {
          const report = await provider.capabilities();
          for (const field of ["memory", "cpu", "pids"] as const) {
            expect(report.policy[field].enforced, field).toBe(limited);
          }
        } finally {
          await provider.close();
        }
      });
    },
  );
}
