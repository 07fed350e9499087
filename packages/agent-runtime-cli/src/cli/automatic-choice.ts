import {
  createProvider,
  type IsolationConfig,
  type ProviderDescriptor,
} from "@cadre/agent-runtime";
import { type IsolationProvider, ProviderUnavailableError } from "@cadre/agent-runtime-contract";
import { offersNoIsolation } from "@cadre/agent-runtime-provider-utils";
import { progress } from "./output.js";
import {
  configFromFlags,
  defaultConfigFor,
  describeProvider,
  installedDescriptors,
  type ProviderFlags,
} from "./provider-choice.js";
import { type ProviderCandidate, selectBestProvider } from "./select-best.js";
import { UsageError } from "./usage-error.js";

// How the commands that start a session (`run`, `sessions start`) choose its provider: the one
// the flags name, else the strongest one ready here, else (only when asked) one without isolation.

export interface ChosenProvider {
  provider: IsolationProvider;
  /** The config that made it: another process makes the same provider from it. */
  config: IsolationConfig;
}

/**
 * The provider `--provider`/`--config`/`--runtime` name, or the best one ready on this host. The
 * choice and a warning when it isolates nothing go to stderr.
 */
export async function chooseProvider(
  flags: ProviderFlags & { "allow-no-isolation"?: boolean | undefined },
  command: string,
): Promise<ChosenProvider> {
  const config = await configFromFlags(flags, command);
  if (config && flags["allow-no-isolation"]) {
    throw new UsageError(
      "--allow-no-isolation is for the automatic choice; --provider or --config already chose",
      command,
    );
  }
  const chosen = config
    ? { provider: await createProvider(config), config }
    : await pickProvider(flags["allow-no-isolation"] === true);
  try {
    progress(`provider ${await describeProvider(chosen.provider)}`);
    if ((await chosen.provider.capabilities()).isolation === "none") {
      progress(
        `WARNING: no isolation: the ${chosen.provider.id} runs commands as plain processes on this host`,
      );
    }
  } catch (error) {
    await chosen.provider.close?.();
    throw error;
  }
  return chosen;
}

/** "docker (runsc), then docker (runc), then kata": what is tried without --provider. */
export async function automaticOrder(): Promise<string> {
  const labels = (await installedDescriptors()).flatMap(automaticCandidates).map((c) => c.label);
  return labels.join(", then ") || "none is installed";
}

/** "the stub": where --allow-no-isolation may end up. */
export async function noIsolationFallback(): Promise<string> {
  const fallback = (await installedDescriptors()).find(offersNoIsolation);
  return fallback ? `the ${fallback.id}` : "a provider without isolation (none is installed)";
}

/**
 * The best isolating provider here. One without isolation only with `allowNoIsolation`: an
 * engine that is briefly down must never turn into commands running on the host.
 */
async function pickProvider(allowNoIsolation: boolean): Promise<ChosenProvider> {
  progress("no --provider or --config: looking for the best provider on this host");
  const descriptors = await installedDescriptors();
  const selected = await selectBestProvider(descriptors.flatMap(automaticCandidates));
  if (selected.provider) {
    return { provider: selected.provider, config: selected.candidate.config };
  }
  for (const { label, reason } of selected.skipped) progress(`${label} not used: ${reason}`);
  const fallback = descriptors.find(offersNoIsolation);
  if (!allowNoIsolation || !fallback) {
    const onPurpose = fallback
      ? `, or run without isolation on purpose: --provider ${fallback.id}, or --allow-no-isolation`
      : "";
    throw new ProviderUnavailableError(
      `No isolating provider is usable on this host (above: each one's first failed check and its fix; "cadre-runtime doctor" has the rest). Fix one${onPurpose}.`,
    );
  }
  progress(`--allow-no-isolation: falling back to the ${fallback.id}`);
  const config = await defaultConfigFor(fallback.id);
  return { provider: await createProvider(config), config };
}

function automaticCandidates(descriptor: ProviderDescriptor): ProviderCandidate[] {
  return (descriptor.automaticChoices ?? []).map((choice) => ({
    label: choice.variant ? `${descriptor.id} (${choice.variant})` : descriptor.id,
    config: { provider: descriptor.id, [descriptor.id]: choice.options },
    isolation: choice.isolation,
  }));
}
