import type { ProviderName } from "../config/schema.js";

/** The npm package of each provider; the loader imports only the one a config names. */
const providerPackages: Record<ProviderName, string> = {
  stub: "@cadre/agent-runtime-provider-stub",
  docker: "@cadre/agent-runtime-provider-docker",
  kata: "@cadre/agent-runtime-provider-kata",
};

/**
 * Test-only override of a provider's module specifier, e.g.
 * CADRE_RUNTIME_TEST_PACKAGE_DOCKER=@cadre/not-installed, so that spawned-command tests can
 * exercise the "package not installed" path without uninstalling anything.
 */
export function providerModuleSpecifier(
  name: ProviderName,
  env: NodeJS.ProcessEnv = process.env,
): string {
  return env[`CADRE_RUNTIME_TEST_PACKAGE_${name.toUpperCase()}`] || providerPackages[name];
}
