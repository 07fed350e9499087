import { CapabilityMismatchError } from "@cadre/agent-runtime-contract";
import { describe, expect, it } from "vitest";
import { sessionDefaults } from "../src/container-spec.js";
import { dockerTestsUnavailable } from "./docker-test-env.js";
import { useDockerSessions } from "./session-tracker.js";

/** The limits a session sees from inside, one per line: nofile soft, nofile hard, /tmp KiB, pids.max. */
const readLimits = [
  "sh",
  "-c",
  [
    "ulimit -n",
    "ulimit -Hn",
    "df -k /tmp | tail -1 | awk '{print $2}'",
    "cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max 2>/dev/null || echo none",
  ].join("; "),
];

for (const runtime of ["runc", "runsc"] as const) {
  const unavailable = await dockerTestsUnavailable(runtime);
  describe.skipIf(unavailable !== undefined && process.env.CI !== "true")(
    `defaults of a session whose policy is silent (${runtime})${unavailable ? ` - skipped: ${unavailable}` : ""}`,
    () => {
      const sessions = useDockerSessions(runtime);

      it("caps open files, and under runc /tmp and the pids, read back from inside", async () => {
        const id = await sessions.start();
        const result = await sessions.provider.exec(id, readLimits);
        const [soft, hard, tmpKiB, pidsMax] = result.stdout.trim().split("\n");
        expect(Number(soft)).toBe(sessionDefaults.nofile);
        expect(Number(hard)).toBe(sessionDefaults.nofile);
        // gVisor shows no pids cgroup (the field is not offered there), and a writable runsc
        // session keeps gVisor's own /tmp.
        if (runtime === "runc") {
          expect(Number(tmpKiB) * 1024).toBe(sessionDefaults.tmpBytes);
          expect(Number(pidsMax)).toBe(sessionDefaults.pids);
        }
      });

      it("bounds /tmp with a read-only root too", async () => {
        const id = await sessions.start({ readOnlyRootfs: true });
        const result = await sessions.provider.exec(id, readLimits);
        expect(Number(result.stdout.trim().split("\n")[2]) * 1024).toBe(sessionDefaults.tmpBytes);
        expect((await sessions.provider.exec(id, ["touch", "/tmp/x"])).exitCode).toBe(0);
      });

      it("shows the defaults in the capability report", async () => {
        const report = await sessions.provider.capabilities();
        expect(report.policy.pids.mechanism).toContain(`capped at ${sessionDefaults.nofile}`);
        expect(report.policy.readOnlyRootfs.mechanism).toContain("512 MiB tmpfs");
        if (runtime === "runc") {
          expect(report.policy.pids.mechanism).toContain(
            `${sessionDefaults.pids} when the policy is silent`,
          );
          expect(report.policy.pids.limits?.max).toBe(sessionDefaults.maxPids);
        }
      });

      if (runtime === "runc") {
        it("lets a policy raise pids up to the reported maximum, and no further", async () => {
          const id = await sessions.start({ pids: 2048 });
          const [, , , pidsMax] = (await sessions.provider.exec(id, readLimits)).stdout
            .trim()
            .split("\n");
          expect(Number(pidsMax)).toBe(2048);
          await expect(sessions.start({ pids: sessionDefaults.maxPids + 1 })).rejects.toSatisfy(
            (e: unknown) => CapabilityMismatchError.isInstance(e),
          );
        });
      }
    },
  );
}
