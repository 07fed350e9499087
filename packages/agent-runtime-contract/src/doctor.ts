/** One readiness check of a provider on this host, as `doctor()` reports it. */
export interface DoctorCheck {
  /** Stable id, e.g. "docker.daemon", "kata.vhost-vsock". */
  id: string;
  title: string;
  ok: boolean;
  /** A failed required check makes startSession fail closed with PROVIDER_UNAVAILABLE. */
  required: boolean;
  /** What was found. */
  detail: string;
  /** What to do when the check fails. */
  fix?: string;
}

export interface DoctorReport {
  providerId: string;
  /** True when every required check passed. */
  ready: boolean;
  checks: DoctorCheck[];
}

export function doctorReport(providerId: string, checks: DoctorCheck[]): DoctorReport {
  return { providerId, ready: checks.every((c) => c.ok || !c.required), checks };
}

/** The failed required checks in one line: "title: detail (fix: ...)" joined by "; ". */
export function describeFailedChecks(checks: DoctorCheck[], withFixes = true): string {
  return checks
    .filter((c) => c.required && !c.ok)
    .map((c) => `${c.title}: ${c.detail}${withFixes && c.fix ? ` (fix: ${c.fix})` : ""}`)
    .join("; ");
}
