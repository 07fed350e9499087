import type { IsolationPolicy, IsolationProvider } from "@cadre/agent-runtime-contract";
import { automaticOrder, chooseProvider, noIsolationFallback } from "./automatic-choice.js";
import { interruptible } from "./interrupts.js";
import { describeError, progress } from "./output.js";
import { parseFlags } from "./parse-flags.js";
import { policyFlagHelp, policyFlagSpec, policyFromFlags } from "./policy-flags.js";
import {
  type ProcessMode,
  processExec,
  processMode,
  terminalFlagSpec,
  terminalHelp,
} from "./process-exec.js";
import { providerFlagSpec } from "./provider-choice.js";
import { knownProviders, optionHelp, runtimeOptionHelp } from "./provider-help.js";
import { forwardedStdin } from "./stdin.js";
import { streamExec } from "./stream-exec.js";
import { parseDuration } from "./units.js";
import { UsageError } from "./usage-error.js";

export const runHelp = async () => `Usage: cadre-runtime run [options] -- CMD [ARGS...]

Starts a session, runs CMD in it with its output streamed live, destroys the session and exits
with CMD's exit code. stdin is forwarded to CMD when it is a pipe or a file (read to its end
before CMD starts, at most 64 MiB: give CMD </dev/null when nothing will close it); a terminal is
not, unless -i says so. Ctrl-C (SIGINT), SIGTERM or SIGHUP destroys the session too (exit 130 /
143 / 129).

${terminalHelp}

Options:
${optionHelp("-p, --provider P", 23, `${knownProviders()} (default: the best one available: ${await automaticOrder()}; fails when none is usable)`)}
      --allow-no-isolation
${optionHelp("", 23, `without --provider: when no isolating provider is usable, run on ${await noIsolationFallback()}, which gives no isolation`)}
  -c, --config F       cadre.config.json whose "isolation" section chooses the provider
${await runtimeOptionHelp(23)}
${policyFlagHelp}
      --timeout T      kill CMD after T, e.g. 30s, 500ms, 2m
  -i, --interactive    forward stdin as it comes, also from a terminal
  -t, --tty            run CMD on a terminal of this terminal's size (stdin must be one)
  -h, --help           show this help

Exit status: CMD's exit code; 125 when cadre-runtime itself fails; 2 for usage errors.`;

/** Exit status of `run` and `exec` when cadre-runtime itself failed, as `docker run` does. */
export const runFailureExitCode = 125;

const flagSpec = {
  ...providerFlagSpec,
  ...policyFlagSpec,
  ...terminalFlagSpec,
  timeout: { type: "string" },
  "allow-no-isolation": { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

const cmd = "run";

interface RunRequest {
  policy: IsolationPolicy;
  argv: string[];
  timeoutMs: number | undefined;
  /** -i on a terminal, -t: the command runs as a process (the processes API). */
  mode: ProcessMode | undefined;
}

/** The command after `--` (and any words before it that are not options). */
export function commandArgs(args: string[]): { options: string[]; after: string[] } {
  const split = args.indexOf("--");
  return split === -1
    ? { options: args, after: [] }
    : { options: args.slice(0, split), after: args.slice(split + 1) };
}

export async function runCommand(args: string[]): Promise<number> {
  const { options, after } = commandArgs(args);
  const { values, positionals } = parseFlags(options, flagSpec, cmd, true);
  if (values.help) {
    process.stdout.write(`${await runHelp()}\n`);
    return 0;
  }
  const mode = processMode(values, cmd);
  const argv = [...positionals, ...after];
  if (argv.length === 0) throw new UsageError("missing the command to run after --", cmd);
  const request: RunRequest = {
    policy: policyFromFlags(values, cmd),
    argv,
    timeoutMs:
      values.timeout === undefined ? undefined : parseDuration(values.timeout, "--timeout", cmd),
    mode,
  };
  const { provider } = await chooseProvider(values, cmd);
  try {
    return await runInSession(provider, request);
  } finally {
    await provider.close?.();
  }
}

async function runInSession(provider: IsolationProvider, request: RunRequest): Promise<number> {
  return interruptible(
    "stopping the command and destroying the session",
    '"cadre-runtime sessions reap" removes what is left',
    async (signal) => {
      const { mode } = request;
      // Read while the session starts; a failure is reported once the start is done.
      const stdin = mode ? Promise.resolve(undefined) : forwardedStdin(signal);
      stdin.catch(() => {});
      let sessionId: string | undefined;
      try {
        sessionId = await provider.startSession(request.policy, { signal });
        if (mode) {
          return await processExec(provider, sessionId, request.argv, mode, {
            signal,
            timeoutMs: request.timeoutMs,
            sessionSetsTerm: request.policy.env?.TERM !== undefined,
          });
        }
        return await streamExec(provider, sessionId, request.argv, {
          signal,
          timeoutMs: request.timeoutMs,
          stdin: await stdin,
        });
      } finally {
        if (sessionId) await destroyQuietly(provider, sessionId);
      }
    },
  );
}

async function destroyQuietly(provider: IsolationProvider, sessionId: string): Promise<void> {
  try {
    await provider.destroySession(sessionId);
  } catch (error) {
    progress(`could not destroy session ${sessionId}: ${describeError(error)}`);
    progress('"cadre-runtime sessions reap" removes it once this process is gone');
  }
}
