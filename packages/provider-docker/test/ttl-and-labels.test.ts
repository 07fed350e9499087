import { randomBytes } from "node:crypto";
import { buildSessionLabels, newSessionId } from "@cadre/agent-runtime-provider-utils";
import { afterAll, describe, expect, it } from "vitest";
import { createDockerProvider } from "../src/index.js";
import { LabelCodec } from "../src/labels.js";
import { docker, dockerTestsUnavailable, testImage } from "./docker-test-env.js";
import { useDockerSessions } from "./session-tracker.js";

const unavailable = await dockerTestsUnavailable("runc");
const day = 24 * 60 * 60 * 1000;

describe.skipIf(unavailable !== undefined && process.env.CI !== "true")(
  `TTL and labels (runc)${unavailable ? ` - skipped: ${unavailable}` : ""}`,
  () => {
    const sessions = useDockerSessions("runc");

    // Regression: the provider's own setTimeout clamped a TTL beyond 2^31-1 ms (~24.8 days) to
    // 1 ms, so a 25-day session was destroyed at once.
    it("a session with a 25-day TTL outlives a command of a few seconds", async () => {
      const id = await sessions.start({ ttlMs: 25 * day });
      const result = await sessions.provider.exec(id, ["sh", "-c", "sleep 2; echo still here"]);
      expect(result.stdout).toBe("still here\n");
      const info = await sessions.provider.getSession(id);
      expect(info.state).toBe("running");
      expect(Date.parse(info.expiresAt ?? "") - Date.parse(info.createdAt)).toBe(25 * day);
    });

    describe("a container labelled by hand with a created-at that is not a date", () => {
      // A prefix of this test's own: reap() never sees another test's sessions.
      const labelPrefix = `cadre.test-${randomBytes(4).toString("hex")}/`;
      const provider = createDockerProvider({ labelPrefix });
      afterAll(() => provider.close());

      it("is listed with the epoch as its creation, and reap() by age removes it", async () => {
        const id = newSessionId();
        const labels = new LabelCodec(labelPrefix).toDocker(
          buildSessionLabels({ sessionId: id, providerId: "docker", policy: {} }),
        );
        labels[`${labelPrefix}created-at`] = "last tuesday";
        const container = await docker.createContainer({
          name: id,
          Image: testImage,
          Cmd: ["sleep", "600"],
          Labels: { ...labels, ...sessions.runLabels },
          HostConfig: { AutoRemove: true, NetworkMode: "none" },
        });
        try {
          await container.start();
          const listed = await provider.listSessions();
          expect(listed.map((s) => [s.id, s.createdAt])).toEqual([[id, new Date(0).toISOString()]]);
          expect((await provider.getSession(id)).createdAt).toBe(new Date(0).toISOString());
          expect(await provider.reap(), "its owner, this process, is alive").toEqual([]);
          expect(await provider.reap({ olderThanMs: day })).toEqual([id]);
          await expect(container.inspect()).rejects.toMatchObject({ statusCode: 404 });
        } finally {
          await container.remove({ force: true }).catch(() => {});
        }
      });
    });
  },
);
