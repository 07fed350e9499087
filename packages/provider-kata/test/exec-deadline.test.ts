import { type ExecResult, execKillGraceMs } from "@cadre/agent-runtime-contract";
import { agentKillMethod } from "@cadre/agent-runtime-provider-utils";
import { agentMountPath } from "@cadre/agent-runtime-sandbox-agent";
import { afterAll, expect, it } from "vitest";
import { KataProvider } from "../src/index.js";
import { describeWithContainerd } from "./support/available.js";
import { findBackendLeftovers, reapEndRecords, variantOptions } from "./support/containerd-env.js";

const runLabel = { "cadre.test/kata-exec-deadline": String(process.pid) };
const timeoutMs = 2000;

describeWithContainerd(
  "a timed-out exec is killed whole by the session's agent (containerd)",
  () => {
    const provider = new KataProvider(variantOptions("kata-stand-in"));
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on("unhandledRejection", onUnhandled);

    afterAll(async () => {
      process.off("unhandledRejection", onUnhandled);
      for (const s of await provider.listSessions({ labels: runLabel }))
        await provider.destroySession(s.id);
      expect(await findBackendLeftovers(runLabel)).toEqual([]);
      expect(await reapEndRecords(runLabel), "end records").toEqual([]);
      await provider.close();
    });

    async function timedExec(id: string, argv: string[]): Promise<ExecResult> {
      const started = performance.now();
      const result = await provider.exec(id, argv, { timeoutMs });
      const elapsed = performance.now() - started;
      // The grace is the provider's bound; the room past it is for a loaded host.
      expect(elapsed, `${argv.join(" ")} settled after ${Math.round(elapsed)} ms`).toBeLessThan(
        timeoutMs + execKillGraceMs + 10_000,
      );
      expect(result).toMatchObject({ timedOut: true, exitCode: 137 });
      return result;
    }

    /** Processes of the session other than the agent (PID 1 and supervisors) and this ps. */
    async function leftovers(id: string): Promise<string[]> {
      const ps = await provider.exec(id, ["ps", "-o", "pid,ppid,args"]);
      return ps.stdout
        .split("\n")
        .slice(1)
        .filter((line) => /\S/.test(line))
        .filter((line) => !/^\s*\d+\s+\d+\s+(\{ps\} )?\S*ps -o pid,ppid,args$/.test(line))
        .filter((line) => !line.includes(`${agentMountPath} `));
    }

    for (const [title, argv] of [
      [
        "a child that clears its environment and holds the output",
        ["sh", "-c", "unset CADRE_EXEC_ID; env -i /bin/sleep 600 & wait"],
      ],
      [
        "a double fork into a new session with a cleared environment",
        ["sh", "-c", "setsid sh -c 'env -i /bin/sleep 601 &'; sleep 600"],
      ],
      ["a tree that stays together", ["sh", "-c", "sleep 600 & sleep 601 & wait"]],
    ] as const) {
      it(`${title}: settles, is reported killed complete, and nothing of it is left`, async () => {
        const id = await provider.startSession({ labels: runLabel });
        try {
          const result = await timedExec(id, [...argv]);
          expect(result.kill).toEqual({ complete: true, method: agentKillMethod });
          expect(await leftovers(id)).toEqual([]);
          expect((await provider.getSession(id)).state).toBe("running");
        } finally {
          await provider.destroySession(id);
        }
      });
    }

    it("a tenant that replaces /bin/sh changes nothing: the agent runs no image binary to kill", async () => {
      const id = await provider.startSession({ labels: runLabel });
      try {
        const setup = await provider.exec(id, [
          "/bin/busybox",
          "sh",
          "-c",
          "rm /bin/sh && printf '#!/bin/busybox ash\\nexec /bin/busybox sleep 1000\\n' > /bin/sh && chmod +x /bin/sh",
        ]);
        expect(setup.exitCode, setup.stderr).toBe(0);
        const result = await timedExec(id, ["/bin/busybox", "sleep", "600"]);
        expect(result.kill).toEqual({ complete: true, method: agentKillMethod });
        expect((await provider.getSession(id)).state).toBe("running");
        expect(await leftovers(id)).toEqual([]);
        expect(unhandled).toEqual([]);
      } finally {
        await provider.destroySession(id);
      }
    });

    it("an abort kills the command's tree as a deadline does, and exec rejects with the caller's reason", async () => {
      const id = await provider.startSession({ labels: runLabel });
      try {
        const controller = new AbortController();
        const reason = new Error("caller gave up");
        const running = provider.exec(id, ["sh", "-c", "sleep 600 & echo started; wait"], {
          signal: controller.signal,
          onStdout: () => controller.abort(reason),
        });
        await expect(running).rejects.toBe(reason);
        // exec waits for the agent's EXIT, which comes once everything below the supervisor is
        // gone: the next command sees none of it.
        expect(await leftovers(id)).toEqual([]);
      } finally {
        await provider.destroySession(id);
      }
    });
  },
);
