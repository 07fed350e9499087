import { createProvider, type IsolationConfig } from "@cadre/agent-runtime";
import {
  type DoctorCheck,
  type IsolationLevel,
  type IsolationProvider,
  ProviderUnavailableError,
} from "@cadre/agent-runtime-contract";

export interface ProviderCandidate {
  /** How the candidate is named to the user, e.g. "docker (runsc)". */
  label: string;
  config: IsolationConfig;
  /** The candidate counts only when its capabilities() report this level. */
  isolation: IsolationLevel;
}

export interface SkippedCandidate {
  label: string;
  /** One line: the first failed check and its fix (the doctor report has the rest). */
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
): Promise<SelectedProvider | { provider?: undefined; skipped: SkippedCandidate[] }> {
  const skipped: SkippedCandidate[] = [];
  for (const candidate of candidates) {
    const reason = await tryCandidate(candidate);
    if (typeof reason !== "string") return { provider: reason, candidate, skipped };
    skipped.push({ label: candidate.label, reason });
  }
  return { skipped };
}

async function tryCandidate(candidate: ProviderCandidate): Promise<IsolationProvider | string> {
  let provider: IsolationProvider;
  try {
    provider = await createProvider(candidate.config);
  } catch (error) {
    if (ProviderUnavailableError.isInstance(error) && error.checks.length > 0) {
      return firstFailure(error.checks);
    }
    return firstLine(error);
  }
  try {
    const report = await provider.doctor?.();
    if (report && !report.ready) {
      await provider.close?.();
      return firstFailure(report.checks);
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

/** Longest reason shown: a skip is one line of a terminal, the doctor report has the rest. */
const maxReasonLength = 200;

/**
 * The first failed required check and the first clause of its fix: checks come in the order
 * they depend on each other, so that is the one to fix first. Engines' own error texts (gRPC's
 * "Last error: ... Resolution note", a whole PATH) stay in the doctor report.
 */
export function firstFailure(checks: DoctorCheck[]): string {
  const failed = checks.filter((c) => c.required && !c.ok);
  const [first] = failed;
  if (!first) return "not ready";
  const more = failed.length > 1 ? ` (and ${failed.length - 1} more)` : "";
  const fix = first.fix ? `; fix: ${firstClause(first.fix)}` : `: ${firstClause(first.detail)}`;
  return clip(`${first.title} failed${more}${fix}`);
}

function firstClause(text: string): string {
  const end = text.search(/[.;](\s|$)/);
  return end === -1 ? text : text.slice(0, end);
}

function clip(text: string): string {
  const line = text.replace(/\s+/g, " ").trim();
  return line.length <= maxReasonLength ? line : `${line.slice(0, maxReasonLength - 1)}…`;
}

function firstLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return clip(message.split("\n")[0] ?? message);
}
