import {
  describeFailedChecks,
  type IsolationLevel,
  type IsolationProvider,
} from "@cadre/agent-runtime-contract";
import type { IsolationConfig } from "../config/schema.js";
import { type CreateProviderOptions, createProvider } from "./create-provider.js";

export interface ProviderCandidate {
  /** How the candidate is named to the user, e.g. "docker (runsc)". */
  label: string;
  config: IsolationConfig;
  /** The candidate counts only when its capabilities() report this level. */
  isolation: IsolationLevel;
}

export interface SkippedCandidate {
  label: string;
  reason: string;
}

export interface SelectedProvider {
  provider: IsolationProvider;
  candidate: ProviderCandidate;
  skipped: SkippedCandidate[];
}

/**
 * Tries the candidates in order and returns the first one that loads, whose doctor() says it is
 * ready and whose capabilities() report the expected isolation level. Rejected candidates are
 * closed and listed with the reason.
 */
export async function selectBestProvider(
  candidates: ProviderCandidate[],
  options: CreateProviderOptions & { onSkip?: (skipped: SkippedCandidate) => void } = {},
): Promise<SelectedProvider | { provider?: undefined; skipped: SkippedCandidate[] }> {
  const skipped: SkippedCandidate[] = [];
  for (const candidate of candidates) {
    const reason = await tryCandidate(candidate, options);
    if (typeof reason !== "string") return { provider: reason, candidate, skipped };
    const entry = { label: candidate.label, reason };
    skipped.push(entry);
    options.onSkip?.(entry);
  }
  return { skipped };
}

async function tryCandidate(
  candidate: ProviderCandidate,
  options: CreateProviderOptions,
): Promise<IsolationProvider | string> {
  let provider: IsolationProvider;
  try {
    provider = await createProvider(candidate.config, options);
  } catch (error) {
    return firstLine(error);
  }
  try {
    const report = await provider.doctor?.();
    if (report && !report.ready) {
      await provider.close?.();
      return `not ready: ${describeFailedChecks(report.checks, false)}`;
    }
    const capabilities = await provider.capabilities();
    if (capabilities.isolation !== candidate.isolation) {
      await provider.close?.();
      return `gives isolation "${capabilities.isolation}" on this host, not "${candidate.isolation}"`;
    }
    return provider;
  } catch (error) {
    await provider.close?.().catch(() => undefined);
    return firstLine(error);
  }
}

function firstLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.split("\n")[0] ?? message;
}
