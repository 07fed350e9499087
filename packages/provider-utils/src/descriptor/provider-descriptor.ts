import type {
  CapabilityRow,
  IsolationLevel,
  IsolationProvider,
} from "@cadre/agent-runtime-contract";
import type { z } from "zod";
import type { BackendHooks } from "../backend-hooks.js";
import type { BenchBaselineInput, BenchEngine } from "./bench-baseline.js";

/**
 * Everything the rest of cadre needs to know about one provider, exported by its package as
 * `providerDescriptor`. The loader, the config schema and its doc, the CLI, the capability matrix,
 * the bench and the reliability package iterate over the registered descriptors; none of them
 * names a provider.
 */
export interface ProviderDescriptor<Options = Record<string, unknown>> {
  /** `isolation.provider` in cadre.config.json, the key of its options section, e.g. "docker". */
  readonly id: string;
  /** The npm package that exports this descriptor, as messages and docs name it. */
  readonly packageName: string;
  /** What it is, in a few words, e.g. "Docker containers (runc or gVisor)". */
  readonly title: string;
  /**
   * The one definition of its options: the config section `isolation.<id>` and what `create`
   * takes. Each key carries `.describe()`, which docs/config-schema.md shows.
   */
  readonly optionsSchema: z.ZodType<Options>;
  /** A provider from options that optionsSchema produced. */
  create(options: Options): IsolationProvider | Promise<IsolationProvider>;
  /** Image of sessions whose policy names none, for a provider that runs images. */
  readonly defaultImage?: string;
  /** Its static rows of docs/capability-matrix.md, one per variant. */
  readonly capabilityRows: readonly CapabilityRow[];
  /**
   * What the conformance suite and the reliability census read in the engine directly: leftover
   * objects by label, a session's stored labels, and look-alike objects that are not sessions.
   */
  backendHooks(options: Options): BackendHooks | Promise<BackendHooks>;
  /**
   * Why its engine cannot serve sessions of these options on this host (not reachable, a runtime
   * or the image missing), or undefined when it can: the skip reason of conformance runs and
   * reliability targets. Absent: always available.
   */
  unavailableReason?(options: Options): Promise<string | undefined>;
  /**
   * The options that `cadre-runtime --runtime <name>` stands for, e.g. `{ runtime: name }`; the
   * options schema then judges the name. Absent when the provider has no runtimes to choose.
   */
  runtimeOption?(name: string): Partial<Options>;
  /**
   * What `cadre-runtime run` tries, in this order and after the providers registered before this
   * one, when no provider is named: options, and the isolation level its capabilities() must
   * report for it to count. Absent: never chosen automatically.
   */
  readonly automaticChoices?: readonly AutomaticChoice<Options>[];
  /**
   * The bare engine calls `cadre-runtime bench` measures the provider against (the engine's API
   * and CLI, or what the provider wraps). Import the module lazily (`await import(...)`), so that
   * it is a chunk of its own that only the bench loads. Absent: `bench` refuses this provider.
   */
  benchBaseline?(input: BenchBaselineInput<Options>): Promise<BenchEngine>;
}

export interface AutomaticChoice<Options> {
  /** Shown as "docker (runsc)"; without it, the id alone. */
  readonly variant?: string;
  readonly options: Partial<Options>;
  readonly isolation: IsolationLevel;
}

const idPattern = /^[a-z][a-z0-9-]{0,31}$/;

/**
 * Checks a descriptor where it is written (its types, and an id that can be a config key and an
 * environment variable suffix) and returns it unchanged.
 */
export function defineProvider<Options>(
  descriptor: ProviderDescriptor<Options>,
): ProviderDescriptor<Options> {
  if (!idPattern.test(descriptor.id)) {
    throw new TypeError(
      `provider id "${descriptor.id}" must be 1-32 of a-z 0-9 -, starting with a letter`,
    );
  }
  if (descriptor.capabilityRows.length === 0) {
    throw new TypeError(`provider "${descriptor.id}" must declare at least one capability row`);
  }
  return descriptor;
}

/** Whether every row says isolation "none": choosing such a provider must be acknowledged. */
export function offersNoIsolation(descriptor: Pick<ProviderDescriptor, "capabilityRows">): boolean {
  return descriptor.capabilityRows.every((row) => row.isolation === "none");
}
