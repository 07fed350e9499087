import { tmpdir } from "node:os";
import { join } from "node:path";
import type { IsolationPolicy, IsolationProvider } from "@cadre/agent-runtime-contract";
import {
  createDockerProvider,
  type DockerConnection,
  dockerUnavailableReason,
} from "@cadre/agent-runtime-provider-docker";
import {
  ContainerdClient,
  createKataProvider,
  type KataProviderOptions,
} from "@cadre/agent-runtime-provider-kata";
import { createStubProvider } from "@cadre/agent-runtime-provider-stub";
import { within } from "./bounded.js";
import { type Census, containerdCensus, dockerCensus, stubCensus } from "./census.js";
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
  readonly providerId: "stub" | "docker" | "kata";
  /** Policy fields every session of this target needs (its image). */
  readonly basePolicy: IsolationPolicy;
  /** What the provider of this target may enforce, for tests that pick limits. */
  readonly enforcesLimits: boolean;
  createProvider(): IsolationProvider;
  /** Backend objects that carry every one of `labels`, by kind. */
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

export function createTarget(name: TargetName, endpoints: TargetEndpoints = {}): Target {
  if (name === "stub") return stubTarget(endpoints);
  if (name === "docker-runc" || name === "docker-runsc") return dockerTarget(name, endpoints);
  return kataTarget(name, endpoints);
}

function stubTarget(endpoints: TargetEndpoints): Target {
  const stateDir = endpoints.stubStateDir ?? join(tmpdir(), "cadre-reliability-stub");
  return {
    name: "stub",
    providerId: "stub",
    basePolicy: {},
    enforcesLimits: false,
    createProvider: () => createStubProvider({ stateDir }),
    census: (labels) => stubCensus(stateDir, labels),
    unavailableReason: async () => undefined,
  };
}

function dockerTarget(name: "docker-runc" | "docker-runsc", endpoints: TargetEndpoints): Target {
  const connection = endpoints.docker ?? testHost.docker;
  const options = {
    ...connection,
    runtime: name === "docker-runc" ? "runc" : "runsc",
    image: testHost.dockerImage,
  } as const;
  return {
    name,
    providerId: "docker",
    basePolicy: { image: testHost.dockerImage },
    enforcesLimits: true,
    createProvider: () => createDockerProvider(options),
    census: (labels) => dockerCensus(connection, labels),
    unavailableReason: () => dockerUnavailableReason(options),
  };
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

function kataTarget(
  name: "kata-stand-in" | "kata-runc" | "kata-runsc",
  endpoints: TargetEndpoints,
): Target {
  const options = kataOptions(name, endpoints);
  const address = options.address as string;
  const namespace = options.namespace as string;
  return {
    name,
    providerId: "kata",
    basePolicy: { image: testHost.containerdImage },
    enforcesLimits: true,
    createProvider: () => createKataProvider(options),
    census: (labels) =>
      containerdCensus({ address, namespace, fifoDir: options.fifoDir as string }, labels),
    unavailableReason: async () => {
      const client = new ContainerdClient({ address, namespace });
      try {
        await client.version(10_000);
        await within(client.getImage(testHost.containerdImage), 10_000, "containerd image get");
        return undefined;
      } catch (error) {
        return `containerd at ${address} with image ${testHost.containerdImage} is not usable: ${(error as Error).message} (run scripts/services.sh up)`;
      } finally {
        client.close();
      }
    },
  };
}
