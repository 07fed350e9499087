import { createProvider, type ParsedIsolationConfig, providerIds } from "@cadre/agent-runtime";
import type { IsolationProvider, SessionInfo } from "@cadre/agent-runtime-contract";
import { startKeptSession } from "../sessions/start-kept-session.js";
import { automaticOrder, chooseProvider } from "./automatic-choice.js";
import { interruptible } from "./interrupts.js";
import { describeError, printJson, progress } from "./output.js";
import { parseFlags } from "./parse-flags.js";
import { policyFlagHelp, policyFlagSpec, policyFromFlags } from "./policy-flags.js";
import { configFromFlags, defaultConfigFor, providerFlagSpec } from "./provider-choice.js";
import { optionHelp, runtimeOptionHelp } from "./provider-help.js";
import { providerOfSession } from "./session-provider.js";
import { sessionsTop } from "./sessions-top.js";
import { formatTable } from "./table.js";
import { parseDuration } from "./units.js";
import { UsageError } from "./usage-error.js";

export const sessionsHelp = async () => `Usage: cadre-runtime sessions start [options]
       cadre-runtime sessions destroy [options] ID...
       cadre-runtime sessions list [options]
       cadre-runtime sessions reap [options]
       cadre-runtime sessions top [options] [ID...]

start: starts a session that outlives this command and prints its id (nothing else) on stdout;
  "cadre-runtime exec", "cp" and "sessions destroy" use it from any later process. A small
  keeper process owns it until it is destroyed, its TTL runs out or the host restarts.
destroy: destroys the sessions (and their keepers exit).
list: the sessions each provider's backend holds (read from the backend, not from memory).
reap: destroys sessions whose owner process is gone or whose TTL ran out; prints their ids.
top: what each running session uses (the IDs, else every one), as its provider reads it from the
  host: CPU, memory and its peak against the limit, processes, disk. Read again every interval
  until Ctrl-C; redrawn in place on a terminal, appended into a pipe.

Options:
  -p, --provider P     only this provider (start, default: the best one available:
${optionHelp("", 23, `${await automaticOrder()}; destroy, default: the one that has the session; list and reap, default: every provider that is usable here)`)}
  -c, --config F       use the provider and options of this cadre.config.json
${await runtimeOptionHelp(23)}
      --allow-no-isolation
                       start, without --provider: fall back to a provider without isolation
      --ttl T          start: destroy the session after T (default 24h, at most about 24 days)
${policyFlagHelp}
      --older-than T   reap: also sessions of live owners older than T (e.g. 1h)
      --interval T     top: between two readings (default 2s, at least 250ms)
      --count N        top: stop after N readings
      --json           print JSON (list: an array of sessions; reap: { reaped: [...] }; top:
                       one line per reading, an array of { providerId, stats, cpuPercent })
  -h, --help           show this help`;

const flagSpec = {
  ...providerFlagSpec,
  "older-than": { type: "string" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

const startFlagSpec = {
  ...providerFlagSpec,
  ...policyFlagSpec,
  ttl: { type: "string" },
  "allow-no-isolation": { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

const destroyFlagSpec = {
  ...providerFlagSpec,
  help: { type: "boolean", short: "h" },
} as const;

/** The TTL of a session started from the shell when --ttl does not say. */
export const defaultShellTtlMs = 24 * 3_600_000;

const cmd = "sessions";
const actions = ["start", "destroy", "list", "reap", "top"];

export async function sessionsCommand(args: string[]): Promise<number> {
  const [action, ...rest] = args;
  if (action === "--help" || action === "-h") {
    process.stdout.write(`${await sessionsHelp()}\n`);
    return 0;
  }
  if (action === undefined || !actions.includes(action)) {
    throw new UsageError(
      action === undefined
        ? "missing start, destroy, list, reap or top"
        : `unknown action "${action}"; use start, destroy, list, reap or top`,
      cmd,
    );
  }
  if (action === "start") return startSession(rest);
  if (action === "destroy") return destroySessions(rest);
  if (action === "top") return sessionsTop(rest, sessionsHelp);
  const { values } = parseFlags(rest, flagSpec, cmd);
  if (values.help) {
    process.stdout.write(`${await sessionsHelp()}\n`);
    return 0;
  }
  if (action === "list" && values["older-than"] !== undefined) {
    throw new UsageError("--older-than belongs to sessions reap", cmd);
  }
  const olderThanMs =
    values["older-than"] === undefined
      ? undefined
      : parseDuration(values["older-than"], "--older-than", cmd);
  const chosen = await configFromFlags(values, cmd);
  const configs = chosen ? [chosen] : await Promise.all(providerIds().map(defaultConfigFor));

  const sessions: SessionInfo[] = [];
  const reaped: Array<{ providerId: string; id: string }> = [];
  for (const config of configs) {
    const outcome = await withProvider(config, async (provider) => {
      if (action === "list") sessions.push(...(await provider.listSessions()));
      else {
        for (const id of await provider.reap({ olderThanMs })) {
          reaped.push({ providerId: provider.id, id });
        }
      }
    });
    if (outcome) {
      // Without --provider, an unusable provider is a note, not a failure of the command.
      if (chosen) throw outcome;
      progress(`${config.provider}: skipped (${describeError(outcome).split("\n")[0]})`);
    }
  }

  if (action === "list") {
    if (values.json) printJson(sessions);
    else process.stdout.write(formatSessions(sessions));
  } else if (values.json) {
    printJson({ reaped });
  } else {
    for (const r of reaped) process.stdout.write(`${r.providerId}\t${r.id}\n`);
    progress(`reaped ${reaped.length} session(s)`);
  }
  return 0;
}

async function withProvider(
  config: ParsedIsolationConfig,
  use: (provider: IsolationProvider) => Promise<void>,
): Promise<unknown> {
  try {
    const provider = await createProvider(config);
    try {
      await use(provider);
    } finally {
      await provider.close?.();
    }
    return undefined;
  } catch (error) {
    return error;
  }
}

function formatSessions(sessions: SessionInfo[]): string {
  if (sessions.length === 0) return "no sessions\n";
  const rows = [
    ["ID", "PROVIDER", "STATE", "CREATED", "OWNER"],
    ...sessions.map((s) => [s.id, s.providerId, s.state, s.createdAt, s.owner]),
  ];
  return formatTable(rows);
}

async function startSession(args: string[]): Promise<number> {
  const { values } = parseFlags(args, startFlagSpec, cmd);
  if (values.help) {
    process.stdout.write(`${await sessionsHelp()}\n`);
    return 0;
  }
  const policy = {
    ...policyFromFlags(values, cmd),
    ttlMs: values.ttl === undefined ? defaultShellTtlMs : parseDuration(values.ttl, "--ttl", cmd),
  };
  const { provider, config } = await chooseProvider(values, cmd);
  await provider.close?.();
  return interruptible(
    "stopping the start",
    '"cadre-runtime sessions reap" removes what is left',
    async (signal) => {
      const session = await startKeptSession({ config, policy }, signal);
      progress(
        `session ${session.id} started, kept by process ${session.keeperPid}; "cadre-runtime sessions destroy ${session.id}" ends it (else its TTL, in ${values.ttl ?? "24h"})`,
      );
      process.stdout.write(`${session.id}\n`);
      return 0;
    },
  );
}

async function destroySessions(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags(args, destroyFlagSpec, cmd, true);
  if (values.help) {
    process.stdout.write(`${await sessionsHelp()}\n`);
    return 0;
  }
  if (positionals.length === 0)
    throw new UsageError("missing the id of the session to destroy", cmd);
  let failures = 0;
  for (const id of positionals) {
    try {
      const provider = await providerOfSession(id, values, cmd);
      try {
        await provider.destroySession(id);
      } finally {
        await provider.close?.();
      }
      progress(`destroyed ${id}`);
    } catch (error) {
      if (error instanceof UsageError) throw error;
      failures++;
      progress(`${id}: ${describeError(error)}`);
    }
  }
  return failures === 0 ? 0 : 1;
}
