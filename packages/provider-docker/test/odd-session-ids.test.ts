import { SessionNotFoundError } from "@cadre/agent-runtime-contract";
import { expect, it } from "vitest";
import { createDockerProvider } from "../src/index.js";

// Regression (found by fuzzing): ids that are not strings made the error's constructor throw a
// TypeError (BigInt in JSON, an object without a prototype in String()).
const oddIds: unknown[] = [{ "": [[0n]] }, Object.create(null), 12n, Symbol("id"), [1, [2]]];

it("getSession and exec give SESSION_NOT_FOUND for ids that are not strings, without the daemon", async () => {
  const provider = createDockerProvider({ socketPath: "/nonexistent/docker.sock" });
  for (const id of oddIds) {
    await expect(provider.getSession(id as string)).rejects.toSatisfy((e: unknown) =>
      SessionNotFoundError.isInstance(e),
    );
    await expect(provider.exec(id as string, ["true"])).rejects.toSatisfy((e: unknown) =>
      SessionNotFoundError.isInstance(e),
    );
  }
  await provider.close();
});
