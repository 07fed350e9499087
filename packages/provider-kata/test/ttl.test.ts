import { sessionLabels } from "@cadre/agent-runtime-contract";
import { expect, it, vi } from "vitest";
import { describeWithContainerd } from "./support/available.js";
import { useKataProvider } from "./support/test-provider.js";

const runLabel = { "cadre.test/kata-ttl": String(process.pid) };
const day = 24 * 3600 * 1000;

describeWithContainerd("session TTL timers (containerd)", () => {
  const { provider, adapter } = useKataProvider("runc", runLabel);

  it("a 25-day TTL, beyond setTimeout's range, does not fire at once", async () => {
    const destroy = vi.spyOn(provider, "destroySession");
    const id = await provider.startSession({ ttlMs: 25 * day, labels: runLabel });
    try {
      // setTimeout clamps a delay over 2^31-1 ms to 1 ms: a raw timer would have fired (and
      // started the destroy) long before this. Nothing announces that a timer did not fire, so
      // this waits a while instead.
      await new Promise((resolve) => setTimeout(resolve, 1500));
      expect(destroy).not.toHaveBeenCalled();
      const info = await provider.getSession(id);
      expect(info.state).toBe("running");
      expect(Date.parse(info.expiresAt ?? "") - Date.parse(info.createdAt)).toBe(25 * day);
      expect((await provider.exec(id, ["true"])).exitCode).toBe(0);
    } finally {
      destroy.mockRestore();
      await provider.destroySession(id);
    }
  });

  it("counts the TTL from the created-at label, as reap() does", async () => {
    const schedule = vi.spyOn(
      (provider as unknown as { ttl: { schedule: (id: string, at: number) => void } }).ttl,
      "schedule",
    );
    const id = await provider.startSession({ ttlMs: day, labels: runLabel });
    try {
      const labels = (await adapter.client.getContainer(id)).labels;
      expect(schedule).toHaveBeenCalledWith(id, Date.parse(labels[sessionLabels.createdAt]!) + day);
    } finally {
      schedule.mockRestore();
      await provider.destroySession(id);
    }
  });
});
