import { once } from "node:events";
import { connect, createServer, type Server } from "node:net";
import { networkInterfaces } from "node:os";
import { expect, it } from "vitest";
import type { ConformanceContext } from "../../suite-context.js";
import { conformanceTestNames } from "../../test-names.js";
import { waitUntil } from "../../wait-until.js";

const names = conformanceTestNames.hostile;
const probePort = 17_017;

/** IPv4 addresses a session would use to reach the host, loopback aside (that one is its own). */
function hostAddresses(): string[] {
  const addresses = Object.values(networkInterfaces())
    .flat()
    .filter((a) => a !== undefined && a.family === "IPv4" && !a.internal)
    .map((a) => a!.address);
  // Cloud metadata lives here; a connect must fail whether or not this host has the address.
  return [...new Set([...addresses, "169.254.169.254"])];
}

/** A TCP server on every host address that counts the connections it accepts. */
async function countingServer(): Promise<{ server: Server; port: number; count: () => number }> {
  let accepted = 0;
  const server = createServer((socket) => {
    accepted += 1;
    socket.destroy();
  });
  server.listen(0, "0.0.0.0");
  await once(server, "listening");
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("no TCP address");
  return { server, port: address.port, count: () => accepted };
}

/** `nc` to each address, one at a time, bounded by its connect timeout; prints nothing useful. */
function connectEachArgv(addresses: string[], port: number): string[] {
  const script = `for a in ${addresses.join(" ")}; do nc -w 2 "$a" ${port} </dev/null >/dev/null 2>&1; done; true`;
  return ["sh", "-c", script];
}

/** The session's own global IPv4 addresses. */
async function sessionAddresses(ctx: ConformanceContext, id: string): Promise<string[]> {
  const out = await ctx.provider.exec(id, ["sh", "-c", "ip -o -4 addr show 2>/dev/null"]);
  return [...out.stdout.matchAll(/inet (\d+\.\d+\.\d+\.\d+)\//g)]
    .map((m) => m[1] as string)
    .filter((a) => !a.startsWith("127."));
}

/** Probes the network a session gets when its policy does not ask for networkIsolation. */
export function registerNetworkProbes(ctx: ConformanceContext): void {
  it(
    names.network,
    async () => {
      const mode = ctx.report.defaults.network;
      if (ctx.report.isolation === "none") {
        expect(mode, "a provider without isolation shares the host's network and says so").toBe(
          "host",
        );
        return;
      }
      expect(
        ["none", "private"],
        `defaults.network of isolation ${ctx.report.isolation}`,
      ).toContain(mode);
      const [a, b] = await Promise.all([ctx.start(), ctx.start()]);
      const addressesOfA = await sessionAddresses(ctx, a);
      if (mode === "none") expect(addressesOfA, "no interface but loopback").toEqual([]);

      // Session to session: A counts the connections its listener accepts.
      const stopListener = new AbortController();
      const listener = ctx.provider
        .exec(
          a,
          [
            "sh",
            "-c",
            `while :; do nc -l -p ${probePort} </dev/null >/dev/null 2>&1 && echo hit >> /tmp/hits; done`,
          ],
          { signal: stopListener.signal },
        )
        .catch(() => undefined);
      const hits = async () =>
        Number(
          (
            await ctx.provider.exec(a, ["sh", "-c", "cat /tmp/hits 2>/dev/null | wc -l"])
          ).stdout.trim(),
        );
      try {
        const targets = addressesOfA.length > 0 ? addressesOfA : ["127.0.0.1"];
        // Control: A reaches its own listener at those addresses, so the probe can succeed.
        await waitUntil(
          "session A's listener to accept a connection from A itself",
          async () => {
            await ctx.provider.exec(a, connectEachArgv(targets, probePort));
            return (await hits()) > 0;
          },
          ctx.ms(30_000),
          500,
        );
        const before = await hits();
        for (let attempt = 0; attempt < 3; attempt++) {
          await ctx.provider.exec(b, connectEachArgv(targets, probePort));
        }
        expect(await hits(), "connections from session B that A accepted").toBe(before);
      } finally {
        stopListener.abort(new Error("probe finished"));
        await listener;
      }

      // Session to host: a server on every host address counts what reaches it.
      const { server, port, count } = await countingServer();
      try {
        const addresses = hostAddresses();
        const local = addresses.find((x) => !x.startsWith("169.254.")) ?? "127.0.0.1";
        const control = connect(port, local);
        await once(control, "connect");
        control.destroy();
        await waitUntil(
          "the host's own connection to be counted",
          async () => count() === 1,
          5_000,
          20,
        );
        await ctx.provider.exec(b, connectEachArgv(addresses, port), {
          timeoutMs: ctx.ms(120_000),
        });
        expect(count(), `connections from a session to the host (${addresses.join(", ")})`).toBe(1);
      } finally {
        server.close();
      }
    },
    ctx.ms(240_000),
  );
}
