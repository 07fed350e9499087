import type { ProcessInfo } from "@cadre/agent-runtime-contract";
import { processesOf } from "./follow-process.js";
import { printJson } from "./output.js";
import { parseFlags } from "./parse-flags.js";
import { providerFlagSpec } from "./provider-choice.js";
import { runtimeOptionHelp } from "./provider-help.js";
import { providerOfSession } from "./session-provider.js";
import { formatTable } from "./table.js";
import { UsageError } from "./usage-error.js";

export const psHelp = async () => `Usage: cadre-runtime ps [options] ID

Lists the processes of the living session ID that its processes API started ("cadre-runtime
spawn", "run -it", "exec -it"), running and ended (an ended one stays listed, with its exit and
its buffer for attach, until newer ones need its place): the process id for attach, its pid in
the session, its state, its exit, whether it has a terminal, and its command: argv[0] only, never
its arguments or its environment, where a token may be.

Options:
      --json           print a JSON array (id, pid, command, state, exitCode, signal, pty,
                       outputBytes)
  -p, --provider P     the session's provider (default: the one here that has the session)
  -c, --config F       the cadre.config.json the session was started with
${await runtimeOptionHelp(23)}
  -h, --help           show this help

Exit status: 0 when listed, 1 when not (no such session: SESSION_NOT_FOUND), 2 for usage errors.`;

const flagSpec = {
  ...providerFlagSpec,
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

const cmd = "ps";

export async function psCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags(args, flagSpec, cmd, true);
  if (values.help) {
    process.stdout.write(`${await psHelp()}\n`);
    return 0;
  }
  const [id, ...extra] = positionals;
  if (id === undefined) throw new UsageError("missing the session id", cmd);
  if (extra.length > 0) throw new UsageError(`ps takes one session id, not "${extra[0]}" too`, cmd);
  const provider = await providerOfSession(id, values, cmd);
  try {
    const processes = await processesOf(provider).list(id);
    if (values.json) printJson(processes);
    else process.stdout.write(formatProcesses(processes));
    return 0;
  } finally {
    await provider.close?.();
  }
}

export function formatProcesses(processes: ProcessInfo[]): string {
  if (processes.length === 0) return "no processes\n";
  const exitOf = (p: ProcessInfo) =>
    p.state === "running" ? "-" : `${p.exitCode ?? "?"}${p.signal ? ` (${p.signal})` : ""}`;
  const rows = [
    ["PROCESS", "PID", "STATE", "EXIT", "TTY", "COMMAND"],
    ...processes.map((p) => [
      p.id,
      String(p.pid),
      p.state,
      exitOf(p),
      p.pty ? "yes" : "no",
      p.command,
    ]),
  ];
  return formatTable(rows);
}
