import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import Docker from "dockerode";
import { testHost } from "../test-host.js";
import { DaemonProcess } from "./daemon-process.js";

const run = promisify(execFile);

/**
 * A private Docker daemon for fault tests: its own socket, data root, exec root, pid file and
 * managed containerd under `dir`, runc and runsc registered, the test image loaded.
 *
 * Networking: never `--bridge=none`, which makes dockerd delete the host's docker0 bridge that the
 * shared daemon uses. The daemon gets a bridge of its own instead, made here and removed in
 * remove(), and it touches neither iptables nor IP forwarding.
 */
export class ThrowawayDockerd {
  readonly socketPath: string;
  readonly docker: Docker;
  private readonly daemon: DaemonProcess;

  private constructor(
    readonly dir: string,
    readonly bridge: string,
  ) {
    this.socketPath = join(dir, "docker.sock");
    this.docker = new Docker({ socketPath: this.socketPath });
    this.daemon = new DaemonProcess(
      "throwaway dockerd",
      "dockerd",
      [
        "--config-file",
        join(dir, "daemon.json"),
        "--host",
        `unix://${this.socketPath}`,
        "--data-root",
        join(dir, "data"),
        "--exec-root",
        join(dir, "exec"),
        "--pidfile",
        join(dir, "docker.pid"),
        `--bridge=${bridge}`,
        "--iptables=false",
        "--ip-forward=false",
        "--ip-masq=false",
      ],
      join(dir, "dockerd.log"),
    );
  }

  static async start(dir: string): Promise<ThrowawayDockerd> {
    const bridge = `cadrerel${randomBytes(3).toString("hex")}`;
    const subnet = 64 + ((randomBytes(1)[0] as number) % 128);
    await run("ip", ["link", "add", bridge, "type", "bridge"]);
    await run("ip", ["addr", "add", `10.213.${subnet}.1/24`, "dev", bridge]);
    await run("ip", ["link", "set", bridge, "up"]);
    await writeFile(
      join(dir, "daemon.json"),
      JSON.stringify({
        runtimes: {
          runsc: { path: "/usr/bin/runsc", runtimeArgs: ["--platform=ptrace", "--network=none"] },
        },
      }),
    );
    const engine = new ThrowawayDockerd(dir, bridge);
    try {
      await engine.start();
      await engine.docker
        .loadImage(testHost.imageArchive)
        .then(
          (stream) =>
            new Promise<void>((resolve, reject) =>
              engine.docker.modem.followProgress(stream, (error) =>
                error ? reject(error) : resolve(),
              ),
            ),
        );
    } catch (error) {
      await engine.remove();
      throw error;
    }
    return engine;
  }

  get running(): boolean {
    return this.daemon.running;
  }

  async start(): Promise<void> {
    await this.daemon.start(async () => {
      await this.docker.ping();
      return true;
    });
  }

  async stop(): Promise<void> {
    await this.daemon.stop();
  }

  /** Stops the daemon and removes its bridge (the directory is the caller's). */
  async remove(): Promise<void> {
    await this.stop();
    await run("ip", ["link", "del", this.bridge]).catch(() => {});
  }
}
