import type { RuntimeOptions } from "./spec/runtime-options.js";

export const kataRuntime = "io.containerd.kata.v2";

export interface KataProviderOptions {
  /** containerd's socket. Default: $CONTAINERD_ADDRESS, else /run/containerd/containerd.sock. */
  address?: string;
  /** containerd namespace of every object. Default "cadre". */
  namespace?: string;
  /** containerd runtime (shim) name. Default "io.containerd.kata.v2". */
  runtime?: string;
  /** Options for the shim: BinaryName/Root/SystemdCgroup (runc family) or ConfigPath (Kata). */
  runtimeOptions?: RuntimeOptions;
  /** Path of kata-runtime; when set, doctor runs `kata-runtime check`. */
  runtimePath?: string;
  /** Image of sessions whose policy names none. Default "docker.io/library/busybox:latest". */
  image?: string;
  /**
   * TEST ONLY. Accepts a shim registered as io.containerd.kata.v2 that is not Kata's (CI installs
   * runc's shim under that name). Such a shim gives NO VM: the provider then reports isolation
   * "container", and doctor says so loudly. Never set this in production.
   */
  unsafeUseStandInShim?: boolean;
  /** Directory for the per-session FIFO directories. Default /run/cadre/kata. */
  fifoDir?: string;
  /** Snapshotter of the session root filesystems. Default "overlayfs". */
  snapshotter?: string;
  /** cgroup (cgroupfs path) under which each session's cgroup is created. Default "/cadre". */
  cgroupParent?: string;
  /** Where doctor looks for the shim binary. Default: containerd's own PATH when readable, else ours. */
  shimSearchPath?: string[];
}

export interface ResolvedKataOptions {
  address: string;
  namespace: string;
  runtime: string;
  runtimeOptions: RuntimeOptions | undefined;
  runtimePath: string | undefined;
  image: string;
  unsafeUseStandInShim: boolean;
  fifoDir: string;
  snapshotter: string;
  cgroupParent: string;
  shimSearchPath: string[] | undefined;
}

export function resolveOptions(options: KataProviderOptions = {}): ResolvedKataOptions {
  return {
    address: options.address ?? process.env.CONTAINERD_ADDRESS ?? "/run/containerd/containerd.sock",
    namespace: options.namespace ?? "cadre",
    runtime: options.runtime ?? kataRuntime,
    runtimeOptions: options.runtimeOptions,
    runtimePath: options.runtimePath,
    image: options.image ?? "docker.io/library/busybox:latest",
    unsafeUseStandInShim: options.unsafeUseStandInShim === true,
    fifoDir: options.fifoDir ?? "/run/cadre/kata",
    snapshotter: options.snapshotter ?? "overlayfs",
    cgroupParent: options.cgroupParent ?? "/cadre",
    shimSearchPath: options.shimSearchPath,
  };
}

/** Whether this runtime name is Kata's shim (by containerd's naming: io.containerd.kata*.v2). */
export function isKataRuntime(runtime: string): boolean {
  return /^io\.containerd\.kata[a-z0-9-]*\.v2$/.test(runtime);
}

/** containerd's binary name for a runtime: io.containerd.kata.v2 -> containerd-shim-kata-v2. */
export function shimBinaryName(runtime: string): string {
  const parts = runtime.split(".");
  const version = parts.pop();
  const name = parts.pop();
  return `containerd-shim-${name}-${version}`;
}
