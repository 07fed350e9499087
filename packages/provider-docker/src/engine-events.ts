import { sessionLabels } from "@cadre/agent-runtime-contract";
import type { EngineEvent } from "@cadre/agent-runtime-provider-utils";
import type { DockerClient } from "./docker-client.js";
import type { LabelCodec } from "./labels.js";
import type { SessionLookup } from "./session-lookup.js";

/** A longer line is no event of the daemon's: the stream is dropped (and reconnected). */
const maxLineBytes = 1 << 20;

/** One of the daemon's events, the fields read here. */
interface DaemonEvent {
  Action?: string;
  Actor?: { ID?: string; Attributes?: Record<string, string> };
  time?: number;
  timeNano?: number;
}

/**
 * Where a stream left off: the second of its last event (the daemon's `since` counts in seconds
 * and includes that second), and the events of that second already told, so a resumed stream
 * repeats none of them.
 */
interface Cursor {
  second: number;
  told: string[];
}

/**
 * Sessions' events from the daemon's own stream (`GET /events`, containers with this provider's
 * labels): start, die (with the exit code), oom and destroy (Podman's remove). Resumed from a cursor, it replays
 * what the daemon still holds since then, without what was told already. Only containers that
 * are sessions by name and labels, as SessionLookup decides, are told of.
 */
export async function* dockerEngineEvents(
  client: DockerClient,
  codec: LabelCodec,
  sessions: SessionLookup,
  options: { since?: string; signal: AbortSignal },
): AsyncGenerator<EngineEvent> {
  const resumed = parseCursor(options.since);
  // One key=value label filter and no action filter: Podman 4 matches a label filter without a
  // value to nothing, and of several actions only the first. The actions are told apart below.
  const stream = await client.containerEvents({
    labelFilters: [`${codec.toDockerKey(sessionLabels.provider)}=${client.providerId}`],
    ...(resumed ? { since: String(resumed.second) } : {}),
    signal: options.signal,
  });
  yield { kind: "connected" };
  let cursor: Cursor = resumed ?? { second: 0, told: [] };
  let pending = "";
  try {
    for await (const chunk of stream as AsyncIterable<Buffer | string>) {
      pending += chunk.toString();
      if (pending.length > maxLineBytes && !pending.includes("\n")) return;
      const lines = pending.split("\n");
      pending = lines.pop() ?? "";
      for (const line of lines) {
        const event = parseEvent(line);
        if (!event) continue;
        const key = `${event.timeNano ?? event.time}:${event.Actor?.ID}:${event.Action}`;
        const second = event.time ?? 0;
        if (second < cursor.second || (second === cursor.second && cursor.told.includes(key)))
          continue;
        cursor =
          second === cursor.second
            ? { second, told: [...cursor.told, key] }
            : { second, told: [key] };
        const mapped = sessionEvent(event, codec, sessions);
        if (mapped) yield { ...mapped, cursor: JSON.stringify(cursor) };
      }
    }
  } finally {
    (stream as { destroy?: () => void }).destroy?.();
  }
}

type Mapped = Exclude<EngineEvent, { kind: "connected" }>;

function sessionEvent(
  event: DaemonEvent,
  codec: LabelCodec,
  sessions: SessionLookup,
): Mapped | undefined {
  const attributes = event.Actor?.Attributes ?? {};
  const sessionId = attributes[codec.toDockerKey(sessionLabels.sessionId)];
  const name = attributes.name;
  if (!sessionId || !name || !sessions.isSession([`/${name}`], attributes, sessionId))
    return undefined;
  const at = new Date(
    event.timeNano !== undefined ? event.timeNano / 1e6 : (event.time ?? 0) * 1000,
  ).toISOString();
  switch (event.Action) {
    case "start":
      return { kind: "started", sessionId, at };
    case "die": {
      // Podman names the attribute containerExitCode.
      const code = Number(attributes.exitCode ?? attributes.containerExitCode);
      return {
        kind: "exited",
        sessionId,
        at,
        exit: { at, ...(Number.isInteger(code) ? { exitCode: code } : {}) },
      };
    }
    case "oom":
      return { kind: "oom", sessionId, at };
    case "destroy":
    case "remove": // Podman's name for it
      return { kind: "removed", sessionId, at };
    default:
      return undefined;
  }
}

function parseEvent(line: string): DaemonEvent | undefined {
  if (!line.trim()) return undefined;
  try {
    const value = JSON.parse(line) as DaemonEvent;
    return typeof value === "object" && value !== null ? value : undefined;
  } catch {
    return undefined;
  }
}

function parseCursor(text: string | undefined): Cursor | undefined {
  if (!text) return undefined;
  try {
    const value = JSON.parse(text) as Cursor;
    if (!Number.isSafeInteger(value.second) || !Array.isArray(value.told)) return undefined;
    return { second: value.second, told: value.told.filter((k) => typeof k === "string") };
  } catch {
    return undefined;
  }
}
