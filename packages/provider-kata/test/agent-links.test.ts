import { agentUid } from "@cadre/agent-runtime-sandbox-agent";
import { afterAll, describe, expect, it } from "vitest";
import { KataProvider } from "../src/index.js";
import { describeWithContainerd } from "./support/available.js";
import {
  findBackendLeftovers,
  reapEndRecords,
  type Variant,
  variantOptions,
} from "./support/containerd-env.js";

const runLabel = { "cadre.test/kata-agent-links": String(process.pid) };
const SIGKILL = 9;

describeWithContainerd("hosts that reach a session's agent (containerd)", () => {
  const providers: KataProvider[] = [];
  const providerOf = (variant: Variant) => {
    const provider = new KataProvider(variantOptions(variant));
    providers.push(provider);
    return provider;
  };

  afterAll(async () => {
    const cleaner = new KataProvider(variantOptions("runc"));
    for (const s of await cleaner.listSessions({ labels: runLabel })) {
      await cleaner.destroySession(s.id);
    }
    await cleaner.close();
    for (const provider of providers) await provider.close();
    expect(await findBackendLeftovers(runLabel)).toEqual([]);
    expect(await reapEndRecords(runLabel), "end records").toEqual([]);
  });

  for (const variant of ["runc", "runsc"] as const) {
    describe(variant, () => {
      it("a second instance runs commands in a session the first started, while the first uses it and after it closed", async () => {
        const first = providerOf(variant);
        const id = await first.startSession({ labels: runLabel });
        expect(await first.exec(id, ["echo", "first"])).toMatchObject({
          exitCode: 0,
          stdout: "first\n",
        });

        const second = providerOf(variant);
        expect((await second.listSessions({ labels: runLabel })).map((s) => s.id)).toContain(id);
        // The first instance's command waits, inside the sandbox, for what the second's makes.
        const waiting = first.exec(
          id,
          ["sh", "-c", "until [ -e /tmp/go ]; do sleep 0.05; done; echo first saw it"],
          { timeoutMs: 60_000 },
        );
        const made = await second.exec(id, ["sh", "-c", "touch /tmp/go && echo second"]);
        expect(made).toMatchObject({ exitCode: 0, stdout: "second\n" });
        expect(await waiting).toMatchObject({
          exitCode: 0,
          stdout: "first saw it\n",
          timedOut: false,
        });

        // The second reaches the agent through `cadre-agent connect`, of the agent's own uid.
        const ps = await second.exec(id, ["ps", "-o", "user,args"]);
        const connects = ps.stdout.split("\n").filter((line) => / connect\b/.test(line));
        expect(connects.length, ps.stdout).toBeGreaterThanOrEqual(1);
        for (const line of connects) expect(line.trim().split(/\s+/)[0]).toBe(String(agentUid));

        await first.close();
        const after = await second.exec(id, ["sh", "-c", "echo after; cat"], { stdin: "in\n" });
        expect(after).toMatchObject({ exitCode: 0, stdout: "after\nin\n" });
        expect((await second.getSession(id)).state).toBe("running");

        // And a third, fresh instance, with the first gone.
        const third = providerOf(variant);
        expect(await third.exec(id, ["echo", "third"])).toMatchObject({
          exitCode: 0,
          stdout: "third\n",
        });
        await third.destroySession(id);
        await expect(second.exec(id, ["true"])).rejects.toMatchObject({
          code: "SESSION_NOT_FOUND",
        });
        expect(await findBackendLeftovers({ "cadre.agent-runtime/session-id": id })).toEqual([]);
      });
    });
  }

  it("an agent that dies under a command ends the session with SESSION_NOT_RUNNING, never a hang", async () => {
    const provider = providerOf("runc");
    const adapter = provider.containerd!;
    const id = await provider.startSession({ labels: runLabel });
    try {
      const running = provider.exec(id, ["sh", "-c", "echo started; sleep 600"], {
        onStdout: () => {
          // PID 1 killed from outside, as a crash or the OOM killer would.
          adapter.client.kill(id, SIGKILL).catch(() => {});
        },
      });
      await expect(running).rejects.toMatchObject({ code: "SESSION_NOT_RUNNING" });
      expect((await provider.getSession(id)).state).toBe("failed");
      await expect(provider.exec(id, ["true"])).rejects.toMatchObject({
        code: "SESSION_NOT_RUNNING",
      });
      // Another instance finds the same.
      const other = providerOf("runc");
      await expect(other.exec(id, ["true"])).rejects.toMatchObject({
        code: "SESSION_NOT_RUNNING",
      });
    } finally {
      await provider.destroySession(id);
    }
  });
});
