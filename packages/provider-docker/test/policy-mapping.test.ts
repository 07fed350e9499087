import {
  agentBinaryPath,
  agentCapabilities,
  agentMountPath,
  agentUid,
} from "@cadre/agent-runtime-sandbox-agent";
import { describe, expect, it } from "vitest";
import { scratchTmpOptions, sessionDefaults } from "../src/container-spec.js";
import { defaultSessionNetwork } from "../src/session-network.js";
import { docker, dockerTestsUnavailable } from "./docker-test-env.js";
import { useDockerSessions } from "./session-tracker.js";

const unavailable = await dockerTestsUnavailable("runc");
const MiB = 1024 * 1024;

describe.skipIf(unavailable !== undefined && process.env.CI !== "true")(
  `policy mapping read back from the daemon (runc)${unavailable ? ` - skipped: ${unavailable}` : ""}`,
  () => {
    const sessions = useDockerSessions("runc");

    it("maps every limit and applies the hardening whatever the policy", async () => {
      const id = await sessions.start({
        memory: 96 * MiB,
        cpu: 0.75,
        pids: 48,
        readOnlyRootfs: true,
        networkIsolation: true,
        user: "1000:1000",
        workdir: "/tmp",
        env: { GREETING: "hello" },
      });
      const info = await docker.getContainer(id).inspect();
      const host = info.HostConfig;
      expect(host).toMatchObject({
        Memory: 96 * MiB,
        MemorySwap: 96 * MiB,
        NanoCpus: 750_000_000,
        PidsLimit: 48,
        ReadonlyRootfs: true,
        Tmpfs: { "/tmp": scratchTmpOptions },
        NetworkMode: "none",
        CapDrop: ["ALL"],
        SecurityOpt: ["no-new-privileges"],
        // cadre-agent is PID 1 and reaps orphans itself.
        Init: false,
        Privileged: false,
        Runtime: "runc",
        AutoRemove: false,
      });
      expect(host.IpcMode).toBe("private");
      // Docker's default masked and read-only /proc and /sys paths stay in place.
      expect(host.MaskedPaths).toEqual(
        expect.arrayContaining(["/proc/kcore", "/proc/keys", "/sys/firmware"]),
      );
      expect(host.ReadonlyPaths).toEqual(
        expect.arrayContaining(["/proc/sys", "/proc/sysrq-trigger"]),
      );
      // What the agent starts with as root; it drops CHOWN, and every command drops all of them.
      expect(host.CapAdd).toEqual([...agentCapabilities]);
      // The one bind mount: the agent's binary, read-only. No docker.sock, no other host path.
      const agent = agentBinaryPath();
      expect(host.Binds).toEqual([`${agent}:${agentMountPath}:ro`]);
      expect(info.Mounts.map((m) => [m.Source, m.Destination, m.RW])).toEqual([
        [agent, agentMountPath, false],
      ]);
      // PID 1 (the agent) starts as root and becomes agentUid; commands run as the policy's user.
      expect(info.Config.User).toBe("0:0");
      // It also sets every command's open-files limit (rootless Podman's API ignores Ulimits).
      expect(info.Config.Cmd).toEqual([
        "--agent-uid",
        String(agentUid),
        "--user",
        "1000:1000",
        "--nofile",
        String(sessionDefaults.nofile),
      ]);
      const ids = await sessions.provider.exec(id, ["sh", "-c", "id -u; id -g"]);
      expect(ids.stdout).toBe("1000\n1000\n");
      expect(info.Config.WorkingDir).toBe("/tmp");
      expect(info.Config.Env).toContain("GREETING=hello");
      expect(info.Name).toBe(`/${id}`);
    });

    it("joins the session network when networkIsolation is false, with a writable root by default", async () => {
      const id = await sessions.start({ networkIsolation: false });
      const host = (await docker.getContainer(id).inspect()).HostConfig;
      const network = await docker.getNetwork(defaultSessionNetwork.name).inspect();
      expect(host.NetworkMode).toBe(network.Id);
      expect(host.ReadonlyRootfs).toBe(false);
      expect(host.Memory).toBe(0);
      expect(host.CapDrop).toEqual(["ALL"]);
      expect(host.SecurityOpt).toEqual(["no-new-privileges"]);
    });

    it("labels the container with the session's labels and policy", async () => {
      const id = await sessions.start({ memory: 64 * MiB, labels: { team: "a" } });
      const labels = (await docker.getContainer(id).inspect()).Config.Labels;
      expect(labels).toMatchObject({
        team: "a",
        "cadre.agent-runtime/session-id": id,
        "cadre.agent-runtime/provider": "docker",
      });
      expect(JSON.parse(labels["cadre.agent-runtime/policy"] ?? "{}")).toMatchObject({
        memory: 64 * MiB,
      });
      const info = await sessions.provider.getSession(id);
      expect(info).toMatchObject({ id, state: "running", labels: { team: "a" } });
    });
  },
);
