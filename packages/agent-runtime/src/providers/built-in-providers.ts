/**
 * The providers cadre knows without registration, one line each. A provider's package is
 * imported on first use only, so cadre core installs just the provider it runs. Adding a provider
 * to cadre is its own package plus one line here (or a registerProvider() call, see registry.ts).
 */
export const builtInProviders: readonly BuiltInProvider[] = [
  { id: "stub", packageName: "@cadre/agent-runtime-provider-stub" },
  { id: "docker", packageName: "@cadre/agent-runtime-provider-docker" },
  { id: "kata", packageName: "@cadre/agent-runtime-provider-kata" },
];

export interface BuiltInProvider {
  /** `isolation.provider`; the package's providerDescriptor carries the same id. */
  id: string;
  /** The package whose main entry exports `providerDescriptor`. */
  packageName: string;
}

/**
 * Test-only override of a provider's module specifier, e.g.
 * CADRE_RUNTIME_TEST_PACKAGE_DOCKER=@cadre/not-installed, so that spawned-command tests can
 * exercise the "package not installed" path without uninstalling anything.
 */
export function providerModuleSpecifier(
  provider: BuiltInProvider,
  env: NodeJS.ProcessEnv = process.env,
): string {
  const variable = `CADRE_RUNTIME_TEST_PACKAGE_${provider.id.toUpperCase().replaceAll("-", "_")}`;
  return env[variable] || provider.packageName;
}
