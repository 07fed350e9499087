import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdir, writeFile } from "node:fs/promises";
import { promisify } from "node:util";

const run = promisify(execFile);

/**
 * A containerd of the test's own, beside the shared one of scripts/services.sh: its own root,
 * state and sockets, the same shims on its PATH and the same test image. A test may stop and
 * start it (an operator's restart, an upgrade) without touching what other suites run on the
 * shared one. Its root is kept between runs, so the image is imported once.
 */
export interface PrivateContainerd {
  address: string;
  /** Stops containerd (SIGTERM) and starts it again; the shims and their tasks live on. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

const root = "/var/lib/cadre-test/containerd-own";
const state = "/run/cadre-test/containerd-own";
const address = `${state}/containerd.sock`;
const shimDir = "/var/lib/cadre-test/shim-bin";
const imageArchive = "/var/lib/cadre-test/busybox.tar";

/** Why it cannot be started here, or undefined. */
export function privateContainerdMissing(): string | undefined {
  if (process.getuid?.() !== 0) return "a containerd of the test's own needs root";
  return undefined;
}

export async function startPrivateContainerd(options: {
  namespace: string;
  image: string;
}): Promise<PrivateContainerd> {
  await mkdir(root, { recursive: true });
  await mkdir(state, { recursive: true });
  const config = `${state}/config.toml`;
  await writeFile(
    config,
    [
      "version = 2",
      `root = "${root}"`,
      `state = "${state}/state"`,
      "[grpc]",
      `  address = "${address}"`,
      "[ttrpc]",
      `  address = "${state}/containerd.sock.ttrpc"`,
      "[debug]",
      `  address = "${state}/debug.sock"`,
      "[metrics]",
      '  address = ""',
      '[plugins."io.containerd.grpc.v1.cri"]',
      "  disable_apparmor = true",
      "",
    ].join("\n"),
  );
  const ctr = (...args: string[]) => run("ctr", ["--address", address, ...args]);
  let log = "";
  let daemon: ChildProcess | undefined;

  const launch = async () => {
    const child = spawn("containerd", ["--config", config], {
      env: { ...process.env, PATH: `${shimDir}:${process.env.PATH ?? ""}` },
      stdio: ["ignore", "ignore", "pipe"],
    });
    child.stderr?.on("data", (chunk: Buffer) => {
      log = (log + chunk.toString()).slice(-4000);
    });
    daemon = child;
    const exited = new Promise<never>((_, reject) =>
      child.once("exit", (code) => reject(new Error(`containerd exited (${code}): ${log}`))),
    );
    // Only the wait below reads it; an exit after that (stop, restart) is no failure.
    exited.catch(() => {});
    // Ready once it answers; its own exit ends the wait with its log.
    for (let attempt = 0; ; attempt++) {
      const answered = await Promise.race([
        ctr("version").then(
          () => true,
          () => false,
        ),
        exited,
      ]);
      if (answered) return;
      if (attempt >= 300) throw new Error(`containerd did not answer on ${address}: ${log}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };

  const stop = async () => {
    const child = daemon;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGTERM");
    await exited;
  };

  await launch();
  try {
    const images = await ctr("-n", options.namespace, "images", "ls", "-q");
    if (!images.stdout.split("\n").includes(options.image)) {
      await ctr("-n", options.namespace, "images", "import", imageArchive);
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    address,
    async restart() {
      await stop();
      await launch();
    },
    stop,
  };
}
