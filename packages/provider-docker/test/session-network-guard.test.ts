import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { ProviderUnavailableError } from "@cadre/agent-runtime-contract";
import { afterAll, describe, expect, it } from "vitest";
import { createDockerProvider } from "../src/index.js";
import { guardRules, inspectGuard, removeGuard } from "../src/network-guard.js";
import { sessionNetworkLabels } from "../src/session-network.js";
import {
  containersWithLabels,
  docker,
  dockerTestsUnavailable,
  testImage,
} from "./docker-test-env.js";
import { hostAddresses, hostServer, readFromHost, rootReason } from "./network-fixtures.js";
import { useDockerSessions } from "./session-tracker.js";

const run = promisify(execFile);
const unavailable = rootReason ?? (await dockerTestsUnavailable("runc"));

/** How many copies of each guard rule the host firewall holds. */
async function ruleCopies(bridge: string): Promise<number[]> {
  const { stdout } = await run("iptables", ["-w", "-S"]);
  const lines = stdout.split("\n");
  return guardRules(bridge).map(
    (rule) =>
      lines.filter(
        (l) =>
          l.startsWith(`-A ${rule.chain} `) &&
          l.includes(`-i ${bridge} `) &&
          l.includes("cadre session network guard") &&
          (rule.spec.includes("-o") ? l.includes(`-o ${bridge} `) : !l.includes(" -o ")) &&
          (rule.spec.includes("-d") ? l.includes("-d 169.254.0.0/16") : !l.includes(" -d ")),
      ).length,
  );
}

describe.skipIf(unavailable !== undefined && process.env.CI !== "true")(
  `the session network and its host guard (runc)${unavailable ? ` - skipped: ${unavailable}` : ""}`,
  () => {
    // A network of this file's own, so that it can be created, raced for and removed.
    const tag = randomBytes(3).toString("hex");
    const sessionNetwork = { name: `cadre-test-net-${tag}`, bridge: `cadret${tag}` };
    const sessions = useDockerSessions("runc");
    const networksToRemove = new Set<string>([sessionNetwork.name]);

    afterAll(async () => {
      for (const name of networksToRemove) {
        await docker
          .getNetwork(name)
          .remove()
          .catch(() => {});
      }
      await removeGuard(sessionNetwork.bridge);
      expect(await ruleCopies(sessionNetwork.bridge)).toEqual([0, 0, 0]);
    });

    it("two providers starting sessions at once create one labelled network and one copy of each rule", async () => {
      const providers = [0, 1, 2].map(() => createDockerProvider({ sessionNetwork }));
      const ids = await Promise.all(
        providers.flatMap((p) =>
          [0, 1].map(() => p.startSession({ image: testImage, labels: sessions.runLabels })),
        ),
      );
      try {
        const named = (await docker.listNetworks()).filter((n) => n.Name === sessionNetwork.name);
        expect(named).toHaveLength(1);
        const network = await docker.getNetwork(sessionNetwork.name).inspect();
        expect(network.Labels).toEqual(sessionNetworkLabels);
        expect(network.Options).toEqual({
          "com.docker.network.bridge.enable_icc": "false",
          "com.docker.network.bridge.name": sessionNetwork.bridge,
        });
        for (const id of ids) {
          expect((await docker.getContainer(id).inspect()).HostConfig.NetworkMode).toBe(network.Id);
        }
        expect(await ruleCopies(sessionNetwork.bridge)).toEqual([1, 1, 1]);
      } finally {
        await Promise.all(ids.map((id) => providers[0]?.destroySession(id)));
        await Promise.all(providers.map((p) => p.close()));
      }
    });

    it("a session reaches the host when the INPUT rule is gone, and the next start puts it back", async () => {
      const provider = createDockerProvider({ sessionNetwork });
      const server = await hostServer();
      try {
        const first = await provider.startSession({ image: testImage, labels: sessions.runLabels });
        const target = hostAddresses()[0] as string;
        const probe = ["nc", "-w", "5", target, String(server.port)];
        expect(await readFromHost(target, server.port)).toBe("host-reached\n");
        expect((await provider.exec(first, probe)).stdout).toBe("");

        const input = guardRules(sessionNetwork.bridge)[0];
        if (!input) throw new Error("no INPUT rule");
        await run("iptables", ["-w", "-D", input.chain, ...input.spec]);
        expect(await inspectGuard(sessionNetwork.bridge)).toMatchObject({ state: "missing" });
        // The control: without the rule the same probe reaches the host, so the probe can fail.
        expect((await provider.exec(first, probe)).stdout).toBe("host-reached\n");

        const second = await provider.startSession({
          image: testImage,
          labels: sessions.runLabels,
        });
        expect(await inspectGuard(sessionNetwork.bridge)).toEqual({ state: "in-place" });
        expect((await provider.exec(second, probe)).stdout).toBe("");
        expect((await provider.exec(first, probe)).stdout).toBe("");
        await provider.destroySession(first);
        await provider.destroySession(second);
      } finally {
        await server.close();
        await provider.close();
      }
    });

    it("a network of that name that is not the provider's is refused, and nothing is started", async () => {
      const name = `cadre-test-foreign-${tag}`;
      networksToRemove.add(name);
      await docker.createNetwork({ Name: name, Driver: "bridge" });
      const provider = createDockerProvider({
        sessionNetwork: { name, bridge: `cadref${tag}` },
      });
      const error = await provider
        .startSession({ image: testImage, labels: sessions.runLabels })
        .catch((e: unknown) => e);
      expect(ProviderUnavailableError.isInstance(error)).toBe(true);
      const check = (error as ProviderUnavailableError).checks[0];
      expect(check).toMatchObject({ id: "docker.network", ok: false });
      expect(check?.fix).toContain(`docker network rm ${name}`);
      expect(await containersWithLabels(sessions.runLabels)).toEqual([]);
      expect((await provider.doctor()).checks.find((c) => c.id === "docker.network")).toMatchObject(
        { ok: false, required: true },
      );
      await provider.close();
    });

    it("a provider that cannot change the host firewall refuses open sessions with the fix, still starts isolated ones, and doctor says why", async () => {
      const name = `cadre-test-nonroot-${tag}`;
      const bridge = `cadren${tag}`;
      networksToRemove.add(name);
      const { gid } = (await run("getent", ["group", "docker"]).then(({ stdout }) => ({
        gid: Number(stdout.split(":")[2]),
      }))) as { gid: number };
      const [labelKey, labelValue] = Object.entries(sessions.runLabels)[0] as [string, string];
      const script = fileURLToPath(new URL("./fixtures/unprivileged-start.mjs", import.meta.url));
      const { stdout } = await run(
        process.execPath,
        [script, testImage, labelKey, labelValue, name, bridge],
        { uid: 65534, gid, timeout: 120_000 },
      );
      const out = JSON.parse(stdout);
      expect(out.open.code).toBe("PROVIDER_UNAVAILABLE");
      expect(out.open.message).toContain("networkIsolation: true");
      expect(out.open.checks[0]).toMatchObject({ id: "docker.network", ok: false });
      expect(out.open.checks[0].detail).toMatch(/permission denied|root/i);
      expect(out.open.checks[0].fix).toContain(`iptables -w -I INPUT 1 -i ${bridge}`);
      expect(out.isolated).toBe("isolated\n");
      expect(out.doctor).toMatchObject({ id: "docker.network", ok: false, required: true });
      expect(await containersWithLabels(sessions.runLabels)).toEqual([]);
      expect(await ruleCopies(bridge)).toEqual([0, 0, 0]);
    });
  },
);
