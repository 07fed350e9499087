import { interruptible } from "./interrupts.js";
import { parseFlags } from "./parse-flags.js";
import { parsePairs } from "./policy-flags.js";
import { processExec, processMode, terminalFlagSpec, terminalHelp } from "./process-exec.js";
import { providerFlagSpec } from "./provider-choice.js";
import { runtimeOptionHelp } from "./provider-help.js";
import { commandArgs } from "./run-command.js";
import { providerOfSession } from "./session-provider.js";
import { forwardedStdin } from "./stdin.js";
import { streamExec } from "./stream-exec.js";
import { parseDuration } from "./units.js";
import { UsageError } from "./usage-error.js";

export const execHelp = async () => `Usage: cadre-runtime exec [options] ID -- CMD [ARGS...]

Runs CMD in the living session ID (from "sessions start", or any session "sessions list" shows),
streams its output, and exits with its exit code. stdin is forwarded to CMD when it is a pipe or
a file (read to its end before CMD starts, at most 64 MiB: give CMD </dev/null when nothing will
close it); a terminal is not, unless -i says so. Ctrl-C (SIGINT), SIGTERM or SIGHUP stops CMD and
everything it started (exit 130 / 143 / 129); the session stays.

${terminalHelp}

Options:
  -e, --env K=V        environment variable of CMD, over the session's (repeatable)
  -w, --workdir DIR    working directory of CMD (absolute)
      --timeout T      kill CMD after T, e.g. 30s, 500ms, 2m
  -i, --interactive    forward stdin as it comes, also from a terminal
  -t, --tty            run CMD on a terminal of this terminal's size (stdin must be one)
  -p, --provider P     the session's provider (default: the one here that has the session)
  -c, --config F       the cadre.config.json the session was started with
${await runtimeOptionHelp(23)}
  -h, --help           show this help

Exit status: CMD's exit code; 125 when cadre-runtime itself fails; 2 for usage errors.`;

const flagSpec = {
  ...providerFlagSpec,
  ...terminalFlagSpec,
  env: { type: "string", short: "e", multiple: true },
  workdir: { type: "string", short: "w" },
  timeout: { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

const cmd = "exec";

export async function execCommand(args: string[]): Promise<number> {
  const { options, after } = commandArgs(args);
  const { values, positionals } = parseFlags(options, flagSpec, cmd, true);
  if (values.help) {
    process.stdout.write(`${await execHelp()}\n`);
    return 0;
  }
  const mode = processMode(values, cmd);
  const [id, ...words] = positionals;
  if (id === undefined) throw new UsageError("missing the session id", cmd);
  const argv = [...words, ...after];
  if (argv.length === 0) throw new UsageError("missing the command to run after --", cmd);
  const env = values.env === undefined ? undefined : parsePairs(values.env, "--env", cmd);
  const timeoutMs =
    values.timeout === undefined ? undefined : parseDuration(values.timeout, "--timeout", cmd);

  const provider = await providerOfSession(id, values, cmd);
  try {
    return await interruptible(
      "stopping the command (the session stays)",
      "the command may still run in the session",
      async (signal) =>
        mode
          ? processExec(provider, id, argv, mode, {
              signal,
              env,
              cwd: values.workdir,
              timeoutMs,
            })
          : streamExec(provider, id, argv, {
              signal,
              ...(env ? { env } : {}),
              ...(values.workdir !== undefined ? { cwd: values.workdir } : {}),
              ...(timeoutMs !== undefined ? { timeoutMs } : {}),
              stdin: await forwardedStdin(signal),
            }),
    );
  } finally {
    await provider.close?.();
  }
}
