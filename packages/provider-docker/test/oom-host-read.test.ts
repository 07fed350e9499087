import { describe, expect, it } from "vitest";
import { dockerTestsUnavailable } from "./docker-test-env.js";
import { useDockerSessions } from "./session-tracker.js";

const unavailable = await dockerTestsUnavailable("runc");

describe.skipIf(unavailable !== undefined && process.env.CI !== "true")(
  `OOM counter read from the host's cgroup files (runc)${unavailable ? ` - skipped: ${unavailable}` : ""}`,
  () => {
    const sessions = useDockerSessions("runc");

    // Regression: the counter was read with the session's own `cat`, which the tenant controls.
    it("a tenant's fake `cat` cannot make a kill -9 look like a memory kill, nor hide a real one", async () => {
      const id = await sessions.start({ memory: 32 * 1024 * 1024 });
      await sessions.provider.exec(id, [
        "sh",
        "-c",
        "rm /bin/cat && printf '#!/bin/sh\\necho oom_kill 99\\n' > /bin/cat && chmod 755 /bin/cat",
      ]);
      const fake = await sessions.provider.exec(id, [
        "cat",
        "/sys/fs/cgroup/memory/memory.oom_control",
      ]);
      expect(fake.stdout, "the tenant's cat lies").toBe("oom_kill 99\n");
      const killedByHand = await sessions.provider.exec(id, ["sh", "-c", "kill -9 $$"]);
      expect(killedByHand.exitCode).toBe(137);
      expect(killedByHand.limitExceeded).toBeUndefined();
      const hog = await sessions.provider.exec(id, [
        "dd",
        "if=/dev/zero",
        "of=/dev/null",
        "bs=128M",
        "count=1",
      ]);
      expect(hog).toMatchObject({ exitCode: 137, limitExceeded: "memory" });
    });
  },
);
