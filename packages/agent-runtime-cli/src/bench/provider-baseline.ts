import type { ProviderDescriptor } from "@cadre/agent-runtime";
import type { BenchBaselineInput, BenchEngine } from "@cadre/agent-runtime-provider-utils";
import { installedDescriptors } from "../cli/provider-choice.js";
import { oneOf } from "../cli/provider-help.js";
import { UsageError } from "../cli/usage-error.js";

/**
 * The bench baseline of a provider, from its descriptor; when it has none, a usage error naming
 * the installed providers that have one.
 */
export async function baselineOf(
  descriptor: ProviderDescriptor,
): Promise<(input: BenchBaselineInput) => Promise<BenchEngine>> {
  const { benchBaseline } = descriptor;
  if (benchBaseline) return (input) => benchBaseline.call(descriptor, input);
  const others = await providersWithBaseline();
  throw new UsageError(
    `bench has no baseline for the ${descriptor.id} provider; ${others.length > 0 ? `choose ${oneOf(others)}` : "no installed provider has one"}`,
    "bench",
  );
}

/** The installed providers whose descriptor has a bench baseline, in registration order. */
export async function providersWithBaseline(): Promise<string[]> {
  return (await installedDescriptors()).filter((d) => d.benchBaseline).map((d) => d.id);
}
