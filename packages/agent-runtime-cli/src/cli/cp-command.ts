import { finished } from "node:stream/promises";
import type { IsolationProvider } from "@cadre/agent-runtime-contract";
import { type CopySummary, copyIn, copyOut, filesOf } from "../files/copy.js";
import { formatBytes, transferProgress } from "../files/progress-bar.js";
import { interruptible } from "./interrupts.js";
import { progress } from "./output.js";
import { parseFlags } from "./parse-flags.js";
import { providerFlagSpec } from "./provider-choice.js";
import { runtimeOptionHelp } from "./provider-help.js";
import { providerOfSession } from "./session-provider.js";
import { UsageError } from "./usage-error.js";

export const cpHelp = async () => `Usage: cadre-runtime cp [options] LOCAL ID:PATH
       cadre-runtime cp [options] ID:PATH LOCAL

Copies a file or a directory tree into the living session ID, or out of it, in one transfer
(a tar stream; memory stays bounded whatever the size). PATH is absolute in the session.

  LOCAL ID:PATH   into PATH when it is a directory there, else as PATH (a file replaces a file)
  ID:PATH LOCAL   into LOCAL when it is a directory here, else as LOCAL (a file replaces a file;
                  a directory is merged into an existing one)
  - ID:DIR        a tar archive from stdin, extracted into the directory DIR
  ID:PATH -       PATH as a tar archive on stdout

Links inside a tree are copied as links. What comes out of a session is the tenant's: an entry
that would land outside LOCAL (a name with .., an absolute name, a link pointing out), a hard
link, a device or a FIFO fails the copy, and nothing of it is written. Files come out with
their permission bits (without setuid, setgid and sticky) and belong to you. A progress bar
shows on stderr when it is a terminal and the copy takes more than half a second.

Options:
  -p, --provider P     the session's provider (default: the one here that has the session)
  -c, --config F       the cadre.config.json the session was started with
${await runtimeOptionHelp(23)}
  -h, --help           show this help

Exit status: 0 when copied, 1 when not, 2 for usage errors.`;

const flagSpec = {
  ...providerFlagSpec,
  help: { type: "boolean", short: "h" },
} as const;

const cmd = "cp";

export interface RemotePath {
  id: string;
  path: string;
}

/** "ID:/abs/path" as a session path; anything else (including "-") is local. */
export function parseOperand(text: string): RemotePath | undefined {
  const match = /^([a-z0-9][a-z0-9-]{2,62}):(.*)$/.exec(text);
  if (!match) return undefined;
  const [, id, path] = match as unknown as [string, string, string];
  if (!path.startsWith("/")) {
    throw new UsageError(
      `the path after "${id}:" must be absolute in the session; for a local name with a colon, write ./${text}`,
      cmd,
    );
  }
  return { id, path };
}

export async function cpCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags(args, flagSpec, cmd, true);
  if (values.help) {
    process.stdout.write(`${await cpHelp()}\n`);
    return 0;
  }
  if (positionals.length !== 2) {
    throw new UsageError("cp takes two operands: LOCAL ID:PATH, or ID:PATH LOCAL", cmd);
  }
  const [from, to] = positionals as [string, string];
  const source = parseOperand(from);
  const destination = parseOperand(to);
  if ((source === undefined) === (destination === undefined)) {
    throw new UsageError("one operand must be ID:PATH in a session, the other a local path", cmd);
  }
  const remote = (source ?? destination) as RemotePath;
  const provider = await providerOfSession(remote.id, values, cmd);
  try {
    return await interruptible(
      "stopping the copy",
      "a partial copy may be left",
      async (signal) => {
        const summary = destination
          ? await copyInto(provider, from, destination, signal)
          : await copyOutOf(provider, remote, to, signal);
        if (summary) report(summary);
        return 0;
      },
    );
  } finally {
    await provider.close?.();
  }
}

function report(summary: CopySummary): void {
  progress(
    `copied ${summary.entries} entr${summary.entries === 1 ? "y" : "ies"} (${formatBytes(summary.bytes)}) to ${summary.destination}`,
  );
  if (summary.skipped.length > 0) {
    progress(
      `left out ${summary.skipped.length} socket(s), FIFO(s) or device(s), e.g. ${summary.skipped[0]}`,
    );
  }
}

const bar = (label: string) => (total: number | undefined) => transferProgress(label, total);

async function copyInto(
  provider: IsolationProvider,
  local: string,
  { id, path }: RemotePath,
  signal: AbortSignal,
): Promise<CopySummary | undefined> {
  if (local === "-") {
    // The provider reads the archive as it comes and refuses what no upload may carry.
    const done = await filesOf(provider).upload(id, path, process.stdin, { signal });
    return { entries: done.entries, bytes: done.size, destination: path, skipped: [] };
  }
  return copyIn(provider, id, local, path, { signal, progress: bar(`${local} -> ${id}`) });
}

async function copyOutOf(
  provider: IsolationProvider,
  { id, path }: RemotePath,
  local: string,
  signal: AbortSignal,
): Promise<CopySummary | undefined> {
  if (local === "-") {
    const { stream, done } = await filesOf(provider).download(id, path, { signal });
    stream.pipe(process.stdout, { end: false });
    await Promise.all([finished(stream), done]);
    return undefined;
  }
  return copyOut(provider, id, path, local, { signal, progress: bar(`${id}:${path} -> ${local}`) });
}
