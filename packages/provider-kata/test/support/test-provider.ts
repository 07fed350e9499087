import { afterAll, expect } from "vitest";
import { type ContainerdBackend, KataProvider } from "../../src/index.js";
import { findBackendLeftovers, type Variant, variantOptions } from "./containerd-env.js";

/**
 * A provider for one test file's sessions, all labelled `runLabel`: after the file it destroys
 * whatever still carries the label, checks that the backend holds nothing of it, and closes.
 */
export function useKataProvider(
  variant: Variant,
  runLabel: Record<string, string>,
): { provider: KataProvider; adapter: ContainerdBackend } {
  const provider = new KataProvider(variantOptions(variant));
  afterAll(async () => {
    for (const s of await provider.listSessions({ labels: runLabel }))
      await provider.destroySession(s.id);
    expect(await findBackendLeftovers(runLabel)).toEqual([]);
    await provider.close();
  });
  return { provider, adapter: provider.containerd! };
}
