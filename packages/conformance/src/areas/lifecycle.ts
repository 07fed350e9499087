import { isSessionId } from "@cadre/agent-runtime-contract";
import { describe, expect, it } from "vitest";
import { expectEnded, expectErrorCode } from "../expect-error.js";
import type { ConformanceContext } from "../suite-context.js";
import { testLabelKey } from "../suite-context.js";
import { conformanceTestNames } from "../test-names.js";

const names = conformanceTestNames.lifecycle;

/** An id that is well formed but that no provider handed out. */
export function unknownSessionId(ctx: ConformanceContext): string {
  return ctx.token("cadre-unknown").toLowerCase();
}

export function registerLifecycle(ctx: ConformanceContext): void {
  describe("lifecycle", () => {
    const timeout = () => ctx.ms(60_000);

    it(
      names.startRunning,
      async () => {
        const id = await ctx.start();
        expect(isSessionId(id), `session id ${JSON.stringify(id)} must satisfy isSessionId()`).toBe(
          true,
        );
        const info = await ctx.provider.getSession(id);
        expect(info.id).toBe(id);
        expect(info.state).toBe("running");
        expect(info.providerId).toBe(ctx.provider.id);
      },
      timeout(),
    );

    it(
      names.execRuns,
      async () => {
        const id = await ctx.start();
        const result = await ctx.provider.exec(id, ["echo", "hello", "world"]);
        expect(result).toMatchObject({
          exitCode: 0,
          stdout: "hello world\n",
          stderr: "",
          timedOut: false,
          truncated: false,
        });
        expect(typeof result.durationMs).toBe("number");
        expect(result.durationMs).toBeGreaterThanOrEqual(0);
      },
      timeout(),
    );

    it(
      names.sessionInfo,
      async () => {
        const labels = { [testLabelKey]: ctx.token("info"), "example.com/team": "agents" };
        const extra: Record<string, unknown> = { labels };
        if (ctx.enforced("env")) extra.env = { CADRE_PROBE: "info" };
        const before = Date.now();
        const id = await ctx.start(extra);
        const after = Date.now();

        const info = await ctx.provider.getSession(id);
        expect(info.state).toBe("running");
        expect(info.labels).toMatchObject({ ...labels, ...ctx.runLabels });
        expect(info.policy.labels ?? {}).toMatchObject(labels);
        if (extra.env) expect(info.envNames).toContain("CADRE_PROBE");
        expect(info.policy, "listings carry env names, never values").not.toHaveProperty("env");
        if (ctx.options.image !== undefined) expect(info.policy.image).toBe(ctx.options.image);
        const created = Date.parse(info.createdAt);
        expect(Number.isNaN(created), `createdAt ${info.createdAt} is ISO 8601`).toBe(false);
        // A sanity window for clocks, not a timing assertion.
        expect(created).toBeGreaterThanOrEqual(before - 60_000);
        expect(created).toBeLessThanOrEqual(after + 60_000);
        expect(typeof info.owner).toBe("string");
      },
      timeout(),
    );

    it(
      names.stopStops,
      async () => {
        const id = await ctx.start();
        await ctx.provider.stopSession(id);
        const info = await ctx.provider.getSession(id);
        expect(info.state).toBe("stopped");
        await expectErrorCode(ctx.provider.exec(id, ["echo", "late"]), "SESSION_NOT_RUNNING");
      },
      timeout(),
    );

    it(
      names.stopTwice,
      async () => {
        const id = await ctx.start();
        await ctx.provider.stopSession(id);
        await ctx.provider.stopSession(id);
        expect((await ctx.provider.getSession(id)).state).toBe("stopped");
      },
      timeout(),
    );

    it(
      names.stopUnknown,
      async () => {
        await expect(ctx.provider.stopSession(unknownSessionId(ctx))).resolves.toBeUndefined();
      },
      timeout(),
    );

    it(
      names.destroyRunning,
      async () => {
        const id = await ctx.start();
        await ctx.destroy(id);
        await expectEnded(ctx, id, { kind: "destroyed", by: "owner" });
      },
      timeout(),
    );

    it(
      names.destroyStopped,
      async () => {
        const id = await ctx.start();
        await ctx.provider.stopSession(id);
        await ctx.destroy(id);
        // The first end is the one kept: it stopped, then it was removed.
        await expectEnded(ctx, id, { kind: "stopped", by: "owner" });
      },
      timeout(),
    );

    it(
      names.destroyTwice,
      async () => {
        const id = await ctx.start();
        await ctx.destroy(id);
        await ctx.provider.destroySession(id);
        await expectEnded(ctx, id, { kind: "destroyed", by: "owner" });
      },
      timeout(),
    );

    it(
      names.destroyUnknown,
      async () => {
        await expect(ctx.provider.destroySession(unknownSessionId(ctx))).resolves.toBeUndefined();
      },
      timeout(),
    );

    it(
      names.execAfterDestroy,
      async () => {
        const id = await ctx.start();
        await ctx.destroy(id);
        await expectErrorCode(ctx.provider.exec(id, ["echo", "late"]), "SESSION_NOT_FOUND");
      },
      timeout(),
    );

    it(
      names.listReportsState,
      async () => {
        const labels = { [testLabelKey]: ctx.token("list") };
        const [a, b] = await Promise.all([ctx.start({ labels }), ctx.start({ labels })]);
        await ctx.provider.stopSession(b);
        const listed = await ctx.provider.listSessions({ labels });
        const states = Object.fromEntries(listed.map((s) => [s.id, s.state]));
        expect(states).toEqual({ [a]: "running", [b]: "stopped" });
        for (const info of listed) {
          expect(info.providerId).toBe(ctx.provider.id);
          expect(info.labels).toMatchObject(labels);
          expect(Number.isNaN(Date.parse(info.createdAt))).toBe(false);
        }
        await ctx.destroy(a);
        expect((await ctx.provider.listSessions({ labels })).map((s) => s.id)).toEqual([b]);
      },
      timeout(),
    );

    it(
      names.listFilters,
      async () => {
        const group = ctx.token("filter");
        const [a, b] = await Promise.all([
          ctx.start({ labels: { [testLabelKey]: group, "example.com/role": "a" } }),
          ctx.start({ labels: { [testLabelKey]: group, "example.com/role": "b" } }),
        ]);
        const ids = async (labels: Record<string, string>) =>
          (await ctx.provider.listSessions({ labels })).map((s) => s.id).sort();
        expect(await ids({ [testLabelKey]: group })).toEqual([a, b].sort());
        expect(await ids({ [testLabelKey]: group, "example.com/role": "a" })).toEqual([a]);
        expect(await ids({ [testLabelKey]: group, "example.com/role": "c" })).toEqual([]);
        const all = (await ctx.provider.listSessions()).map((s) => s.id);
        expect(all).toEqual(expect.arrayContaining([a, b]));
      },
      timeout(),
    );

    it(
      names.listFromBackend,
      async () => {
        const labels = { [testLabelKey]: ctx.token("backend") };
        const id = await ctx.start({ labels });
        const second = await ctx.options.createProvider();
        try {
          const listed = await second.listSessions({ labels });
          expect(listed.map((s) => s.id)).toEqual([id]);
          expect((await second.getSession(id)).state).toBe("running");
        } finally {
          await second.close?.();
        }
      },
      timeout(),
    );
  });
}
