import { createProvider, providerIds } from "@cadre/agent-runtime";
import {
  type IsolationProvider,
  isSessionId,
  SessionNotFoundError,
} from "@cadre/agent-runtime-contract";
import { CommandError } from "./command-error.js";
import { configFromFlags, defaultConfigFor, type ProviderFlags } from "./provider-choice.js";
import { UsageError } from "./usage-error.js";

/**
 * A provider instance that holds the session `id`, for the commands that work with a living
 * session (`exec`, `cp`, `sessions destroy`), in a process other than the one that started it:
 * the provider the flags name, else the first provider here whose backend has the session (each
 * with its default options, as `sessions list` reads them). Close it when done.
 */
export async function providerOfSession(
  id: string,
  flags: ProviderFlags,
  command: string,
): Promise<IsolationProvider> {
  if (!isSessionId(id)) {
    throw new UsageError(`"${id}" is not a session id (sessions list shows them)`, command);
  }
  const chosen = await configFromFlags(flags, command);
  if (chosen) {
    const provider = await createProvider(chosen);
    try {
      const info = await provider.getSession(id);
      if (info.state === "ended") throw new SessionNotFoundError(id, { providerId: provider.id });
      return provider;
    } catch (error) {
      await provider.close?.();
      throw error;
    }
  }
  const looked: string[] = [];
  for (const providerId of providerIds()) {
    const provider = await createProvider(await defaultConfigFor(providerId)).catch(
      () => undefined,
    );
    if (!provider) continue;
    looked.push(providerId);
    // A session that ended and is only remembered ("ended") is not one to work with.
    const found = await provider.getSession(id).then(
      (info) => info.state !== "ended",
      () => false,
    );
    if (found) return provider;
    await provider.close?.();
  }
  throw new CommandError(
    `no session ${id} on the providers usable here with their default options (${looked.join(", ") || "none"}). "cadre-runtime sessions list" shows the sessions; for a provider configured by a file, pass the same --config as when it started`,
    "SESSION_NOT_FOUND",
  );
}
