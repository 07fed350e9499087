import { type DoctorCheck, ProviderUnavailableError } from "@cadre/agent-runtime-contract";
import type { ProviderName } from "../config/schema.js";
import { providerModuleSpecifier } from "./packages.js";

export type ModuleImporter = (specifier: string) => Promise<unknown>;

const nativeImport: ModuleImporter = (specifier) => import(specifier);

/**
 * Imports the package of provider `name` the way createProvider does (on first use, that package
 * only) and returns its export `exportName`, a function. For tools that use more of a provider
 * package than its factory, such as the backend hooks `cadre-runtime conformance` gives the suite.
 *
 * A package that is not installed, not built or not compatible gives PROVIDER_UNAVAILABLE with
 * one failed check, `<name>.package`, that names the package and how to fix it.
 */
export async function importProviderExport<T>(
  name: ProviderName,
  exportName: string,
  options: {
    /** Replaces dynamic import(); for tests. */
    importer?: ModuleImporter;
  } = {},
): Promise<T> {
  const specifier = providerModuleSpecifier(name);
  let module: Record<string, unknown>;
  try {
    module = (await (options.importer ?? nativeImport)(specifier)) as Record<string, unknown>;
  } catch (error) {
    throw unavailable(name, specifier, describeImportFailure(specifier, error), error);
  }
  const value = module[exportName];
  if (typeof value !== "function") {
    throw unavailable(name, specifier, {
      detail: `it does not export ${exportName}(), so it is not a compatible ${name} provider.`,
      fix: `install a version that matches @cadre/agent-runtime: npm install ${specifier}`,
    });
  }
  return value as T;
}

type Failure = Pick<DoctorCheck, "detail" | "fix">;

function unavailable(
  name: ProviderName,
  specifier: string,
  failure: Failure,
  cause?: unknown,
): ProviderUnavailableError {
  const check: DoctorCheck = {
    id: `${name}.package`,
    title: `load ${specifier}`,
    ok: false,
    required: true,
    ...failure,
  };
  return new ProviderUnavailableError(`The ${name} provider's package cannot be used.`, {
    providerId: name,
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
