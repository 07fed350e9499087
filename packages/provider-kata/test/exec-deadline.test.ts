import { type ExecResult, execKillGraceMs } from "@cadre/agent-runtime-contract";
import { afterAll, expect, it } from "vitest";
import { sessionKillMethod } from "../src/exec/kill-tree.js";
import { KataProvider } from "../src/index.js";
import { describeWithContainerd } from "./support/available.js";
import { findBackendLeftovers, variantOptions } from "./support/containerd-env.js";

const runLabel = { "cadre.test/kata-exec-deadline": String(process.pid) };
const timeoutMs = 2000;

describeWithContainerd(
  "a timed-out exec settles by its deadline plus the grace (containerd)",
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
      expect(result.kill).toBeDefined();
      return result;
    }

    /** Processes of the session other than its PID 1, its sleep, and this ps. */
    async function leftovers(id: string): Promise<string[]> {
      const ps = await provider.exec(id, ["ps", "-o", "pid,ppid,args"]);
      return ps.stdout
        .split("\n")
        .slice(1)
        .filter((line) => /\S/.test(line))
        .filter((line) => !/^\s*1\s/.test(line) && !/^\s*\d+\s+1\s+sleep 3600$/.test(line))
        .filter((line) => !line.includes("ps -o pid,ppid,args"));
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
    ] as const) {
      it(`${title}: settles, and the kill report says whether anything survived`, async () => {
        const id = await provider.startSession({ labels: runLabel });
        try {
          const result = await timedExec(id, [...argv]);
          const left = await leftovers(id);
          // Honest either way: complete only when nothing of the command is left.
          expect(result.kill?.complete, `left: ${left.join("; ")}`).toBe(left.length === 0);
          expect((await provider.getSession(id)).state).toBe("running");
        } finally {
          await provider.destroySession(id);
        }
      });
    }

    it("a tree that keeps its tag is killed whole and reported complete", async () => {
      const id = await provider.startSession({ labels: runLabel });
      try {
        const result = await timedExec(id, ["sh", "-c", "sleep 600 & sleep 601 & wait"]);
        expect(result.kill?.complete).toBe(true);
        expect(await leftovers(id)).toEqual([]);
      } finally {
        await provider.destroySession(id);
      }
    });

    it("a killer the tenant made hang is cut off; every process of the session is then killed", async () => {
      const id = await provider.startSession({ labels: runLabel });
      try {
        // The tree killer runs /bin/sh inside the sandbox: make it a script that never ends.
        const setup = await provider.exec(id, [
          "/bin/busybox",
          "sh",
          "-c",
          "rm /bin/sh && printf '#!/bin/busybox ash\\nexec /bin/busybox sleep 1000\\n' > /bin/sh && chmod +x /bin/sh",
        ]);
        expect(setup.exitCode, setup.stderr).toBe(0);
        const result = await timedExec(id, ["/bin/busybox", "sleep", "600"]);
        expect(result.kill).toEqual({ complete: true, method: sessionKillMethod });
        expect((await provider.getSession(id)).state).toBe("failed");
      } finally {
        await provider.destroySession(id);
      }
    });

    it("a killer that cannot even start (no /bin/sh) ends in the same fallback, without unhandled rejections", async () => {
      const id = await provider.startSession({ labels: runLabel });
      try {
        const setup = await provider.exec(id, ["/bin/busybox", "rm", "/bin/sh"]);
        expect(setup.exitCode, setup.stderr).toBe(0);
        const result = await timedExec(id, ["/bin/busybox", "sleep", "600"]);
        expect(result.kill).toEqual({ complete: true, method: sessionKillMethod });
        expect(unhandled).toEqual([]);
      } finally {
        await provider.destroySession(id);
      }
    });
  },
);
