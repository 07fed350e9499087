import { ProviderUnavailableError } from "@cadre/agent-runtime-contract";
import type { ProviderName } from "../config/schema.js";
import { providerModuleSpecifier } from "./packages.js";

/** A provider package's module, as far as the loader uses it. */
export type ProviderModule = Record<string, unknown>;

export type ModuleImporter = (specifier: string) => Promise<unknown>;

const nativeImport: ModuleImporter = (specifier) => import(specifier);

/**
 * Imports a provider package on first use. A package that is not installed, or installed but
 * not built, gives PROVIDER_UNAVAILABLE naming what to install or build.
 */
export async function importProviderModule(
  name: ProviderName,
  options: { specifier?: string; importer?: ModuleImporter } = {},
): Promise<ProviderModule> {
  const specifier = options.specifier ?? providerModuleSpecifier(name);
  const importer = options.importer ?? nativeImport;
  try {
    return (await importer(specifier)) as ProviderModule;
  } catch (error) {
    throw new ProviderUnavailableError(describeImportFailure(name, specifier, error), {
      providerId: name,
      cause: error,
    });
  }
}

function describeImportFailure(name: ProviderName, specifier: string, error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  const message = error instanceof Error ? error.message : String(error);
  if (code === "ERR_MODULE_NOT_FOUND" || code === "MODULE_NOT_FOUND") {
    if (message.includes(`'${specifier}'`) || message.includes(`"${specifier}"`)) {
      return `The ${name} provider needs the package ${specifier}, which is not installed. Install it: npm install ${specifier}`;
    }
    if (message.includes(`${specifier}/`) || message.includes("/dist/")) {
      return `The package ${specifier} is installed but not built (${message}). Build it (pnpm turbo run build) or reinstall it: npm install ${specifier}`;
    }
    return `The package ${specifier} cannot load one of its own dependencies (${message}). Reinstall it: npm install ${specifier}`;
  }
  return `The package ${specifier} failed to load: ${message}. Reinstall it (npm install ${specifier}) or report the error.`;
}

/** Picks a named export of a provider module, with a typed error when the package differs. */
export function requireExport<T>(
  module: ProviderModule,
  exportName: string,
  name: ProviderName,
  specifier: string,
): T {
  const value = module[exportName];
  if (typeof value !== "function") {
    throw new ProviderUnavailableError(
      `The package ${specifier} does not export ${exportName}(); it is not a compatible ${name} provider. Install a version that matches @cadre/agent-runtime.`,
      { providerId: name },
    );
  }
  return value as T;
}
