import { followProcess, noteExit, processesOf, type StdinForwarding } from "./follow-process.js";
import { catchInterrupts } from "./interrupts.js";
import { progress } from "./output.js";
import { parseFlags } from "./parse-flags.js";
import { providerFlagSpec } from "./provider-choice.js";
import { runtimeOptionHelp } from "./provider-help.js";
import { providerOfSession } from "./session-provider.js";
import { UsageError } from "./usage-error.js";

export const attachHelp = async () => `Usage: cadre-runtime attach [options] ID PROCESS_ID

Follows the process PROCESS_ID of the living session ID ("cadre-runtime spawn" prints the id,
"cadre-runtime ps ID" lists them), from any process and as often as wanted: replays what its
output buffer still holds (from its first byte while the buffer had room), then streams its
stdout and stderr as they come, forwards stdin to it, and exits with its exit code when it ends
(at once, after the replay, for one that has ended already).

stdin: a pipe or a file is forwarded as it comes, and its end closes the process's stdin (use
--no-stdin to only watch). A terminal is forwarded too: for a process on a terminal (spawn
--tty) in raw mode, every key as typed, and the process gets this terminal's size, again after
each resize; for one without, line by line, Ctrl-D closing its stdin.

Leaving it running: Ctrl-C (SIGINT), SIGTERM or SIGHUP stops following and leaves the process
running (exit 130 / 143 / 129). On a terminal process in raw mode Ctrl-C is the process's own,
and Ctrl-P Ctrl-Q leaves it (exit 0). Attach again to follow it on.

Options:
      --no-stdin       do not forward stdin
      --no-replay      skip what the buffer holds; only what comes from now on
  -p, --provider P     the session's provider (default: the one here that has the session)
  -c, --config F       the cadre.config.json the session was started with
${await runtimeOptionHelp(23)}
  -h, --help           show this help

Exit status: the process's exit code (128 + n when signal n ended it); 0 when left with Ctrl-P
Ctrl-Q; 128 + n when left on signal n; 125 when cadre-runtime itself fails (no such session or
process: SESSION_NOT_FOUND, PROCESS_NOT_FOUND); 2 for usage errors.`;

const flagSpec = {
  ...providerFlagSpec,
  "no-stdin": { type: "boolean" },
  "no-replay": { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

const cmd = "attach";

export async function attachCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags(args, flagSpec, cmd, true);
  if (values.help) {
    process.stdout.write(`${await attachHelp()}\n`);
    return 0;
  }
  const [id, processId, ...extra] = positionals;
  if (id === undefined) throw new UsageError("missing the session id", cmd);
  if (processId === undefined) {
    throw new UsageError(`missing the process id ("cadre-runtime ps ${id}" lists them)`, cmd);
  }
  if (extra.length > 0) throw new UsageError(`unexpected "${extra[0]}" after the process id`, cmd);

  const provider = await providerOfSession(id, values, cmd);
  const interrupts = catchInterrupts(
    "leaving the process running (attach again to follow it)",
    "the process runs on",
  );
  try {
    const handle = await processesOf(provider).attach(id, processId, {
      ...(values["no-replay"] ? { fromOffset: Number.MAX_SAFE_INTEGER } : {}),
    });
    const missedAtStart = handle.missedBytes;
    if (missedAtStart > 0 && !values["no-replay"]) {
      progress(`${missedAtStart} bytes of its earliest output are no longer in its buffer`);
    }
    const terminal = process.stdin.isTTY === true;
    const stdin: StdinForwarding = values["no-stdin"]
      ? "none"
      : terminal && handle.pty
        ? "raw"
        : "stream";
    if (terminal) {
      progress(
        stdin === "raw"
          ? `attached to ${processId}; Ctrl-P Ctrl-Q leaves it running`
          : `attached to ${processId}; Ctrl-C leaves it running`,
      );
    }
    const end = await followProcess(handle, {
      stdin,
      resize: terminal && handle.pty,
      detachKeys: true,
      signal: interrupts.signal,
      onAbort: "detach",
    });
    if (handle.missedBytes > missedAtStart) {
      progress(
        `${handle.missedBytes - missedAtStart} bytes of its output went by while this side read too slowly`,
      );
    }
    if (end.kind === "detached") {
      progress(
        `left ${processId} running; "cadre-runtime attach ${id} ${processId}" follows it again`,
      );
      return end.by === "keys" ? 0 : interrupts.exitCode();
    }
    noteExit(end.exit);
    return end.exit.exitCode;
  } finally {
    interrupts.dispose();
    await provider.close?.();
  }
}
