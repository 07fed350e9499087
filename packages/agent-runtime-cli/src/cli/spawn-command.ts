import { processLimits } from "@cadre/agent-runtime-contract";
import { processesOf } from "./follow-process.js";
import { progress } from "./output.js";
import { parseFlags } from "./parse-flags.js";
import { parsePairs } from "./policy-flags.js";
import { providerFlagSpec } from "./provider-choice.js";
import { runtimeOptionHelp } from "./provider-help.js";
import { commandArgs } from "./run-command.js";
import { providerOfSession } from "./session-provider.js";
import { fallbackTerminalSize, type TerminalSize, terminalEnv, terminalSize } from "./terminal.js";
import { parseDuration, parsePositiveNumber, parseSize } from "./units.js";
import { UsageError } from "./usage-error.js";

export const spawnHelp = async () => `Usage: cadre-runtime spawn [options] ID -- CMD [ARGS...]

Starts CMD (no shell) as a process of the living session ID that outlives this command, and
prints its process id, alone, on stdout (pid=$(cadre-runtime spawn ID -- CMD)).
"cadre-runtime attach ID PROCESS_ID" follows it (its output from the start, then live; stdin;
its exit code), "cadre-runtime ps ID" lists it. It runs until it ends, is killed, reaches
--timeout, or the session ends. Its output goes into a buffer in the session (--buffer) that
keeps the newest when nobody follows; its stdin stays open for attach to write to.

Options:
  -e, --env K=V        environment variable of CMD, over the session's (repeatable)
  -w, --workdir DIR    working directory of CMD (absolute)
      --timeout T      kill CMD and everything it started after T, e.g. 30s, 2m, 1h
  -t, --tty            run CMD on a pseudo-terminal: of this terminal's size (stdout's, else
                       stderr's), else ${fallbackTerminalSize.rows} rows and ${fallbackTerminalSize.cols} columns; TERM=$TERM
                       (else xterm) unless --env sets it
      --rows N         with --tty: the terminal's rows (1 to ${processLimits.maxTerminalSide})
      --cols N         with --tty: the terminal's columns (1 to ${processLimits.maxTerminalSide})
      --name NAME      the process id: 1 to 64 of A-Z a-z 0-9 _ - (default: a new one)
      --buffer SIZE    its output buffer, 64k to 16m (default 1m)
  -p, --provider P     the session's provider (default: the one here that has the session)
  -c, --config F       the cadre.config.json the session was started with
${await runtimeOptionHelp(23)}
  -h, --help           show this help

Exit status: 0 when started, 1 when not (the error says why), 2 for usage errors.`;

const flagSpec = {
  ...providerFlagSpec,
  env: { type: "string", short: "e", multiple: true },
  workdir: { type: "string", short: "w" },
  timeout: { type: "string" },
  tty: { type: "boolean", short: "t" },
  rows: { type: "string" },
  cols: { type: "string" },
  name: { type: "string" },
  buffer: { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

const cmd = "spawn";

function terminalSide(text: string, flag: string): number {
  const n = parsePositiveNumber(text, flag, cmd, true);
  if (n > processLimits.maxTerminalSide) {
    throw new UsageError(`${flag} is at most ${processLimits.maxTerminalSide}, not ${n}`, cmd);
  }
  return n;
}

function ptySize(values: { rows?: string | undefined; cols?: string | undefined }): TerminalSize {
  const here = terminalSize() ?? fallbackTerminalSize;
  return {
    rows: values.rows === undefined ? here.rows : terminalSide(values.rows, "--rows"),
    cols: values.cols === undefined ? here.cols : terminalSide(values.cols, "--cols"),
  };
}

export async function spawnCommand(args: string[]): Promise<number> {
  const { options, after } = commandArgs(args);
  const { values, positionals } = parseFlags(options, flagSpec, cmd, true);
  if (values.help) {
    process.stdout.write(`${await spawnHelp()}\n`);
    return 0;
  }
  const [id, ...words] = positionals;
  if (id === undefined) throw new UsageError("missing the session id", cmd);
  const argv = [...words, ...after];
  if (argv.length === 0) throw new UsageError("missing the command to run after --", cmd);
  if (!values.tty && (values.rows !== undefined || values.cols !== undefined)) {
    throw new UsageError("--rows and --cols size a terminal: add --tty", cmd);
  }
  const pairs = values.env === undefined ? undefined : parsePairs(values.env, "--env", cmd);
  const env = values.tty ? terminalEnv(pairs) : pairs;
  const timeoutMs =
    values.timeout === undefined ? undefined : parseDuration(values.timeout, "--timeout", cmd);
  const outputBufferBytes =
    values.buffer === undefined ? undefined : parseSize(values.buffer, "--buffer", cmd);
  const pty = values.tty ? ptySize(values) : undefined;

  const provider = await providerOfSession(id, values, cmd);
  try {
    const handle = await processesOf(provider).spawn(id, argv, {
      ...(env ? { env } : {}),
      ...(values.workdir !== undefined ? { cwd: values.workdir } : {}),
      ...(timeoutMs !== undefined ? { timeoutMs } : {}),
      ...(pty ? { pty } : {}),
      ...(outputBufferBytes !== undefined ? { outputBufferBytes } : {}),
      ...(values.name !== undefined ? { id: values.name } : {}),
    });
    // It goes on without anyone following; its buffer keeps its newest output for attach.
    await handle.detach();
    progress(
      `process ${handle.id} (pid ${handle.pid}) started in session ${id}; "cadre-runtime attach ${id} ${handle.id}" follows it`,
    );
    process.stdout.write(`${handle.id}\n`);
    return 0;
  } finally {
    await provider.close?.();
  }
}
