import { loadProviderDescriptors, type ProviderDescriptor } from "@cadre/agent-runtime";
import type { IsolationPolicy, IsolationProvider } from "@cadre/agent-runtime-contract";
import { type BackendHooks, offersNoIsolation } from "@cadre/agent-runtime-provider-utils";
import type { Census } from "./census.js";
import {
  type HostTarget,
  hostTargets,
  type TargetEndpoints,
  testEngineOptions,
} from "./test-host.js";

/**
 * One provider with one runtime, as the soak runner and the tests drive it: "stub",
 * "docker-runc", "kata-stand-in", ... (`targetNames`).
 */
export type TargetName = string;

export interface Target {
  readonly name: TargetName;
  readonly providerId: string;
  /** What the soak's `--runtime` calls this target; absent for a provider's only target. */
  readonly variant?: string;
  /** The provider's options: this host's engine, the runtime through the descriptor. */
  readonly options: Readonly<Record<string, unknown>>;
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

// Every registered provider's descriptor: what a target creates, counts and checks goes
// through it.
const descriptors = await loadProviderDescriptors();

/**
 * The targets, in registration order: each registered provider with the variants this host runs
 * it in (hostTargets), or alone with its defaults where the host names none.
 */
const plans: readonly HostTarget[] = descriptors.flatMap((descriptor) => {
  const variants = hostTargets.filter((t) => t.provider === descriptor.id);
  return variants.length > 0 ? variants : [{ provider: descriptor.id }];
});

const nameOf = (plan: HostTarget): TargetName =>
  plan.variant === undefined ? plan.provider : `${plan.provider}-${plan.variant}`;

export const targetNames: readonly TargetName[] = plans.map(nameOf);

export function isTargetName(value: string): value is TargetName {
  return targetNames.includes(value);
}

/**
 * The target of the soak's `--provider P [--runtime V]`: the variant V of P on this host, or P's
 * first when V is absent; undefined when there is none.
 */
export function targetNameFor(provider: string, variant?: string): TargetName | undefined {
  const plan = plans.find(
    (p) => p.provider === provider && (variant === undefined || p.variant === variant),
  );
  return plan && nameOf(plan);
}

/** Each provider's targets, by id, in registration order: "docker" → ["runc", "runsc"]. */
export function variantsByProvider(): Map<string, (string | undefined)[]> {
  const variants = new Map<string, (string | undefined)[]>();
  for (const plan of plans)
    variants.set(plan.provider, [...(variants.get(plan.provider) ?? []), plan.variant]);
  return variants;
}

/** The provider a soak runs without --provider: the first registered one that isolates. */
export function defaultSoakProvider(): string | undefined {
  return descriptors.find((d) => !offersNoIsolation(d))?.id;
}

/**
 * A target's provider options: this host's engine for its provider (test-host.ts), what the
 * provider's descriptor says its runtime stands for, and what only this host needs.
 */
export function targetOptions(
  name: TargetName,
  endpoints: TargetEndpoints = {},
): Record<string, unknown> {
  const plan = planOf(name);
  const descriptor = descriptorOf(plan.provider);
  let runtime: Record<string, unknown> = {};
  if (plan.runtime !== undefined) {
    if (!descriptor.runtimeOption) {
      throw new Error(`target ${name}: the ${descriptor.id} provider has no runtimes to choose`);
    }
    runtime = descriptor.runtimeOption(plan.runtime);
  }
  return { ...testEngineOptions(endpoints)[plan.provider], ...runtime, ...plan.options };
}

export function createTarget(name: TargetName, endpoints: TargetEndpoints = {}): Target {
  const plan = planOf(name);
  const descriptor = descriptorOf(plan.provider);
  const options = targetOptions(name, endpoints);
  const image = typeof options.image === "string" ? options.image : undefined;
  let hooks: Promise<BackendHooks> | undefined;
  return {
    name,
    providerId: descriptor.id,
    ...(plan.variant === undefined ? {} : { variant: plan.variant }),
    options,
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

function planOf(name: TargetName): HostTarget {
  const plan = plans.find((p) => nameOf(p) === name);
  if (!plan) throw new Error(`unknown target "${name}"; the targets are ${targetNames.join(", ")}`);
  return plan;
}

function descriptorOf(id: string): ProviderDescriptor {
  const descriptor = descriptors.find((d) => d.id === id);
  if (!descriptor) throw new Error(`no provider "${id}" is registered`);
  return descriptor;
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
