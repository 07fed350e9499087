import { execKillGraceMs } from "@cadre/agent-runtime-contract";
import { describe, expect, it } from "vitest";
import { docker, dockerTestsUnavailable } from "./docker-test-env.js";
import { useDockerSessions } from "./session-tracker.js";

const marker = (name: string) => `${name}-${Math.random().toString(16).slice(2)}`;

/** Every process's argv in the session, as text; the listing's own argv holds no marker. */
async function processList(sessions: ReturnType<typeof useDockerSessions>, id: string) {
  // busybox's own sh: a test may have replaced /bin/sh.
  const { stdout } = await sessions.provider.exec(id, [
    "/bin/busybox",
    "sh",
    "-c",
    "cat /proc/[0-9]*/cmdline 2>/dev/null; true",
  ]);
  return stdout.replaceAll("\0", " ");
}

/**
 * Every process's argv in the session, read from outside through the daemon (`docker top`, which
 * runs ps on the host) under runc; under runsc, whose `docker top` lists the wrong processes, by a
 * fresh exec.
 */
async function processesSeen(
  sessions: ReturnType<typeof useDockerSessions>,
  runtime: "runc" | "runsc",
  id: string,
): Promise<string> {
  if (runtime === "runsc") return processList(sessions, id);
  const top = (await docker.getContainer(id).top({ ps_args: "-eo pid,args" })) as {
    Processes?: string[][];
  };
  return (top.Processes ?? []).map((p) => p.join(" ")).join("\n");
}

/** Runs an exec that must time out, and checks that it settled within the contract's bound. */
async function timedOutExec(
  sessions: ReturnType<typeof useDockerSessions>,
  id: string,
  argv: string[],
  timeoutMs = 2000,
) {
  const began = performance.now();
  const result = await sessions.provider.exec(id, argv, { timeoutMs });
  const elapsed = performance.now() - began;
  expect(result.timedOut).toBe(true);
  // The bound catches an exec that hangs on an escaped process; the room past the grace is for a
  // loaded test host, not a claim about speed (pnpm bench measures that).
  expect(elapsed).toBeLessThanOrEqual(timeoutMs + execKillGraceMs + 10_000);
  return result;
}

for (const runtime of ["runc", "runsc"] as const) {
  const unavailable = await dockerTestsUnavailable(runtime);
  describe.skipIf(unavailable !== undefined && process.env.CI !== "true")(
    `exec kill (${runtime})${unavailable ? ` - skipped: ${unavailable}` : ""}`,
    () => {
      const sessions = useDockerSessions(runtime);

      it("a timeout kills setsid'd, double-forked and signal-ignoring children too", async () => {
        const id = await sessions.start();
        const token = marker("tree");
        // Each child's argv carries the token: "sh -c '...' <token>".
        const script = [
          `setsid sh -c 'trap "" TERM HUP; sleep 300' ${token}-setsid &`,
          `(sh -c 'sleep 300' ${token}-orphan &) `,
          `sh -c 'trap "" TERM INT HUP; sleep 300' ${token}-child &`,
          "echo started; wait",
        ].join("\n");
        // Room for the three children to start on a loaded host before the deadline.
        const result = await sessions.provider.exec(id, ["sh", "-c", script], { timeoutMs: 8000 });
        expect(result).toMatchObject({
          timedOut: true,
          exitCode: 137,
          signal: "SIGKILL",
          stdout: "started\n",
        });
        expect(await processList(sessions, id)).not.toContain(token);
      });

      it("a command that drops its tag (unset, env -i) does not outlive its deadline", async () => {
        const id = await sessions.start();
        const result = await timedOutExec(sessions, id, [
          "sh",
          "-c",
          "unset CADRE_EXEC_ID; env -i /bin/sleep 600 & wait",
        ]);
        expect(result.kill).toMatchObject({ complete: true });
        expect(result.kill?.method).toContain("supervisor of the command (a subreaper)");
        expect(await processesSeen(sessions, runtime, id)).not.toContain("sleep 600");
      });

      it("a setsid'd double fork with an empty environment and closed output is killed too", async () => {
        const id = await sessions.start();
        const token = marker("escapee");
        const escapee = `exec >/dev/null 2>&1 </dev/null; sleep 600; :`;
        const result = await timedOutExec(sessions, id, [
          "sh",
          "-c",
          `(setsid env -i sh -c '${escapee}' ${token} &); echo forked; sleep 600`,
        ]);
        expect(result).toMatchObject({ stdout: "forked\n", kill: { complete: true } });
        expect(await processesSeen(sessions, runtime, id)).not.toContain(token);
      });

      it("an orphan started well before the exec is not the exec's: it lives on", async () => {
        const id = await sessions.start();
        const daemon = marker("daemon");
        await sessions.provider.exec(id, [
          "sh",
          "-c",
          `(setsid sh -c 'sleep 600; :' ${daemon} >/dev/null 2>&1 </dev/null &)`,
        ]);
        // Orphans that started less than two seconds before an exec may be taken as its own
        // (the sandbox's clock has whole seconds); this one is older.
        await new Promise((resolve) => setTimeout(resolve, 2500));
        const escapee = marker("escapee");
        const result = await timedOutExec(sessions, id, [
          "sh",
          "-c",
          `(setsid sh -c 'sleep 600; :' ${escapee} >/dev/null 2>&1 </dev/null &); sleep 600`,
        ]);
        expect(result.kill).toMatchObject({ complete: true });
        const seen = await processesSeen(sessions, runtime, id);
        expect(seen).not.toContain(escapee);
        expect(seen).toContain(daemon);
      });

      it.each([
        ["hangs", "exec /bin/busybox sleep 600"],
        ["floods its output", "exec /bin/busybox yes cadre"],
      ])(
        "a /bin/sh replaced by the tenant that %s takes no part in the kill: clean, within the bound",
        async (_what, fakeShell) => {
          const id = await sessions.start();
          await sessions.provider.exec(id, [
            "sh",
            "-c",
            `rm /bin/sh && printf '#!/bin/busybox ash\\n%s\\n' '${fakeShell}' > /bin/sh && chmod 755 /bin/sh`,
          ]);
          const result = await timedOutExec(sessions, id, ["sleep", "600"]);
          // The agent's supervisor kills the tree itself: no tenant binary is run for it.
          expect(result.kill).toMatchObject({ complete: true });
          const after = await sessions.provider.exec(id, ["cat", "/proc/1/cmdline"]);
          expect(after.exitCode).toBe(0);
          expect(await processesSeen(sessions, runtime, id)).not.toContain("sleep 600");
        },
      );

      it("kills only the exec it was asked to: a parallel exec of the same session finishes", async () => {
        const id = await sessions.start();
        // The survivor outlasts the kill by far, so the kill happens while it runs.
        const survivor = sessions.provider.exec(id, ["sh", "-c", "sleep 8; echo survived"]);
        const killed = await sessions.provider.exec(id, ["sleep", "300"], { timeoutMs: 1000 });
        expect(killed.timedOut).toBe(true);
        expect(await survivor).toMatchObject({
          exitCode: 0,
          stdout: "survived\n",
          timedOut: false,
        });
      });

      it("an abort before the command ends rejects with the reason and leaves nothing", async () => {
        const id = await sessions.start();
        const token = marker("abort");
        const controller = new AbortController();
        const reason = new Error("caller gave up");
        const running = sessions.provider.exec(
          id,
          ["sh", "-c", `sh -c 'sleep 300' ${token} & echo up; wait`],
          {
            signal: controller.signal,
            onStdout: () => controller.abort(reason),
          },
        );
        await expect(running).rejects.toBe(reason);
        expect(await processList(sessions, id)).not.toContain(token);
      });
    },
  );
}

const runcUnavailable = await dockerTestsUnavailable("runc");
describe.skipIf(runcUnavailable !== undefined && process.env.CI !== "true")(
  "exec kill under pressure (runc)",
  () => {
    const sessions = useDockerSessions("runc");

    it("a fork bomb that holds every pid is ended at its timeout and the session works again", async () => {
      const id = await sessions.start({ pids: 24 });
      // Keeps every pid taken: each sleeper that dies is replaced at once.
      const bomb = "while :; do sleep 300 2>/dev/null & done";
      const result = await sessions.provider.exec(id, ["sh", "-c", bomb], {
        timeoutMs: 2000,
        maxOutputBytes: 4096,
      });
      expect(result.timedOut).toBe(true);
      const after = await sessions.provider.exec(id, [
        "sh",
        "-c",
        "echo alive; ls /proc | grep -c '^[0-9]'",
      ]);
      expect(after.stdout.startsWith("alive\n")).toBe(true);
      // init, the keep-alive sleep, this sh and its ls and grep: nothing of the bomb.
      expect(Number(after.stdout.split("\n")[1])).toBeLessThanOrEqual(5);
      expect((await sessions.provider.getSession(id)).state).toBe("running");
    });

    it("reports a command killed by the memory limit with 137 and limitExceeded", async () => {
      const id = await sessions.start({ memory: 32 * 1024 * 1024 });
      const result = await sessions.provider.exec(id, [
        "dd",
        "if=/dev/zero",
        "of=/dev/null",
        "bs=128M",
        "count=1",
      ]);
      expect(result).toMatchObject({
        exitCode: 137,
        signal: "SIGKILL",
        limitExceeded: "memory",
        timedOut: false,
      });
      const killedByHand = await sessions.provider.exec(id, ["sh", "-c", "kill -9 $$"]);
      expect(killedByHand.exitCode).toBe(137);
      expect(
        killedByHand.limitExceeded,
        "a SIGKILL that was not the limit is not reported as one",
      ).toBeUndefined();
    });
  },
);
