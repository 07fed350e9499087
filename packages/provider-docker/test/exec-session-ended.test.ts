import { SessionNotRunningError } from "@cadre/agent-runtime-contract";
import { describe, expect, it } from "vitest";
import { dockerTestsUnavailable } from "./docker-test-env.js";
import { useDockerSessions } from "./session-tracker.js";

// Regression: an exec whose container was stopped under it (stopSession from elsewhere, or the
// daemon shutting down) resolved with exit 137 as if the command had been killed on its own.
for (const runtime of ["runc", "runsc"] as const) {
  const unavailable = await dockerTestsUnavailable(runtime);
  describe.skipIf(unavailable !== undefined && process.env.CI !== "true")(
    `exec whose session stops under it (${runtime})${unavailable ? ` - skipped: ${unavailable}` : ""}`,
    () => {
      const sessions = useDockerSessions(runtime);

      it("rejects with SESSION_NOT_RUNNING instead of resolving with a kill", async () => {
        const id = await sessions.start();
        let running!: () => void;
        const started = new Promise<void>((resolve) => {
          running = resolve;
        });
        const inFlight = sessions.provider.exec(id, ["sh", "-c", "echo up; exec sleep 300"], {
          onStdout: () => running(),
        });
        inFlight.catch(() => {});
        await started;
        await sessions.provider.stopSession(id);
        const error = await inFlight.then(
          (result) => new Error(`resolved with ${JSON.stringify(result)}`),
          (e: unknown) => e,
        );
        expect(SessionNotRunningError.isInstance(error), String(error)).toBe(true);
      });

      it("still reports a command killed inside a running session as a result", async () => {
        const id = await sessions.start();
        const result = await sessions.provider.exec(id, ["sh", "-c", "kill -KILL $$"]);
        expect(result).toMatchObject({ exitCode: 137, signal: "SIGKILL" });
      });
    },
  );
}
