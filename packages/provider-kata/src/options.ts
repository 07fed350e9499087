import {
  absolutePathOption,
  imageReferenceOption,
  parseProviderOptions,
  sessionEndRetentionOption,
  withoutWhiteSpace,
} from "@cadre/agent-runtime-provider-utils";
import { z } from "zod";
import { providerId } from "./capabilities.js";
import type { RuntimeOptions } from "./spec/runtime-options.js";

export const kataRuntime = "io.containerd.kata.v2";

/** Image of sessions whose policy names none. */
export const defaultKataImage = "docker.io/library/busybox:latest";

/**
 * The Kata provider's options: cadre.config.json's `isolation.kata` section and what
 * `new KataProvider(options)` takes, defined once. The loader validates the section with it,
 * resolveOptions parses with it, docs/config-schema.md shows its descriptions.
 */
export const kataOptionsSchema = z
  .strictObject({
    address: z
      .string()
      .min(1)
      .max(4096)
      .refine(withoutWhiteSpace, { message: "must not contain white space" })
      .optional()
      .describe("containerd's gRPC socket. Default: `/run/containerd/containerd.sock`."),
    namespace: z
      .string()
      .regex(/^[A-Za-z0-9]([A-Za-z0-9._-]{0,74}[A-Za-z0-9])?$/, {
        message:
          "containerd namespaces are 1-76 of A-Z a-z 0-9 . _ -, starting and ending alphanumeric",
      })
      .optional()
      .describe("containerd namespace of the sessions. Default: `cadre`."),
    runtime: z
      .string()
      .min(1)
      .max(256)
      .refine(withoutWhiteSpace, { message: "must not contain white space" })
      .optional()
      .describe("containerd runtime name. Default: `io.containerd.kata.v2`."),
    runtimeOptions: z
      .strictObject({
        BinaryName: absolutePathOption
          .optional()
          .describe("runc-family shims: the OCI runtime binary."),
        Root: absolutePathOption
          .optional()
          .describe("runc-family shims: the runtime's state directory."),
        SystemdCgroup: z
          .boolean()
          .optional()
          .describe("runc-family shims: cgroups through systemd."),
        ConfigPath: absolutePathOption.optional().describe("Kata's shim: its configuration.toml."),
      })
      .optional()
      .describe(
        'Options passed to the runtime\'s shim, e.g. `{ "ConfigPath": "/etc/kata/configuration.toml" }`.',
      ),
    runtimePath: absolutePathOption
      .optional()
      .describe("Path of `kata-runtime`; when set, `doctor` runs `kata-runtime check` with it."),
    sessionEndRetentionMs: sessionEndRetentionOption.optional(),
    image: imageReferenceOption.optional().describe("Image of sessions whose policy names none."),
    fifoDir: absolutePathOption
      .optional()
      .describe("Directory of the per-session stdio FIFOs. Default: `/run/cadre/kata`."),
    snapshotter: z
      .string()
      .regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, { message: "must be a containerd snapshotter name" })
      .optional()
      .describe("containerd snapshotter of the session root filesystems. Default: `overlayfs`."),
    cgroupParent: absolutePathOption
      .optional()
      .describe("cgroup under which each session's cgroup is created. Default: `/cadre`."),
    shimSearchPath: z
      .array(absolutePathOption)
      .max(64)
      .optional()
      .describe("Where `doctor` looks for the shim binary. Default: containerd's own PATH."),
    unsafeUseStandInShim: z
      .boolean()
      .optional()
      .describe(
        "TEST ONLY. Accept a shim registered under Kata's name that is not Kata (runc's shim, no VM). `doctor` reports it loudly. Never set this in production.",
      ),
  })
  .describe("Options of the Kata provider (`@cadre/agent-runtime-provider-kata`).");

/**
 * `address`: containerd's socket (default $CONTAINERD_ADDRESS, else
 * /run/containerd/containerd.sock); `namespace` (default "cadre"); `runtime`, the shim (default
 * "io.containerd.kata.v2") and its `runtimeOptions`; `runtimePath` of kata-runtime for doctor;
 * `image` of sessions whose policy names none (default "docker.io/library/busybox:latest");
 * `fifoDir` (default /run/cadre/kata); `snapshotter` (default "overlayfs"); `cgroupParent`
 * (default "/cadre"); `shimSearchPath` for doctor. `unsafeUseStandInShim` is TEST ONLY: it accepts
 * a shim under Kata's name that is not Kata (no VM); the provider then reports isolation
 * "container" and doctor says so loudly.
 */
export type KataProviderOptions = z.input<typeof kataOptionsSchema>;

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
  sessionEndRetentionMs: number | undefined;
}

/** The options through the schema (PolicyValidationError naming bad keys), with their defaults. */
export function resolveOptions(input: KataProviderOptions = {}): ResolvedKataOptions {
  const options = parseProviderOptions(providerId, kataOptionsSchema, input);
  return {
    address: options.address ?? process.env.CONTAINERD_ADDRESS ?? "/run/containerd/containerd.sock",
    namespace: options.namespace ?? "cadre",
    runtime: options.runtime ?? kataRuntime,
    runtimeOptions: options.runtimeOptions,
    runtimePath: options.runtimePath,
    image: options.image ?? defaultKataImage,
    unsafeUseStandInShim: options.unsafeUseStandInShim === true,
    fifoDir: options.fifoDir ?? "/run/cadre/kata",
    snapshotter: options.snapshotter ?? "overlayfs",
    cgroupParent: options.cgroupParent ?? "/cadre",
    shimSearchPath: options.shimSearchPath,
    sessionEndRetentionMs: options.sessionEndRetentionMs,
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
