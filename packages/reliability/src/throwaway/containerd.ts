import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { ContainerdClient } from "@cadre/agent-runtime-provider-kata";
import { testHost } from "../test-host.js";
import { DaemonProcess } from "./daemon-process.js";

/**
 * A private containerd for fault tests: its own config, root, state and sockets under `dir`, the
 * stand-in shims on its PATH. Stopping and starting it touches nobody else's engine.
 */
export class ThrowawayContainerd {
  readonly address: string;
  private readonly daemon: DaemonProcess;

  private constructor(readonly dir: string) {
    this.address = join(dir, "containerd.sock");
    this.daemon = new DaemonProcess(
      "throwaway containerd",
      "containerd",
      ["--config", join(dir, "containerd.toml")],
      join(dir, "containerd.log"),
      { ...process.env, PATH: `${testHost.shimDir}:${process.env.PATH ?? ""}` },
    );
  }

  /** Writes the config under `dir` (which must exist) and starts containerd. */
  static async start(dir: string): Promise<ThrowawayContainerd> {
    await mkdir(join(dir, "root"), { recursive: true });
    await mkdir(join(dir, "state"), { recursive: true });
    await writeFile(
      join(dir, "containerd.toml"),
      [
        "version = 2",
        `root = "${join(dir, "root")}"`,
        `state = "${join(dir, "state")}"`,
        'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
        "[grpc]",
        `  address = "${join(dir, "containerd.sock")}"`,
        "[ttrpc]",
        `  address = "${join(dir, "containerd.sock.ttrpc")}"`,
        "[debug]",
        '  address = ""',
        "[metrics]",
        '  address = ""',
        "",
      ].join("\n"),
    );
    const engine = new ThrowawayContainerd(dir);
    await engine.start();
    return engine;
  }

  get running(): boolean {
    return this.daemon.running;
  }

  async start(): Promise<void> {
    await this.daemon.start(() => this.answers());
  }

  async stop(): Promise<void> {
    await this.daemon.stop();
  }

  private async answers(): Promise<boolean> {
    const client = new ContainerdClient({ address: this.address, namespace: "default" });
    try {
      await client.version(2_000);
      return true;
    } finally {
      client.close();
    }
  }
}
