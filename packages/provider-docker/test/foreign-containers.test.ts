import { randomBytes } from "node:crypto";
import { SessionNotFoundError } from "@cadre/agent-runtime-contract";
import { afterAll, describe, expect, it } from "vitest";
import { createDockerProvider } from "../src/index.js";
import {
  docker,
  dockerTestsUnavailable,
  plantForeignObjects,
  testImage,
} from "./docker-test-env.js";
import { useDockerSessions } from "./session-tracker.js";

const notFound = (e: unknown) => SessionNotFoundError.isInstance(e);
const unavailable = await dockerTestsUnavailable("runc");

describe.skipIf(unavailable !== undefined && process.env.CI !== "true")(
  `containers that are not this instance's sessions (runc)${unavailable ? ` - skipped: ${unavailable}` : ""}`,
  () => {
    // A label prefix of this file's own: reap() here never sees another test's sessions.
    const labelPrefix = `cadre.test-${randomBytes(4).toString("hex")}/`;
    const provider = createDockerProvider({ labelPrefix });
    afterAll(() => provider.close());

    it("exec, get, stop, destroy, list and reap leave them alone", async () => {
      const foreign = await plantForeignObjects(labelPrefix);
      try {
        for (const object of foreign) {
          const what = `${object.id}: ${object.description}`;
          await expect(provider.exec(object.id, ["hostname"]), what).rejects.toSatisfy(notFound);
          await expect(provider.getSession(object.id), what).rejects.toSatisfy(notFound);
          await provider.stopSession(object.id);
          await provider.destroySession(object.id);
        }
        const listed = (await provider.listSessions()).map((s) => s.id);
        for (const id of foreign.map((o) => o.id)) expect(listed).not.toContain(id);
        expect(await provider.reap({ olderThanMs: 1 })).toEqual([]);
        for (const object of foreign) {
          expect(await object.alive(), `${object.id}: ${object.description}`).toBe(true);
        }
      } finally {
        await Promise.all(foreign.map((o) => o.remove()));
      }
    });
  },
);

describe.skipIf(unavailable !== undefined && process.env.CI !== "true")(
  `a session's container replaced under its name (runc)${unavailable ? ` - skipped: ${unavailable}` : ""}`,
  () => {
    const sessions = useDockerSessions("runc");

    /** Puts a running container without session labels under `name`, with hostname "foreign". */
    async function impostor(name: string) {
      const container = await docker.createContainer({
        name,
        Hostname: "foreign",
        Image: testImage,
        Cmd: ["sleep", "600"],
        Labels: { "cadre.test/foreign-object": "1" },
        HostConfig: { AutoRemove: true, NetworkMode: "none" },
      });
      await container.start();
      return container;
    }

    it("exec keeps reaching the verified container; other calls and a fresh instance never reach the impostor", async () => {
      const id = await sessions.start();
      expect((await sessions.provider.exec(id, ["hostname"])).stdout).toBe(`${id}\n`);
      const original = docker.getContainer(id);
      const originalId = (await original.inspect()).Id;
      await original.rename({ name: `${id}-moved` });
      const foreign = await impostor(id);
      try {
        // The exec goes to the container verified before, by its id, not to the name.
        expect((await sessions.provider.exec(id, ["hostname"])).stdout).toBe(`${id}\n`);
        const fresh = createDockerProvider();
        await expect(fresh.exec(id, ["hostname"])).rejects.toSatisfy(notFound);
        await expect(fresh.getSession(id)).rejects.toSatisfy(notFound);
        await fresh.destroySession(id);
        await sessions.provider.stopSession(id);
        expect((await foreign.inspect()).State.Running).toBe(true);
      } finally {
        await foreign.remove({ force: true }).catch(() => {});
        await docker.getContainer(originalId).remove({ force: true });
      }
    });

    it("once the verified container is gone, exec is SESSION_NOT_FOUND and the impostor untouched", async () => {
      const id = await sessions.start();
      await sessions.provider.exec(id, ["true"]);
      await docker.getContainer(id).remove({ force: true });
      const foreign = await impostor(id);
      try {
        await expect(sessions.provider.exec(id, ["hostname"])).rejects.toSatisfy(notFound);
        // Looked up again: the name now holds a container without this provider's labels.
        await expect(sessions.provider.exec(id, ["hostname"])).rejects.toSatisfy(notFound);
        await sessions.provider.destroySession(id);
        expect((await foreign.inspect()).State.Running).toBe(true);
      } finally {
        await foreign.remove({ force: true }).catch(() => {});
      }
    });
  },
);
