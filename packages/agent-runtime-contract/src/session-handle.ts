import { CapabilityMismatchError } from "./errors.js";
import type { ExecOptions, ExecResult } from "./exec.js";
import type { ProviderFiles } from "./files.js";
import type { ProviderProcesses } from "./processes.js";
import type { IsolationProvider } from "./provider.js";
import type { SessionInfo } from "./session.js";
import type { SessionStats } from "./usage.js";

/** An id-based API with the session id given once. */
type BoundTo<Api> = {
  [K in keyof Api]: Api[K] extends (sessionId: string, ...rest: infer A) => infer R
    ? (...rest: A) => R
    : never;
};

export type SessionFiles = BoundTo<ProviderFiles>;
export type SessionProcesses = BoundTo<ProviderProcesses>;

/**
 * One session, with everything that acts on it (contract v1 addition): `await using` destroys it
 * when the scope ends, whatever happened in it. The id-based methods of the provider stay.
 */
export interface SessionHandle extends AsyncDisposable {
  readonly id: string;
  readonly provider: IsolationProvider;
  exec(argv: string[], options?: ExecOptions): Promise<ExecResult>;
  readonly files: SessionFiles;
  readonly processes: SessionProcesses;
  info(): Promise<SessionInfo>;
  /** What it uses now (`features.usage`). */
  stats(): Promise<SessionStats>;
  stop(): Promise<void>;
  destroy(): Promise<void>;
}

/**
 * The handle of session `id` of `provider`, for a session started elsewhere (a pool, another
 * process). A provider without files or processes refuses their calls with CAPABILITY_MISMATCH.
 */
export function bindSession(provider: IsolationProvider, id: string): SessionHandle {
  const missing = (feature: "files" | "processes") => () =>
    Promise.reject(
      new CapabilityMismatchError(
        { [`features.${feature}`]: `provider "${provider.id}" has no ${feature}` },
        { providerId: provider.id },
      ),
    );
  const bind = <Api extends object>(
    api: Api | undefined,
    feature: "files" | "processes",
    names: (keyof Api)[],
  ) =>
    Object.fromEntries(
      names.map((name) => {
        const method = api?.[name];
        return [
          name,
          typeof method === "function"
            ? (...rest: unknown[]) =>
                (method as (...args: unknown[]) => unknown).call(api, id, ...rest)
            : missing(feature),
        ];
      }),
    ) as BoundTo<Api>;
  const destroy = () => provider.destroySession(id);
  return {
    id,
    provider,
    exec: (argv, options) => provider.exec(id, argv, options),
    files: bind<ProviderFiles>(provider.files, "files", [
      "write",
      "read",
      "readStream",
      "stat",
      "list",
      "remove",
      "rename",
      "mkdir",
      "upload",
      "download",
    ]),
    processes: bind<ProviderProcesses>(provider.processes, "processes", [
      "spawn",
      "list",
      "attach",
    ]),
    info: () => provider.getSession(id),
    stats: () =>
      provider.sessionStats
        ? provider.sessionStats(id)
        : Promise.reject(
            new CapabilityMismatchError(
              { "features.usage": `provider "${provider.id}" reads no usage` },
              { providerId: provider.id },
            ),
          ),
    stop: () => provider.stopSession(id),
    destroy,
    [Symbol.asyncDispose]: destroy,
  };
}
