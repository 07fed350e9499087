import { agentMountPath } from "@cadre/agent-runtime-sandbox-agent";
import { describe, expect, it } from "vitest";
import { createDockerProvider } from "../src/index.js";
import { docker, dockerTestsUnavailable } from "./docker-test-env.js";
import { useDockerSessions } from "./session-tracker.js";

for (const runtime of ["runc", "runsc"] as const) {
  const unavailable = await dockerTestsUnavailable(runtime);
  describe.skipIf(unavailable !== undefined && process.env.CI !== "true")(
    `the session agent, reached from another process (${runtime})`,
    () => {
      const sessions = useDockerSessions(runtime);

      it("serves a second provider instance while the first goes on, and after the first closed", async () => {
        const id = await sessions.start();
        const second = createDockerProvider({ runtime });
        try {
          // Joined through an exec of `cadre-agent connect`: the first keeps the container's stdio.
          const [a, b] = await Promise.all([
            sessions.provider.exec(id, ["sh", "-c", "echo first"]),
            second.exec(id, ["sh", "-c", "echo second; id -u"]),
          ]);
          expect([a.stdout, b.stdout]).toEqual(["first\n", "second\n0\n"]);
          // A deadline from the second host holds as from the first.
          const timed = await second.exec(id, ["sh", "-c", "setsid sleep 600 & sleep 600"], {
            timeoutMs: 1_000,
          });
          expect([timed.timedOut, timed.kill?.complete]).toEqual([true, true]);
          const third = createDockerProvider({ runtime });
          try {
            await sessions.provider.close();
            expect((await third.exec(id, ["echo", "third"])).stdout).toBe("third\n");
          } finally {
            await third.close();
          }
        } finally {
          await second.close();
        }
      });

      it("greets no command that runs the agent's connect mode itself", async () => {
        const id = await sessions.start();
        const own = createDockerProvider({ runtime });
        try {
          // The command relays a HELLO_AGAIN (9 bytes: length 0, type 5, channel 0) and prints
          // what comes back: the agent closes on a peer of the command's uid, so nothing.
          const r = await own.exec(id, [
            "sh",
            "-c",
            `printf '\\000\\000\\000\\000\\005\\000\\000\\000\\000' | ${agentMountPath} connect | wc -c`,
          ]);
          expect(r.stdout.trim()).toBe("0");
          // And it cannot take the agent's uid to try again: no capability is left to it.
          const caps = await own.exec(id, ["grep", "CapEff", "/proc/self/status"]);
          expect(caps.stdout).toMatch(/CapEff:\s+0+\n/);
          expect((await own.exec(id, ["echo", "still"])).stdout).toBe("still\n");
          const info = await docker.getContainer(id).inspect();
          expect(info.State.Running).toBe(true);
        } finally {
          await own.close();
        }
      });
    },
  );
}
