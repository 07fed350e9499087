import { afterAll, beforeAll, expect } from "vitest";
import { type ContainerdBackend, KataProvider } from "../../src/index.js";
import {
  findBackendLeftovers,
  orphanTasks,
  reapEndRecords,
  type Variant,
  variantOptions,
} from "./containerd-env.js";

/**
 * A provider for one test file's sessions, all labelled `runLabel`: after the file it destroys
 * whatever still carries the label, checks that the backend holds nothing of it (no task left
 * without its container either), removes the label's end records and checks that none is left,
 * and closes.
 */
export function useKataProvider(
  variant: Variant,
  runLabel: Record<string, string>,
): { provider: KataProvider; adapter: ContainerdBackend } {
  const provider = new KataProvider(variantOptions(variant));
  let orphansBefore: string[] = [];
  beforeAll(async () => {
    orphansBefore = await orphanTasks();
  });
  afterAll(async () => {
    for (const s of await provider.listSessions({ labels: runLabel }))
      await provider.destroySession(s.id);
    expect(await findBackendLeftovers(runLabel)).toEqual([]);
    const left = (await orphanTasks()).filter((id) => !orphansBefore.includes(id));
    expect(left, "tasks whose container is gone").toEqual([]);
    expect(await reapEndRecords(runLabel), "end records").toEqual([]);
    await provider.close();
  });
  return { provider, adapter: provider.containerd! };
}
