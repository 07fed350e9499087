import { type ChildProcess, execFile, spawn } from "node:child_process";
import { randomBytes, randomInt } from "node:crypto";
import { once } from "node:events";
import { createConnection, createServer, type Server } from "node:net";
import { networkInterfaces } from "node:os";
import { promisify } from "node:util";

const run = promisify(execFile);

/** Host-side fixtures change the host's interfaces: only as root. */
export const rootReason =
  process.getuid?.() === 0 ? undefined : "the network tests add interfaces to the host (need root)";

/** Every IPv4 address of the host except loopback. */
export function hostAddresses(): string[] {
  return Object.values(networkInterfaces())
    .flatMap((list) => list ?? [])
    .filter((a) => a.family === "IPv4" && !a.internal)
    .map((a) => a.address);
}

/** A TCP server on the host, on every address, that answers "host-reached". */
export async function hostServer(): Promise<{ port: number; close(): Promise<void> }> {
  const server: Server = createServer((socket) => socket.end("host-reached\n"));
  server.listen(0, "0.0.0.0");
  await once(server, "listening");
  const address = server.address();
  if (!address || typeof address === "string") throw new Error("no port");
  return {
    port: address.port,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** What a TCP connection from the host to address:port reads before it closes. */
export async function readFromHost(address: string, port: number, timeoutMs = 15_000) {
  const socket = createConnection({ host: address, port });
  socket.setTimeout(timeoutMs, () => socket.destroy(new Error("timed out")));
  let text = "";
  socket.on("data", (chunk) => {
    text += chunk;
  });
  await once(socket, "close");
  return text;
}

/** A link-local address of the host itself, on its loopback interface: never on a wire. */
export async function hostLinkLocal(): Promise<{ address: string; remove(): Promise<void> }> {
  const address = `169.254.${randomInt(1, 169)}.${randomInt(1, 255)}`;
  await run("ip", ["addr", "add", `${address}/32`, "dev", "lo"]);
  return {
    address,
    remove: () => run("ip", ["addr", "del", `${address}/32`, "dev", "lo"]).then(() => {}),
  };
}

/**
 * A fake host "outside" this machine: a network namespace behind a veth pair, all local. It holds
 * a routable address and a link-local one (the cloud metadata situation: 169.254.x.y reached
 * through a route, not on the host itself), with one listener on both that answers "outside".
 */
export interface OutsideHost {
  address: string;
  linkLocal: string;
  port: number;
  remove(): Promise<void>;
}

export async function outsideHost(): Promise<OutsideHost> {
  const tag = randomBytes(3).toString("hex");
  const ns = `cadre-out-${tag}`;
  const hostSide = `cadreoh${tag}`;
  const nsSide = `cadreon${tag}`;
  const subnet = randomInt(0, 64) * 4;
  const net = `10.254.${randomInt(1, 255)}`;
  const hostAddress = `${net}.${subnet + 1}`;
  const address = `${net}.${subnet + 2}`;
  const linkLocal = `169.254.${randomInt(170, 255)}.${randomInt(1, 255)}`;
  const port = randomInt(20_000, 30_000);
  let listener: ChildProcess | undefined;
  const remove = async () => {
    if (listener?.exitCode === null && listener.signalCode === null) {
      const exited = once(listener, "exit");
      listener.kill("SIGKILL");
      await exited;
    }
    await run("ip", ["route", "del", `${linkLocal}/32`]).catch(() => {});
    await run("ip", ["link", "del", hostSide]).catch(() => {});
    await run("ip", ["netns", "del", ns]).catch(() => {});
  };
  try {
    await run("ip", ["netns", "add", ns]);
    await run("ip", ["link", "add", hostSide, "type", "veth", "peer", "name", nsSide]);
    await run("ip", ["link", "set", nsSide, "netns", ns]);
    await run("ip", ["addr", "add", `${hostAddress}/30`, "dev", hostSide]);
    await run("ip", ["link", "set", hostSide, "up"]);
    const inNs = (...args: string[]) => run("ip", ["netns", "exec", ns, ...args]);
    await inNs("ip", "addr", "add", `${address}/30`, "dev", nsSide);
    await inNs("ip", "addr", "add", `${linkLocal}/32`, "dev", "lo");
    await inNs("ip", "link", "set", nsSide, "up");
    await inNs("ip", "link", "set", "lo", "up");
    await inNs("ip", "route", "add", "default", "via", hostAddress);
    await run("ip", ["route", "add", `${linkLocal}/32`, "via", address, "dev", hostSide]);
    listener = spawn(
      "ip",
      ["netns", "exec", ns, "busybox", "nc", "-ll", "-p", String(port), "-e", "echo", "outside"],
      { stdio: "ignore" },
    );
    const outside = { address, linkLocal, port, remove };
    await waitForListener(address, port, listener);
    return outside;
  } catch (error) {
    await remove();
    throw error;
  }
}

/** Polls until the listener answers; its process exiting first is a failure. */
async function waitForListener(address: string, port: number, listener: ChildProcess) {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (listener.exitCode !== null) throw new Error("the outside listener exited");
    if ((await readFromHost(address, port, 5_000).catch(() => "")).includes("outside")) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`the outside listener on ${address}:${port} never answered`);
}
