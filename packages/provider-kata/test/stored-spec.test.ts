import { agentCapabilities, agentMountPath } from "@cadre/agent-runtime-sandbox-agent";
import { expect, it } from "vitest";
import { kataAnnotations } from "../src/index.js";
import { describeWithContainerd } from "./support/available.js";
import { findBackendLeftovers, orphanTasks, readBackendLabels } from "./support/containerd-env.js";
import { useKataProvider } from "./support/test-provider.js";

const runLabel = { "cadre.test/stored-spec": String(process.pid) };
const MiB = 1024 * 1024;

describeWithContainerd(
  "the container spec stored in containerd (Kata code path, stand-in shim)",
  () => {
    const { provider, adapter } = useKataProvider("kata-stand-in", runLabel);

    it("carries Kata's sizing annotations, resources, fresh namespaces and a read-only root", async () => {
      const id = await provider.startSession({
        memory: 300 * MiB + 1,
        cpu: 1.5,
        pids: 50,
        readOnlyRootfs: true,
        networkIsolation: true,
        labels: runLabel,
      });
      const container = await adapter.client.getContainer(id);
      expect(container.runtime?.name).toBe("io.containerd.kata.v2");
      expect(container.spec?.type_url).toBe(
        "types.containerd.io/opencontainers/runtime-spec/1/Spec",
      );
      expect(container.labels["cadre.agent-runtime/session-id"]).toBe(id);

      const spec = await adapter.storedSpec(id);
      expect(spec.annotations[kataAnnotations.memoryMiB]).toBe("301");
      expect(spec.annotations[kataAnnotations.vcpus]).toBe("2");
      expect(spec.linux.resources.memory).toEqual({ limit: 300 * MiB + 1, swap: 300 * MiB + 1 });
      expect(spec.linux.resources.cpu).toEqual({ quota: 150_000, period: 100_000 });
      expect(spec.linux.resources.pids).toEqual({ limit: 50 });
      expect(spec.root.readonly).toBe(true);
      expect(spec.mounts.find((m) => m.destination === "/tmp")?.type).toBe("tmpfs");
      expect(spec.linux.seccomp?.defaultAction).toBe("SCMP_ACT_ERRNO");
      const network = spec.linux.namespaces.find((n) => n.type === "network");
      expect(network, "a network namespace of its own").toBeDefined();
      expect(network?.path, "a fresh one, not a shared path").toBeUndefined();
      expect(spec.linux.namespaces.map((n) => n.type).sort()).toEqual([
        "ipc",
        "mount",
        "network",
        "pid",
        "uts",
      ]);
      expect(spec.process.noNewPrivileges).toBe(true);
      // PID 1 is the agent, with its own capabilities only; every command has none.
      expect(spec.process.args[0]).toBe(agentMountPath);
      expect(spec.process.capabilities.bounding).toEqual(agentCapabilities.map((c) => `CAP_${c}`));
      expect(spec.process.capabilities.inheritable).toEqual([]);
      expect(spec.process.capabilities.ambient).toEqual([]);
      expect(spec.linux.cgroupsPath).toBe(`/cadre/${id}`);

      // The session really runs with that spec.
      const result = await provider.exec(id, [
        "sh",
        "-c",
        "touch /x 2>/dev/null || echo read-only; ls /sys/class/net",
      ]);
      expect(result.stdout).toBe("read-only\nlo\n");
      await provider.destroySession(id);
      await expect(adapter.client.getContainer(id)).rejects.toMatchObject({ code: 5 });
    });

    it("without networkIsolation still gives an empty network namespace (never the host's)", async () => {
      const id = await provider.startSession({ networkIsolation: false, labels: runLabel });
      const spec = await adapter.storedSpec(id);
      expect(spec.linux.namespaces).toContainEqual({ type: "network" });
      expect(spec.annotations[kataAnnotations.memoryMiB]).toBeUndefined();
      expect(spec.root.readonly).toBe(false);
      await provider.destroySession(id);
    });

    it("starts a policy whose labels are over containerd's 4096 bytes together, and refuses one past the contract's limits, creating nothing", async () => {
      const big = Object.fromEntries(["a", "b", "c", "d", "e"].map((k) => [k, "x".repeat(1000)]));
      const id = await provider.startSession({ labels: { ...runLabel, ...big } });
      expect((await provider.getSession(id)).labels).toMatchObject(big);
      expect((await provider.getSession(id)).policy.labels).toMatchObject(big);
      await provider.destroySession(id);
      const past = Object.fromEntries(
        Array.from({ length: 17 }, (_, i) => [`k${i}`, "x".repeat(1000)]),
      );
      const error = await provider
        .startSession({ labels: { ...runLabel, ...past } })
        .catch((e: unknown) => e);
      expect(error).toMatchObject({ code: "POLICY_INVALID", issues: [{ path: "labels" }] });
      expect(await findBackendLeftovers(runLabel)).toEqual([]);
    });

    it("keeps env values out of every label, however large (they go only into the process spec)", async () => {
      const id = await provider.startSession({
        env: { BIG: "x".repeat(5000), TOKEN: "s3cret-value" },
        labels: runLabel,
      });
      const labels = await readBackendLabels(id);
      expect(labels).toContain("TOKEN");
      expect(labels).not.toContain("s3cret-value");
      expect((await provider.exec(id, ["sh", "-c", "echo $TOKEN"])).stdout).toBe("s3cret-value\n");
      await provider.destroySession(id);
    });

    it("runs commands as a user name the agent resolves through the image's /etc/passwd", async () => {
      const id = await provider.startSession({ user: "user", labels: runLabel });
      const spec = await adapter.storedSpec(id);
      // The host resolves nothing: the name goes to the agent, which starts as root.
      expect(spec.process.user).toEqual({ uid: 0, gid: 0 });
      expect(spec.process.args.slice(-2)).toEqual(["--user", "user"]);
      expect((await provider.exec(id, ["id"])).stdout).toBe("uid=1000(user) gid=1000(user)\n");
      expect((await provider.exec(id, ["sh", "-c", "echo $HOME"])).stdout).toBe("/home/user\n");
      await provider.destroySession(id);
    });

    it("refuses a user the image does not have with POLICY_INVALID at user, leaving nothing", async () => {
      const orphansBefore = await orphanTasks();
      const error = await provider
        .startSession({ user: "cadre-no-such-user", labels: runLabel })
        .catch((e: unknown) => e);
      expect(error).toMatchObject({ code: "POLICY_INVALID", issues: [{ path: "user" }] });
      expect((error as Error).message).toContain("cadre-no-such-user");
      expect(await findBackendLeftovers(runLabel)).toEqual([]);
      // The agent ended its task when it refused: the task is deleted too, not only the container.
      expect(await orphanTasks()).toEqual(orphansBefore);
    });
  },
);
