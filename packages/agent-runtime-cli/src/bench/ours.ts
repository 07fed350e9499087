import type { IsolationPolicy, IsolationProvider } from "@cadre/agent-runtime-contract";
import type { Contender } from "@cadre/agent-runtime-provider-utils";
import { copyIn, copyOut, filesOf } from "../files/copy.js";
import { sandboxContender } from "./contender.js";
import type { FilesPhaseContender } from "./files-phase.js";

/** cadre's provider (or a pool around it) doing what the baselines do. */
export function oursContender(provider: IsolationProvider, policy: IsolationPolicy): Contender {
  return sandboxContender({
    name: "cadre",
    kind: "ours",
    sandbox: {
      start: () => provider.startSession(policy),
      destroy: (id: string) => provider.destroySession(id),
    },
    runTrue: async (id: string) => {
      const result = await provider.exec(id, ["true"]);
      if (result.exitCode !== 0) {
        throw new Error(`true exited ${result.exitCode}: ${result.stderr}`);
      }
    },
  });
}

/**
 * `cadre-runtime cp`'s own transfers (copyIn, copyOut over provider.files), in a session of the
 * provider: what the files phase measures against the engine's copy API.
 */
export function oursFilesContender(
  provider: IsolationProvider,
  policy: IsolationPolicy,
): FilesPhaseContender {
  const files = () => filesOf(provider);
  return {
    name: "cadre",
    kind: "ours",
    sandbox: {
      start: () => provider.startSession(policy),
      destroy: (id: string) => provider.destroySession(id),
    },
    makeDirectory: (id, path) => files().mkdir(id, path, { parents: true }),
    copyIn: async (id, from, dir) => {
      await copyIn(provider, id, from, dir);
    },
    copyOut: async (id, path, dir) => {
      await copyOut(provider, id, path, dir);
    },
    remove: (id, path) => files().remove(id, path, { recursive: true, force: true }),
  };
}
