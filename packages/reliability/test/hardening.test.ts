import type { IsolationProvider } from "@cadre/agent-runtime-contract";
import type { KataProvider } from "@cadre/agent-runtime-provider-kata";
import {
  agentBinaryPath,
  agentCapabilities,
  agentMountPath,
} from "@cadre/agent-runtime-sandbox-agent";
import Docker from "dockerode";
import { afterAll, expect, it } from "vitest";
import { censusTotal, type Target, testHost } from "../src/index.js";
import { describeTarget } from "./support/available.js";

const engineSockets = ["docker.sock", "containerd.sock", "containerd.sock.ttrpc"];

/** Policies whose sessions must all be equally hardened: plain, as uid 0, read-only root. */
const policies = [{}, { user: "0" }, { readOnlyRootfs: true, networkIsolation: true }];

/** What the session's own processes see: no capabilities, no_new_privs, no engine socket. */
async function expectHardenedFromInside(provider: IsolationProvider, id: string, gVisor: boolean) {
  const status = await provider.exec(id, ["cat", "/proc/self/status"]);
  expect(status.stdout).toMatch(/^CapEff:\s+0+$/m);
  expect(status.stdout).toMatch(/^CapPrm:\s+0+$/m);
  expect(status.stdout).toMatch(/^CapBnd:\s+0+$/m);
  // gVisor's /proc/<pid>/status has no NoNewPrivs line; there the engine read-back proves it.
  if (!gVisor) expect(status.stdout).toMatch(/^NoNewPrivs:\s+1$/m);
  const mounts = await provider.exec(id, ["cat", "/proc/self/mountinfo"]);
  for (const socket of engineSockets) expect(mounts.stdout).not.toContain(socket);
  for (const path of ["/var/run/docker.sock", "/run/containerd/containerd.sock"]) {
    expect((await provider.exec(id, ["test", "-e", path])).exitCode).not.toBe(0);
  }
  // Raw devices and mounting stay out of reach even for uid 0 inside.
  expect((await provider.exec(id, ["mount", "-t", "tmpfs", "x", "/mnt"])).exitCode).not.toBe(0);
}

function hardenedSuite(target: Target, readBack: (id: string) => Promise<void>) {
  const runLabel = { "cadre.reliability/hardening-run": `${process.pid}-${target.name}` };
  const provider = target.createProvider();
  afterAll(async () => {
    for (const s of await provider.listSessions({ labels: runLabel }))
      await provider.destroySession(s.id);
    expect(censusTotal(await target.census(runLabel))).toBe(0);
    await provider.reap({ labels: runLabel, endedOlderThanMs: 0 }); // their end records
    await provider.close?.();
  });
  it.each(policies.map((p) => [JSON.stringify(p), p] as const))(
    "policy %s: no capabilities, no_new_privs, no engine socket or host path, never privileged (inside and read back from the engine)",
    async (_, policy) => {
      const id = await provider.startSession({ ...target.basePolicy, ...policy, labels: runLabel });
      try {
        await expectHardenedFromInside(provider, id, target.name.endsWith("runsc"));
        await readBack(id);
      } finally {
        await provider.destroySession(id);
      }
    },
  );
}

for (const name of ["docker-runc", "docker-runsc"] as const) {
  await describeTarget(name, "hardening of Docker sessions", (target) => {
    const docker = new Docker(testHost.docker);
    hardenedSuite(target, async (id) => {
      const info = await docker.getContainer(id).inspect();
      const host = info.HostConfig;
      expect(host.Privileged).toBe(false);
      expect(host.CapDrop).toEqual(["ALL"]);
      // The session agent's capabilities only; it narrows them and no command keeps any (the
      // inside read above).
      expect(host.CapAdd).toEqual([...agentCapabilities]);
      expect(host.SecurityOpt).toContain("no-new-privileges");
      // One bind: the agent's binary, read-only. No other host path, no volume.
      const agentBind = `${agentBinaryPath()}:${agentMountPath}:ro`;
      expect(host.Binds).toEqual([agentBind]);
      expect(host.Devices ?? []).toEqual([]);
      expect(info.Mounts.map((m) => [m.Type, m.Destination, m.RW])).toEqual([
        ["bind", agentMountPath, false],
      ]);
      for (const mode of [
        host.PidMode,
        host.IpcMode,
        host.NetworkMode,
        host.UTSMode,
        host.UsernsMode,
      ])
        expect(mode ?? "").not.toBe("host");
      expect(host.Runtime).toBe(target.name === "docker-runc" ? "runc" : "runsc");
    });
  });
}

for (const name of ["kata-stand-in", "kata-runc", "kata-runsc"] as const) {
  await describeTarget(name, "hardening of containerd sessions", (target) => {
    const reader = target.createProvider() as KataProvider;
    afterAll(() => reader.close());
    hardenedSuite(target, async (id) => {
      const spec = await reader.containerd!.storedSpec(id);
      expect(spec.process.noNewPrivileges).toBe(true);
      // PID 1 is the session agent, started as root with its capabilities only (none to inherit);
      // it narrows them and no command keeps any (the inside read above).
      expect(spec.process.args[0]).toBe(agentMountPath);
      const held = agentCapabilities.map((c) => `CAP_${c}`);
      expect(spec.process.capabilities).toEqual({
        bounding: held,
        effective: held,
        permitted: held,
        inheritable: [],
        ambient: [],
      });
      // One bind: the agent's binary, read-only. No other host path.
      const isBind = (m: (typeof spec.mounts)[number]) =>
        m.type === "bind" || m.options.includes("bind") || m.options.includes("rbind");
      expect(spec.mounts.filter(isBind)).toEqual([
        {
          destination: agentMountPath,
          type: "bind",
          source: agentBinaryPath(),
          options: ["rbind", "ro", "nosuid", "nodev"],
        },
      ]);
      const allowedTypes = ["proc", "tmpfs", "devpts", "mqueue", "sysfs", "cgroup"];
      for (const mount of spec.mounts.filter((m) => !isBind(m))) {
        expect(allowedTypes).toContain(mount.type);
      }
      const namespaces = spec.linux.namespaces.map((n) => n.type).sort();
      expect(namespaces).toEqual(["ipc", "mount", "network", "pid", "uts"]);
      expect(spec.linux.resources.devices?.[0]).toEqual({ allow: false, access: "rwm" });
    });
  });
}
