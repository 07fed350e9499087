import { type ParsedIsolationConfig, parseIsolationConfig } from "@cadre/agent-runtime";

/** How `cadre-runtime conformance` hands the provider to the suite file it runs in vitest. */
export const conformanceSettingsEnv = "CADRE_RUNTIME_CONFORMANCE";

export interface ConformanceSettings {
  /** Shown in test names, e.g. "docker (runsc)". */
  name: string;
  config: ParsedIsolationConfig;
  image?: string;
}

export function readConformanceSettings(env: NodeJS.ProcessEnv = process.env): ConformanceSettings {
  const raw = env[conformanceSettingsEnv];
  if (!raw) {
    throw new Error(
      `${conformanceSettingsEnv} is not set: run this suite through "cadre-runtime conformance --provider P".`,
    );
  }
  const settings = JSON.parse(raw) as ConformanceSettings;
  return { ...settings, config: parseIsolationConfig(settings.config) };
}
