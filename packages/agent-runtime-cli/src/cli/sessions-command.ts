import { createProvider, type ParsedIsolationConfig, providerIds } from "@cadre/agent-runtime";
import type { IsolationProvider, SessionInfo } from "@cadre/agent-runtime-contract";
import { describeError, printJson, progress } from "./output.js";
import { parseFlags } from "./parse-flags.js";
import { configFromFlags, defaultConfigFor, providerFlagSpec } from "./provider-choice.js";
import { runtimeOptionHelp } from "./provider-help.js";
import { parseDuration } from "./units.js";
import { UsageError } from "./usage-error.js";

export const sessionsHelp = async () => `Usage: cadre-runtime sessions list [options]
       cadre-runtime sessions reap [options]

list: the sessions each provider's backend holds (read from the backend, not from memory).
reap: destroys sessions whose owner process is gone or whose TTL ran out; prints their ids.

Options:
  -p, --provider P     only this provider (default: every provider that is usable here)
  -c, --config F       use the provider and options of this cadre.config.json
${await runtimeOptionHelp(23)}
      --older-than T   reap: also sessions of live owners older than T (e.g. 1h)
      --json           print JSON (list: an array of sessions; reap: { reaped: [...] })
  -h, --help           show this help`;

const flagSpec = {
  ...providerFlagSpec,
  "older-than": { type: "string" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

export async function sessionsCommand(args: string[]): Promise<number> {
  const [action, ...rest] = args;
  if (action === "--help" || action === "-h") {
    process.stdout.write(`${await sessionsHelp()}\n`);
    return 0;
  }
  if (action !== "list" && action !== "reap") {
    throw new UsageError(
      action === undefined
        ? "missing list or reap"
        : `unknown action "${action}"; use list or reap`,
      "sessions",
    );
  }
  const { values } = parseFlags(rest, flagSpec, "sessions");
  if (values.help) {
    process.stdout.write(`${await sessionsHelp()}\n`);
    return 0;
  }
  if (action === "list" && values["older-than"] !== undefined) {
    throw new UsageError("--older-than belongs to sessions reap", "sessions");
  }
  const olderThanMs =
    values["older-than"] === undefined
      ? undefined
      : parseDuration(values["older-than"], "--older-than", "sessions");
  const chosen = await configFromFlags(values, "sessions");
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
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return `${rows
    .map((r) =>
      r
        .map((cell, i) => cell.padEnd(widths[i]!))
        .join("  ")
        .trimEnd(),
    )
    .join("\n")}\n`;
}
