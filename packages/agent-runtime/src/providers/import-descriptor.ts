import { type DoctorCheck, ProviderUnavailableError } from "@cadre/agent-runtime-contract";
import type { ProviderDescriptor } from "@cadre/agent-runtime-provider-utils";
import { type BuiltInProvider, providerModuleSpecifier } from "./built-in-providers.js";

export type ModuleImporter = (specifier: string) => Promise<unknown>;

const nativeImport: ModuleImporter = (specifier) => import(specifier);

/**
 * Imports a built-in provider's package (on first use, that package only) and returns its
 * `providerDescriptor`. A package that is not installed, not built or not compatible gives
 * PROVIDER_UNAVAILABLE with one failed check, `<id>.package`, that names the package and how to
 * fix it.
 */
export async function importDescriptor(
  provider: BuiltInProvider,
  importer: ModuleImporter = nativeImport,
): Promise<ProviderDescriptor> {
  const specifier = providerModuleSpecifier(provider);
  let module: Record<string, unknown>;
  try {
    module = (await importer(specifier)) as Record<string, unknown>;
  } catch (error) {
    throw unavailable(provider.id, specifier, describeImportFailure(specifier, error), error);
  }
  const descriptor = module.providerDescriptor;
  if (!isDescriptorOf(provider.id, descriptor)) {
    throw unavailable(provider.id, specifier, {
      detail: `it does not export a providerDescriptor with id "${provider.id}", so it is not a compatible ${provider.id} provider.`,
      fix: `install a version that matches @cadre/agent-runtime: npm install ${specifier}`,
    });
  }
  return descriptor;
}

/** The shape the loader relies on; the types are the provider package's to keep. */
function isDescriptorOf(id: string, value: unknown): value is ProviderDescriptor {
  const d = value as Partial<ProviderDescriptor> | null | undefined;
  return (
    typeof d === "object" &&
    d !== null &&
    d.id === id &&
    typeof d.create === "function" &&
    typeof d.backendHooks === "function" &&
    typeof d.optionsSchema?.safeParse === "function" &&
    Array.isArray(d.capabilityRows)
  );
}

type Failure = Pick<DoctorCheck, "detail" | "fix">;

function unavailable(
  id: string,
  specifier: string,
  failure: Failure,
  cause?: unknown,
): ProviderUnavailableError {
  const check: DoctorCheck = {
    id: `${id}.package`,
    title: `load ${specifier}`,
    ok: false,
    required: true,
    ...failure,
  };
  return new ProviderUnavailableError(`The ${id} provider's package cannot be used.`, {
    providerId: id,
    cause,
    checks: [check],
  });
}

function describeImportFailure(specifier: string, error: unknown): Failure {
  const code = (error as { code?: unknown } | null)?.code;
  const message = error instanceof Error ? error.message : String(error);
  if (code === "ERR_MODULE_NOT_FOUND" || code === "MODULE_NOT_FOUND") {
    if (message.includes(`'${specifier}'`) || message.includes(`"${specifier}"`)) {
      return { detail: "it is not installed.", fix: `npm install ${specifier}` };
    }
    if (message.includes(`${specifier}/`) || message.includes("/dist/")) {
      return {
        detail: `it is installed but not built (${message}).`,
        fix: `build it (pnpm turbo run build) or reinstall it: npm install ${specifier}`,
      };
    }
    return {
      detail: `it cannot load one of its own dependencies (${message}).`,
      fix: `reinstall it: npm install ${specifier}`,
    };
  }
  return {
    detail: `it failed to load: ${message}`,
    fix: `reinstall it (npm install ${specifier}) or report the error.`,
  };
}
