import type { IsolationPolicy } from "@cadre/agent-runtime-contract";
import type { ParsedFlags } from "./parse-flags.js";
import { parsePositiveNumber, parseSize } from "./units.js";
import { UsageError } from "./usage-error.js";

/** The flags that make a session's policy, shared by `run` and `sessions start`. */
export const policyFlagSpec = {
  memory: { type: "string" },
  cpu: { type: "string" },
  pids: { type: "string" },
  network: { type: "string" },
  "read-only": { type: "boolean" },
  image: { type: "string" },
  env: { type: "string", short: "e", multiple: true },
  workdir: { type: "string", short: "w" },
  label: { type: "string", short: "l", multiple: true },
} as const;

/** Their lines of a help text (options from column 23). */
export const policyFlagHelp = `      --memory SIZE    memory limit, e.g. 512m, 1g
      --cpu N          CPU quota in cores, e.g. 1 or 0.5
      --pids N         most processes at once
      --network M      none (no network) or default
      --read-only      read-only root filesystem (writable /tmp)
      --image I        image of the session, for a provider that runs images
  -e, --env K=V        environment variable of the session's commands (repeatable)
  -w, --workdir DIR    working directory of the session's commands
  -l, --label K=V      label of the session, for sessions list and your own tools (repeatable)`;

type PolicyValues = Partial<ParsedFlags<typeof policyFlagSpec>["values"]>;

/** The policy the flags ask for; a field without its flag is left out (the provider's default). */
export function policyFromFlags(values: PolicyValues, command: string): IsolationPolicy {
  const policy: IsolationPolicy = {};
  if (values.memory !== undefined) policy.memory = parseSize(values.memory, "--memory", command);
  if (values.cpu !== undefined) {
    policy.cpu = parsePositiveNumber(values.cpu, "--cpu", command, false);
  }
  if (values.pids !== undefined) {
    policy.pids = parsePositiveNumber(values.pids, "--pids", command, true);
  }
  if (values.network !== undefined) {
    if (values.network !== "none" && values.network !== "default") {
      throw new UsageError(`--network is none or default, not "${values.network}"`, command);
    }
    if (values.network === "none") policy.networkIsolation = true;
  }
  if (values["read-only"]) policy.readOnlyRootfs = true;
  if (values.image !== undefined) policy.image = values.image;
  if (values.workdir !== undefined) policy.workdir = values.workdir;
  if (values.env !== undefined) policy.env = parsePairs(values.env, "--env", command);
  if (values.label !== undefined) policy.labels = parsePairs(values.label, "--label", command);
  return policy;
}

/** KEY=VALUE entries of a repeatable flag. */
export function parsePairs(
  entries: readonly string[],
  flag: string,
  command: string,
): Record<string, string> {
  const pairs: Record<string, string> = {};
  for (const entry of entries) {
    const eq = entry.indexOf("=");
    // The value may be a secret: the message names the flag and the key only.
    if (eq <= 0) {
      throw new UsageError(
        `${flag} takes KEY=VALUE (one entry has no KEY= before its value)`,
        command,
      );
    }
    pairs[entry.slice(0, eq)] = entry.slice(eq + 1);
  }
  return pairs;
}
