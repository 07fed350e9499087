import { constants } from "node:os";
import { createProvider, type ProviderDescriptor } from "@cadre/agent-runtime";
import {
  type IsolationPolicy,
  type IsolationProvider,
  ProviderUnavailableError,
} from "@cadre/agent-runtime-contract";
import { offersNoIsolation } from "@cadre/agent-runtime-provider-utils";
import { describeError, progress } from "./output.js";
import { type ParsedFlags, parseFlags } from "./parse-flags.js";
import {
  configFromFlags,
  defaultConfigFor,
  describeProvider,
  installedDescriptors,
  providerFlagSpec,
} from "./provider-choice.js";
import { knownProviders, optionHelp, runtimeOptionHelp } from "./provider-help.js";
import { type ProviderCandidate, selectBestProvider } from "./select-best.js";
import { parseDuration, parsePositiveNumber, parseSize } from "./units.js";
import { UsageError } from "./usage-error.js";

export const runHelp = async () => `Usage: cadre-runtime run [options] -- CMD [ARGS...]

Starts a session, runs CMD in it with its output streamed live, destroys the session and exits
with CMD's exit code. Ctrl-C (SIGINT) or SIGTERM destroys the session too (exit 130 / 143).

Options:
${optionHelp("-p, --provider P", 23, `${knownProviders()} (default: the best one available: ${await automaticOrder()}; fails when none is usable)`)}
      --allow-no-isolation
${optionHelp("", 23, `without --provider: when no isolating provider is usable, run on ${await noIsolationFallback()}, which gives no isolation`)}
  -c, --config F       cadre.config.json whose "isolation" section chooses the provider
${await runtimeOptionHelp(23)}
      --memory SIZE    memory limit, e.g. 512m, 1g
      --cpu N          CPU quota in cores, e.g. 1 or 0.5
      --pids N         most processes at once
      --network M      none (no network) or default
      --read-only      read-only root filesystem (writable /tmp)
      --image I        image of the session, for a provider that runs images
  -e, --env K=V        environment variable of CMD (repeatable)
  -w, --workdir DIR    working directory of CMD
  -l, --label K=V      label of the session, for sessions list and your own tools (repeatable)
      --timeout T      kill CMD after T, e.g. 30s, 500ms, 2m
  -h, --help           show this help

Exit status: CMD's exit code; 125 when cadre-runtime itself fails; 2 for usage errors.`;

/** Exit status of `run` when cadre-runtime itself failed, as `docker run` does. */
export const runFailureExitCode = 125;

const flagSpec = {
  ...providerFlagSpec,
  memory: { type: "string" },
  cpu: { type: "string" },
  pids: { type: "string" },
  network: { type: "string" },
  "read-only": { type: "boolean" },
  image: { type: "string" },
  env: { type: "string", short: "e", multiple: true },
  workdir: { type: "string", short: "w" },
  label: { type: "string", short: "l", multiple: true },
  timeout: { type: "string" },
  "allow-no-isolation": { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

const cmd = "run";

interface RunRequest {
  policy: IsolationPolicy;
  argv: string[];
  timeoutMs: number | undefined;
}

export async function runCommand(args: string[]): Promise<number> {
  const split = args.indexOf("--");
  const optionArgs = split === -1 ? args : args.slice(0, split);
  const { values, positionals } = parseFlags(optionArgs, flagSpec, cmd, true);
  if (values.help) {
    process.stdout.write(`${await runHelp()}\n`);
    return 0;
  }
  const argv = split === -1 ? positionals : [...positionals, ...args.slice(split + 1)];
  if (argv.length === 0) throw new UsageError("missing the command to run after --", cmd);
  const request = buildRequest(values, argv);
  const config = await configFromFlags(values, cmd);
  if (config && values["allow-no-isolation"]) {
    throw new UsageError(
      "--allow-no-isolation is for the automatic choice; --provider or --config already chose",
      cmd,
    );
  }

  const provider = config
    ? await createProvider(config)
    : await pickProvider(values["allow-no-isolation"] === true);
  try {
    progress(`provider ${await describeProvider(provider)}`);
    if ((await provider.capabilities()).isolation === "none") {
      progress(
        `WARNING: no isolation: the ${provider.id} runs the command as a plain process on this host`,
      );
    }
    return await runInSession(provider, request);
  } finally {
    await provider.close?.();
  }
}

function buildRequest(values: ParsedFlags<typeof flagSpec>["values"], argv: string[]): RunRequest {
  const policy: IsolationPolicy = {};
  if (values.memory !== undefined) policy.memory = parseSize(values.memory, "--memory", cmd);
  if (values.cpu !== undefined) policy.cpu = parsePositiveNumber(values.cpu, "--cpu", cmd, false);
  if (values.pids !== undefined)
    policy.pids = parsePositiveNumber(values.pids, "--pids", cmd, true);
  if (values.network !== undefined) {
    if (values.network !== "none" && values.network !== "default") {
      throw new UsageError(`--network is none or default, not "${values.network}"`, cmd);
    }
    if (values.network === "none") policy.networkIsolation = true;
  }
  if (values["read-only"]) policy.readOnlyRootfs = true;
  if (values.image !== undefined) policy.image = values.image;
  if (values.workdir !== undefined) policy.workdir = values.workdir;
  if (values.env !== undefined) policy.env = parsePairs(values.env, "--env");
  if (values.label !== undefined) policy.labels = parsePairs(values.label, "--label");
  const timeoutMs =
    values.timeout === undefined ? undefined : parseDuration(values.timeout, "--timeout", cmd);
  return { policy, argv, timeoutMs };
}

function parsePairs(entries: string[], flag: string): Record<string, string> {
  const pairs: Record<string, string> = {};
  for (const entry of entries) {
    const eq = entry.indexOf("=");
    if (eq <= 0) throw new UsageError(`${flag} takes KEY=VALUE, not "${entry}"`, cmd);
    pairs[entry.slice(0, eq)] = entry.slice(eq + 1);
  }
  return pairs;
}

/** "docker (runsc), then docker (runc), then kata": what `run` tries without --provider. */
async function automaticOrder(): Promise<string> {
  const labels = (await installedDescriptors()).flatMap(automaticCandidates).map((c) => c.label);
  return labels.join(", then ") || "none is installed";
}

/** "the stub": where --allow-no-isolation may end up. */
async function noIsolationFallback(): Promise<string> {
  const fallback = (await installedDescriptors()).find(offersNoIsolation);
  return fallback ? `the ${fallback.id}` : "a provider without isolation (none is installed)";
}

/**
 * The best isolating provider here. The stub only with `allowNoIsolation`: an engine that is
 * briefly down must never turn into commands running on the host.
 */
async function pickProvider(allowNoIsolation: boolean): Promise<IsolationProvider> {
  progress("no --provider or --config: looking for the best provider on this host");
  const descriptors = await installedDescriptors();
  const selected = await selectBestProvider(descriptors.flatMap(automaticCandidates));
  if (selected.provider) return selected.provider;
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
  return createProvider(await defaultConfigFor(fallback.id));
}

function automaticCandidates(descriptor: ProviderDescriptor): ProviderCandidate[] {
  return (descriptor.automaticChoices ?? []).map((choice) => ({
    label: choice.variant ? `${descriptor.id} (${choice.variant})` : descriptor.id,
    config: { provider: descriptor.id, [descriptor.id]: choice.options },
    isolation: choice.isolation,
  }));
}

const signalExitCodes = {
  SIGINT: 128 + constants.signals.SIGINT,
  SIGTERM: 128 + constants.signals.SIGTERM,
};
type HandledSignal = keyof typeof signalExitCodes;

async function runInSession(provider: IsolationProvider, request: RunRequest): Promise<number> {
  const interrupt = new AbortController();
  let received: HandledSignal | undefined;
  const onSignal = (signal: HandledSignal) => {
    if (received) {
      progress(`${signal} again: exiting now; "cadre-runtime sessions reap" removes what is left`);
      process.exit(signalExitCodes[signal]);
    }
    received = signal;
    progress(`${signal}: stopping the command and destroying the session`);
    interrupt.abort(new Error(`interrupted by ${signal}`));
  };
  const onSigint = () => onSignal("SIGINT");
  const onSigterm = () => onSignal("SIGTERM");
  process.on("SIGINT", onSigint);
  process.on("SIGTERM", onSigterm);

  let sessionId: string | undefined;
  try {
    sessionId = await provider.startSession(request.policy, { signal: interrupt.signal });
    if (received) return signalExitCodes[received];
    const result = await provider.exec(sessionId, request.argv, {
      signal: interrupt.signal,
      timeoutMs: request.timeoutMs,
      onStdout: (chunk) => process.stdout.write(chunk),
      onStderr: (chunk) => process.stderr.write(chunk),
    });
    if (result.timedOut)
      progress(`the command timed out and was killed (${result.signal ?? "exit"})`);
    if (result.truncated) progress("output beyond the limit was dropped");
    return result.exitCode;
  } catch (error) {
    if (received) return signalExitCodes[received];
    throw error;
  } finally {
    if (sessionId) await destroyQuietly(provider, sessionId);
    process.off("SIGINT", onSigint);
    process.off("SIGTERM", onSigterm);
  }
}

async function destroyQuietly(provider: IsolationProvider, sessionId: string): Promise<void> {
  try {
    await provider.destroySession(sessionId);
  } catch (error) {
    progress(`could not destroy session ${sessionId}: ${describeError(error)}`);
    progress('"cadre-runtime sessions reap" removes it once this process is gone');
  }
}
