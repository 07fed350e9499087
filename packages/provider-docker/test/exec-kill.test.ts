import { describe, expect, it } from "vitest";
import { dockerUnavailableReason } from "./docker-test-env.js";
import { useDockerSessions } from "./session-tracker.js";

const marker = (name: string) => `${name}-${Math.random().toString(16).slice(2)}`;

/** Every process's argv in the session, as text; the listing's own argv holds no marker. */
async function processList(sessions: ReturnType<typeof useDockerSessions>, id: string) {
  const { stdout } = await sessions.provider.exec(id, [
    "sh",
    "-c",
    "cat /proc/[0-9]*/cmdline 2>/dev/null; true",
  ]);
  return stdout.replaceAll("\0", " ");
}

for (const runtime of ["runc", "runsc"] as const) {
  const unavailable = await dockerUnavailableReason(runtime);
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
        const result = await sessions.provider.exec(id, ["sh", "-c", script], { timeoutMs: 1500 });
        expect(result).toMatchObject({
          timedOut: true,
          exitCode: 137,
          signal: "SIGKILL",
          stdout: "started\n",
        });
        expect(await processList(sessions, id)).not.toContain(token);
      });

      it("kills only the exec it was asked to: a parallel exec of the same session finishes", async () => {
        const id = await sessions.start();
        const survivor = sessions.provider.exec(id, ["sh", "-c", "sleep 2; echo survived"]);
        const killed = await sessions.provider.exec(id, ["sleep", "300"], { timeoutMs: 500 });
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

const runcUnavailable = await dockerUnavailableReason("runc");
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
