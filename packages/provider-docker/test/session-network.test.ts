import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DockerProvider } from "../src/index.js";
import { defaultSessionNetwork } from "../src/session-network.js";
import { docker, dockerTestsUnavailable } from "./docker-test-env.js";
import {
  hostAddresses,
  hostLinkLocal,
  hostServer,
  type OutsideHost,
  outsideHost,
  readFromHost,
  rootReason,
} from "./network-fixtures.js";
import { useDockerSessions } from "./session-tracker.js";

/**
 * Connects from inside a session to every target at once (busybox nc, 5 s connect timeout) and
 * returns what each connection read; "" when it could not connect.
 */
async function readFromSession(
  provider: DockerProvider,
  id: string,
  targets: string[],
  port: number,
): Promise<Record<string, string>> {
  const script =
    'port=$1; shift; for t in "$@"; do (out=$(nc -w 5 "$t" "$port" </dev/null 2>/dev/null); echo "$t $out") & done; wait';
  const result = await provider.exec(id, ["sh", "-c", script, "probe", String(port), ...targets], {
    timeoutMs: 60_000,
  });
  expect(result.exitCode).toBe(0);
  const read: Record<string, string> = {};
  for (const line of result.stdout.trim().split("\n")) {
    const [target = "", ...rest] = line.split(" ");
    read[target] = rest.join(" ").trim();
  }
  return Object.fromEntries(targets.map((t) => [t, read[t] ?? ""]));
}

/** The session's address on its network, from the daemon; undefined without a network. */
async function addressOf(id: string): Promise<string | undefined> {
  const networks = (await docker.getContainer(id).inspect()).NetworkSettings.Networks ?? {};
  return Object.values(networks).find((n) => n.IPAddress)?.IPAddress;
}

const sessionPort = 7777;

for (const runtime of ["runc", "runsc"] as const) {
  const unavailable = rootReason ?? (await dockerTestsUnavailable(runtime));
  const info = unavailable
    ? undefined
    : ((await docker.info()) as { Runtimes?: Record<string, { runtimeArgs?: string[] }> });
  // Here the daemon starts runsc with --network=none: such a sandbox has loopback only, joins no
  // network, and every probe below must fail for it, outside traffic included (as before).
  const joinsNetwork =
    runtime === "runc" || !info?.Runtimes?.runsc?.runtimeArgs?.includes("--network=none");

  describe.skipIf(unavailable !== undefined && process.env.CI !== "true")(
    `session network (${runtime})${unavailable ? ` - skipped: ${unavailable}` : ""}`,
    () => {
      const sessions = useDockerSessions(runtime);

      it("a session cannot connect to another session's listening port, which answers from inside", async () => {
        const [a, b] = await Promise.all([sessions.start(), sessions.start()]);
        await sessions.provider.exec(a, [
          "sh",
          "-c",
          `nc -ll -p ${sessionPort} -e echo session-a </dev/null >/dev/null 2>&1 &`,
        ]);
        const addressA = await addressOf(a);
        expect(addressA !== undefined).toBe(joinsNetwork);
        // Positive control: A's listener answers on A's own address (on loopback without one).
        const own = addressA ?? "127.0.0.1";
        let fromA = "";
        for (let i = 0; i < 20 && !fromA.includes("session-a"); i++) {
          fromA = (await readFromSession(sessions.provider, a, [own], sessionPort))[own] ?? "";
        }
        expect(fromA).toBe("session-a");

        if (addressA) {
          expect(await readFromSession(sessions.provider, b, [addressA], sessionPort)).toEqual({
            [addressA]: "",
          });
          const network = await docker.getNetwork(defaultSessionNetwork.name).inspect();
          const info = await docker.getContainer(b).inspect();
          expect(info.HostConfig.NetworkMode).toBe(network.Id);
          expect(network.Options).toMatchObject({
            "com.docker.network.bridge.enable_icc": "false",
            "com.docker.network.bridge.name": defaultSessionNetwork.bridge,
          });
          // No IPv6 either: the network has none and Docker turns it off in the session.
          const ipv6 = await sessions.provider.exec(b, [
            "cat",
            "/proc/sys/net/ipv6/conf/all/disable_ipv6",
          ]);
          expect(ipv6.stdout.trim()).toBe("1");
        } else {
          const info = await docker.getContainer(b).inspect();
          expect(info.HostConfig.NetworkMode).toBe("none");
        }
      });

      describe("the host", () => {
        let server: Awaited<ReturnType<typeof hostServer>>;
        let linkLocal: Awaited<ReturnType<typeof hostLinkLocal>>;
        beforeAll(async () => {
          server = await hostServer();
          linkLocal = await hostLinkLocal();
        });
        afterAll(async () => {
          await server?.close();
          await linkLocal?.remove();
        });

        it("a server on the host's every address is out of reach: the gateway, the other addresses, a link-local one", async () => {
          const id = await sessions.start();
          const network = await docker.getNetwork(defaultSessionNetwork.name).inspect();
          const gateway = network.IPAM?.Config?.[0]?.Gateway;
          const targets = [...new Set([...hostAddresses(), linkLocal.address])];
          if (joinsNetwork) expect(targets).toContain(gateway);
          // Positive control: the host reaches its server on every one of these addresses.
          for (const address of targets) {
            expect(await readFromHost(address, server.port)).toBe("host-reached\n");
          }
          const read = await readFromSession(sessions.provider, id, targets, server.port);
          expect(read).toEqual(Object.fromEntries(targets.map((t) => [t, ""])));
        });
      });

      describe("beyond the host", () => {
        let outside: OutsideHost;
        beforeAll(async () => {
          outside = await outsideHost();
        });
        afterAll(async () => {
          await outside?.remove();
        });

        it("a link-local address routed off the host (cloud metadata) is out of reach; the host reaches it", async () => {
          const id = await sessions.start();
          expect(await readFromHost(outside.linkLocal, outside.port)).toBe("outside\n");
          expect(
            await readFromSession(sessions.provider, id, [outside.linkLocal], outside.port),
          ).toEqual({ [outside.linkLocal]: "" });
        });

        it(`outside traffic is unchanged: ${joinsNetwork ? "an address beyond the host is reached" : "none, as runsc --network=none gave before"}`, async () => {
          const id = await sessions.start();
          expect(await readFromHost(outside.address, outside.port)).toBe("outside\n");
          const read = await readFromSession(
            sessions.provider,
            id,
            [outside.address],
            outside.port,
          );
          expect(read).toEqual({ [outside.address]: joinsNetwork ? "outside" : "" });
        });
      });
    },
  );
}
