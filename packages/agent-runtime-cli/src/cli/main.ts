import { providerIds } from "@cadre/agent-runtime";
import { attachCommand } from "./attach-command.js";
import { benchCommand } from "./bench-command.js";
import { conformanceCommand } from "./conformance-command.js";
import { cpCommand } from "./cp-command.js";
import { doctorCommand } from "./doctor-command.js";
import { execCommand } from "./exec-command.js";
import { describeError } from "./output.js";
import { psCommand } from "./ps-command.js";
import { runCommand, runFailureExitCode } from "./run-command.js";
import { sessionsCommand } from "./sessions-command.js";
import { spawnCommand } from "./spawn-command.js";
import { UsageError } from "./usage-error.js";

export const mainHelp = () => `Usage: cadre-runtime <command> [options]

Runs commands in isolated sessions through cadre's isolation providers (${providerIds().join(", ")}).

Commands:
  run [options] -- CMD [ARGS...]   run CMD in a fresh session, stream its output, exit with its code
                                   (-it: on a terminal of this terminal's size, keys forwarded)
  sessions start [options]         start a session that outlives the command; prints its id
  exec [options] ID -- CMD [ARGS...]
                                   run CMD in session ID, stream its output, exit with its code
                                   (-it: on a terminal, as run -it)
  spawn [options] ID -- CMD [ARGS...]
                                   start CMD as a process of session ID that outlives the command;
                                   prints its process id
  ps ID                            the processes of session ID: id, pid, state, exit, argv[0]
  attach ID PROCESS_ID             follow a process: its output from the start, then live; stdin;
                                   exit with its code (Ctrl-C leaves it running)
  cp SRC DST                       copy files and directories in (LOCAL ID:PATH) or out (ID:PATH LOCAL)
  sessions destroy ID...           destroy sessions
  doctor [--provider P] [--json]   readiness of each provider on this host, with fixes
  conformance --provider P         run the conformance suite against P on this host
  sessions list | reap             list the sessions of each provider, or reap orphans
  sessions top [ID...]             what running sessions use, live
  bench --provider P               latency against bare engine calls, concurrency, memory

Run "cadre-runtime <command> --help" for a command's options.
Exit status: 2 for usage errors; see each command for the rest.`;

// A Map: a lookup in a plain object would find "constructor" or "__proto__" on its prototype.
const commands = new Map<string, (args: string[]) => Promise<number>>([
  ["run", runCommand],
  ["exec", execCommand],
  ["spawn", spawnCommand],
  ["ps", psCommand],
  ["attach", attachCommand],
  ["cp", cpCommand],
  ["doctor", doctorCommand],
  ["conformance", conformanceCommand],
  ["sessions", sessionsCommand],
  ["bench", benchCommand],
]);

/** Runs one command line and returns its exit status; never throws. */
export async function main(argv: string[]): Promise<number> {
  const [name, ...args] = argv;
  if (name === "--help" || name === "-h" || name === "help") {
    process.stdout.write(`${mainHelp()}\n`);
    return 0;
  }
  const command = name === undefined ? undefined : commands.get(name);
  try {
    if (name === undefined)
      throw new UsageError(`missing command (${[...commands.keys()].join(", ")})`);
    if (!command) throw new UsageError(`unknown command "${name}"`);
    return await command(args);
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`cadre-runtime: ${error.message}. ${error.hint}\n`);
      return 2;
    }
    process.stderr.write(`cadre-runtime: ${describeError(error)}\n`);
    // As `docker run` and `docker exec`: the command's own statuses stay apart from ours.
    return name === "run" || name === "exec" || name === "attach" ? runFailureExitCode : 1;
  }
}
