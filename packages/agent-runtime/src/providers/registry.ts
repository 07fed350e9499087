import { defineProvider, type ProviderDescriptor } from "@cadre/agent-runtime-provider-utils";
import { builtInProviders } from "./built-in-providers.js";
import { importDescriptor, type ModuleImporter } from "./import-descriptor.js";

export interface LoadDescriptorOptions {
  /** Replaces dynamic import() of built-in providers' packages; for tests of the loader. */
  importer?: ModuleImporter;
}

/** Providers registered at run time, by id. */
const registered = new Map<string, ProviderDescriptor>();

/**
 * Makes a provider defined outside cadre's built-in list (another package, a test file) known to
 * createProvider, loadConfig, the command line and the capability matrix, under its id.
 */
export function registerProvider<Options>(descriptor: ProviderDescriptor<Options>): void {
  const checked = defineProvider(descriptor) as unknown as ProviderDescriptor;
  const existing = registered.get(checked.id);
  if (existing === checked) return;
  if (existing || builtInProviders.some((p) => p.id === checked.id)) {
    throw new TypeError(`a provider with id "${checked.id}" is already registered`);
  }
  registered.set(checked.id, checked);
}

/** Every provider id cadre knows: the built-in ones, then the registered ones. */
export function providerIds(): string[] {
  return [...builtInProviders.map((p) => p.id), ...registered.keys()];
}

/**
 * The descriptor of provider `id`: a registered one as given, a built-in one from its package
 * (PROVIDER_UNAVAILABLE naming the package when it cannot be loaded). Undefined for an id that
 * no provider has.
 */
export async function loadProviderDescriptor(
  id: string,
  options: LoadDescriptorOptions = {},
): Promise<ProviderDescriptor | undefined> {
  const found = registered.get(id);
  if (found) return found;
  const builtIn = builtInProviders.find((p) => p.id === id);
  return builtIn && importDescriptor(builtIn, options.importer);
}

/** Every provider's descriptor, in providerIds() order; throws when one cannot be loaded. */
export async function loadProviderDescriptors(
  options: LoadDescriptorOptions = {},
): Promise<ProviderDescriptor[]> {
  const descriptors: ProviderDescriptor[] = [];
  for (const id of providerIds()) {
    const descriptor = await loadProviderDescriptor(id, options);
    if (descriptor) descriptors.push(descriptor);
  }
  return descriptors;
}
