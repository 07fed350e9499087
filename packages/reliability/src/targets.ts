import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadProviderDescriptors, type ProviderDescriptor } from "@cadre/agent-runtime";
import type { IsolationPolicy, IsolationProvider } from "@cadre/agent-runtime-contract";
import type { DockerConnection } from "@cadre/agent-runtime-provider-docker";
import type { KataProviderOptions } from "@cadre/agent-runtime-provider-kata";
import { type BackendHooks, offersNoIsolation } from "@cadre/agent-runtime-provider-utils";
import type { Census } from "./census.js";
import { testHost } from "./test-host.js";

/** One provider with one runtime, as the soak runner and the tests drive it. */
export const targetNames = [
  "stub",
  "docker-runc",
  "docker-runsc",
  "kata-stand-in",
  "kata-runc",
  "kata-runsc",
] as const;
export type TargetName = (typeof targetNames)[number];

/** Where a target's engine is; defaults are the shared test engines of this host. */
export interface TargetEndpoints {
  docker?: DockerConnection;
  containerdAddress?: string;
  containerdNamespace?: string;
  fifoDir?: string;
  /** The stub's state directory. Default: a directory under the OS temp dir. */
  stubStateDir?: string;
}

export interface Target {
  readonly name: TargetName;
  readonly providerId: string;
  /** Policy fields every session of this target needs (its image). */
  readonly basePolicy: IsolationPolicy;
  /** What the provider of this target may enforce, for tests that pick limits. */
  readonly enforcesLimits: boolean;
  createProvider(): IsolationProvider;
  /**
   * Backend objects that carry every one of `labels`, as the provider's backend hooks find them
   * (findBackendLeftovers: containers, tasks, snapshots, leases, FIFO or session directories).
   */
  census(labels: Record<string, string>): Promise<Census>;
  /** Why this target cannot run here, or undefined. */
  unavailableReason(): Promise<string | undefined>;
}

export function isTargetName(value: string): value is TargetName {
  return (targetNames as readonly string[]).includes(value);
}

/** The target of `--provider P [--runtime R]`. */
export function targetNameFor(provider: string, runtime?: string): TargetName | undefined {
  if (provider === "stub") return runtime === undefined ? "stub" : undefined;
  if (provider === "docker") {
    const r = runtime ?? "runc";
    return r === "runc" || r === "runsc" ? (`docker-${r}` as TargetName) : undefined;
  }
  if (provider === "kata") {
    const r = runtime ?? "kata";
    if (r === "kata" || r === "stand-in" || r === "kata-stand-in") return "kata-stand-in";
    return r === "runc" || r === "runsc" ? (`kata-${r}` as TargetName) : undefined;
  }
  return undefined;
}

/** The provider and its options of each target: this host's test engines (test-host.ts). */
function targetPlan(
  name: TargetName,
  endpoints: TargetEndpoints,
): { providerId: string; options: Record<string, unknown> } {
  if (name === "stub") {
    const stateDir = endpoints.stubStateDir ?? join(tmpdir(), "cadre-reliability-stub");
    return { providerId: "stub", options: { stateDir } };
  }
  if (name === "docker-runc" || name === "docker-runsc") {
    const connection = endpoints.docker ?? testHost.docker;
    const runtime = name === "docker-runc" ? "runc" : "runsc";
    return {
      providerId: "docker",
      options: { ...connection, runtime, image: testHost.dockerImage },
    };
  }
  return { providerId: "kata", options: kataOptions(name, endpoints) };
}

// Every registered provider's descriptor: what a target creates, counts and checks goes
// through it.
const descriptors = new Map((await loadProviderDescriptors()).map((d) => [d.id, d]));

export function createTarget(name: TargetName, endpoints: TargetEndpoints = {}): Target {
  const { providerId, options } = targetPlan(name, endpoints);
  const descriptor = descriptors.get(providerId);
  if (!descriptor) throw new Error(`no provider "${providerId}" is registered`);
  const image = typeof options.image === "string" ? options.image : undefined;
  let hooks: Promise<BackendHooks> | undefined;
  return {
    name,
    providerId,
    basePolicy: image ? { image } : {},
    enforcesLimits: !offersNoIsolation(descriptor),
    createProvider: () => createNow(descriptor, options),
    async census(labels) {
      hooks ??= Promise.resolve(descriptor.backendHooks(options));
      const found = await (await hooks).findBackendLeftovers(labels);
      return { backendObjects: found.length };
    },
    unavailableReason: async () => descriptor.unavailableReason?.(options),
  };
}

/** The targets' providers are built synchronously, as the soak and the crash tests use them. */
function createNow(
  descriptor: ProviderDescriptor,
  options: Record<string, unknown>,
): IsolationProvider {
  const provider = descriptor.create(options);
  if (provider instanceof Promise) {
    throw new Error(`provider "${descriptor.id}" is created asynchronously; targets need it now`);
  }
  return provider;
}

/** Provider options of the containerd targets (same shims as provider-kata's own tests). */
export function kataOptions(
  name: "kata-stand-in" | "kata-runc" | "kata-runsc",
  endpoints: TargetEndpoints = {},
): KataProviderOptions {
  const common: KataProviderOptions = {
    address: endpoints.containerdAddress ?? testHost.containerdAddress,
    namespace: endpoints.containerdNamespace ?? testHost.containerdNamespace,
    image: testHost.containerdImage,
    fifoDir: endpoints.fifoDir ?? testHost.fifoDir,
    shimSearchPath: [testHost.shimDir],
  };
  if (name === "kata-stand-in")
    return { ...common, runtime: "io.containerd.kata.v2", unsafeUseStandInShim: true };
  if (name === "kata-runc") return { ...common, runtime: "io.containerd.runc.v2" };
  return {
    ...common,
    runtime: "io.containerd.runc.v2",
    runtimeOptions: { BinaryName: join(testHost.shimDir, "runsc-cadre") },
  };
}
